/**
 * Reading an archive file (compression chosen by its name) without loading a
 * codec it does not need: a `.tar.zst` is decompressed by the `zstd` program
 * when one is installed (`zstd_process.ts`), and only otherwise is
 * `compress.ts` (with `node:zlib` and the bzip2 decoder, which cost a cold
 * `poncho run` tens of milliseconds to load) imported, on first use.
 *
 * @module
 */

import { PonchoError } from "../errors.ts";
import { lazyImporter } from "../lazy.ts";
import { readTar, type TarHeader } from "./tar_reader.ts";
import { zstdProcess } from "./zstd_process.ts";
import { dropPrefetchedZstd, prefetchZstd, zstdFfi, zstdLibrary } from "./zstd_ffi.ts";
import { rawFrameContent, STORED_FRAME_MAX, storedFrameLength } from "./zstd_frame.ts";
import { BLOCK, checksumOk, decodeHeader } from "./tar_header.ts";
import { readAtSync } from "../fs/io.ts";

/**
 * The in-process codecs, imported only when needed: a literal `import()`
 * would have Deno read their whole graph (`node:zlib`, the bzip2 decoder)
 * whenever this module is loaded.
 */
const loadCompress = () =>
  lazyImporter(import.meta.url)<typeof import("./compress.ts")>("./compress.ts");

/** The first member of an archive with its body. */
export interface FirstMember {
  /** The member's header. */
  header: TarHeader;
  /** Its body. */
  data: Uint8Array;
}

/** Whether `path` names a `.tar.zst` that exists (a missing one is reported by `compress.ts`). */
function existingZst(path: string): boolean {
  if (!path.toLowerCase().endsWith(".tar.zst")) return false;
  try {
    return Deno.statSync(path).isFile;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
      return false;
    }
    throw err;
  }
}

/** Options of {@link openArchive}. */
export interface OpenArchiveOptions {
  /**
   * Let a `.tar.zst`'s decoded bytes come in buffers used in turn: a chunk
   * is valid only until the second chunk after it is pulled. For consumers
   * that copy whatever they keep longer, as the tar extractor does. Such a
   * stream is decoded by libzstd in this process (`zstd_ffi.ts`) when it can
   * be, else by the `zstd` program.
   */
  recycle?: boolean;
}

/**
 * Streams an archive file decompressed: a `.tar.zst` by libzstd (with
 * `recycle`) or by the `zstd` program when it is installed, else by
 * `openDecompressed` (`compress.ts`).
 */
export async function* openArchive(
  path: string,
  options: OpenArchiveOptions = {},
): AsyncGenerator<Uint8Array> {
  const zst = existingZst(path);
  const lib = zst && options.recycle ? zstdLibrary() : null;
  if (lib) {
    yield* zstdFfi(lib, path);
    return;
  }
  const native = zst ? zstdProcess(path, path, undefined, options.recycle) : undefined;
  if (native) {
    yield* native;
    return;
  }
  const { openDecompressed } = await loadCompress();
  yield* openDecompressed(path);
}

/**
 * Begins decoding the `.tar.zst` at `path` before it is read, when libzstd
 * decodes it here (see {@link OpenArchiveOptions.recycle}) and the file is
 * still the one `info` describes (device, inode, size, mtime): the next
 * `openArchive(path, { recycle: true })` goes on with that decode, whose
 * first frames are decoded meanwhile, while the caller works on. Whether it
 * began; {@link dropPrefetchedArchive} frees a decode nobody took.
 *
 * @example
 * ```ts ignore
 * const info = Deno.statSync("env.tar.zst");
 * prefetchArchive("env.tar.zst", info); // then take the lock, make the temp dir, ...
 * for await (const chunk of openArchive("env.tar.zst", { recycle: true })) {
 *   // the first chunks are already decoded
 * }
 * ```
 */
export function prefetchArchive(path: string, info: Deno.FileInfo): boolean {
  const lib = existingZst(path) ? zstdLibrary() : null;
  if (!lib) return false;
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (err) {
    if (err instanceof Error) return false; // the read that follows says why
    throw err;
  }
  const now = file.statSync();
  if (
    now.dev !== info.dev || now.ino !== info.ino || now.size !== info.size ||
    now.mtime?.getTime() !== info.mtime?.getTime()
  ) {
    file.close(); // replaced since: whoever reads it opens it afresh
    return false;
  }
  return prefetchZstd(lib, path, file);
}

/** Frees the decode of `path` that {@link prefetchArchive} began, if nothing took it. */
export function dropPrefetchedArchive(path: string): Promise<void> {
  return dropPrefetchedZstd(path);
}

/**
 * The first member of the tar stream `source` with its body (a copy), or
 * `undefined` for an empty archive; stops reading there. Throws a
 * {@link PonchoError} naming `name` when the body is larger than `maxBytes`.
 */
export async function firstTarMember(
  source: AsyncIterable<Uint8Array>,
  name: string,
  maxBytes: number,
): Promise<FirstMember | undefined> {
  for await (const entry of readTar(source, { name })) {
    if (entry.size > maxBytes) {
      throw new PonchoError(
        `${name}: first member ${entry.path} is ${entry.size} bytes, more than ${maxBytes}`,
      );
    }
    const data = (await entry.bytes()).slice();
    const { path: p, type, mode, uid, gid, uname, gname, mtime, size, linkname } = entry;
    const header = { path: p, type, mode, uid, gid, uname, gname, mtime, size, linkname };
    return { header: { ...header, devmajor: entry.devmajor, devminor: entry.devminor }, data };
  }
  return undefined;
}

/** Bytes read from the start of a `.tar.zst` to look for a stored first member. */
const HEAD_BYTES = 64 << 10;

/** Reads up to `n` bytes from the start of `path`. */
function readHead(path: string, n: number): Uint8Array {
  using f = Deno.openSync(path, { read: true });
  return readAtSync(f, 0, n);
}

/**
 * The first member of a `.tar.zst` whose first frame is stored (raw blocks,
 * as `pack` writes the manifest) and holds that whole member as a plain
 * ustar entry, read without a decoder; else `undefined`.
 */
export async function storedFirstMember(
  path: string,
  maxBytes: number,
): Promise<FirstMember | undefined> {
  let head = readHead(path, HEAD_BYTES);
  const whole = storedFrameLength(head);
  if (whole !== undefined && whole > head.length && whole <= STORED_FRAME_MAX + (16 << 10)) {
    head = readHead(path, whole); // a larger manifest: read the whole frame
  }
  const tar = rawFrameContent(head);
  if (!tar || tar.length < BLOCK || !checksumOk(tar.subarray(0, BLOCK))) return undefined;
  const h = decodeHeader(tar.subarray(0, BLOCK));
  if (h.flag !== "0" || tar.length < BLOCK + h.size) return undefined;
  return await firstTarMember(
    (async function* () {
      yield tar;
    })(),
    path,
    maxBytes,
  );
}

/**
 * Reads only the first member of an archive file, decompressing no more than
 * needed: for a `.tar.zst`, none when its first frame is stored (see
 * {@link storedFirstMember}), else the `zstd` program, stopped once the
 * member is read; else `readFirstTarMember` of `compress.ts`.
 */
export async function readArchiveFirstMember(
  path: string,
  maxBytes: number,
): Promise<FirstMember | undefined> {
  const zst = existingZst(path);
  const stored = zst ? await storedFirstMember(path, maxBytes) : undefined;
  if (stored) return stored;
  const native = zst ? zstdProcess(path, path, 0) : undefined;
  if (native) return await firstTarMember(native, path, maxBytes);
  const { readFirstTarMember } = await loadCompress();
  return await readFirstTarMember(path, maxBytes);
}
