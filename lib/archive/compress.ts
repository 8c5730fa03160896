/**
 * Stream compression and decompression chosen by file name: `zst` (multi-frame
 * safe, see `zstd.ts`), `gz`, `bz2` (read-only) and `none`.
 *
 * Everything is an `AsyncIterable<Uint8Array>` in and out, so the pieces
 * compose: `readTar(decompress(readFileChunks(path), compressionFromPath(path)))`
 * streams the entries of any supported archive, and
 * `writeFileChunks(out, compress(writeTar(entries), "zst"))` writes one.
 *
 * @module
 */

import * as zlib from "node:zlib";
import { PonchoError, UsageError } from "../errors.ts";
import { bz2Decompress } from "./bz2.ts";
import { throughNode } from "./node_stream.ts";
import { readTar, type TarHeader } from "./tar.ts";
import { zstdDecompress } from "./zstd.ts";

/** A supported compression. */
export type Compression = "zst" | "gz" | "bz2" | "none";

/** Archive name endings and their compression, longest first. */
export const ARCHIVE_SUFFIXES: readonly [string, Compression][] = [
  [".tar.zst", "zst"],
  [".tar.gz", "gz"],
  [".tgz", "gz"],
  [".tar.bz2", "bz2"],
  [".tar", "none"],
];

/**
 * The compression of an archive from its name (`.tar.zst`, `.tar.gz`/`.tgz`,
 * `.tar.bz2`, `.tar`). Throws a {@link UsageError} naming the file otherwise.
 */
export function compressionFromPath(path: string): Compression {
  const lower = path.toLowerCase();
  for (const [suffix, c] of ARCHIVE_SUFFIXES) if (lower.endsWith(suffix)) return c;
  throw new UsageError(
    `${path}: unknown archive type; use a name ending in .tar.zst, .tar.gz, .tgz, .tar.bz2 or .tar`,
  );
}

/** Default read size for {@link readFileChunks}. */
export const READ_CHUNK = 1 << 20;

/**
 * Streams a file's bytes in fresh `chunkSize` buffers (the consumer may keep
 * them). A missing file is a {@link NotFoundError}-style error naming it.
 */
export async function* readFileChunks(
  path: string,
  chunkSize: number = READ_CHUNK,
): AsyncGenerator<Uint8Array> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new PonchoError(`${path} does not exist`, 2, { cause: e });
    }
    throw new PonchoError(`cannot open ${path}: ${(e as Error).message}`, 2, { cause: e });
  }
  try {
    while (true) {
      const buf = new Uint8Array(chunkSize);
      let filled = 0;
      while (filled < chunkSize) {
        const n = await f.read(buf.subarray(filled));
        if (n === null) break;
        filled += n;
      }
      if (filled > 0) yield filled === chunkSize ? buf : buf.subarray(0, filled);
      if (filled < chunkSize) return;
    }
  } finally {
    f.close();
  }
}

/**
 * Writes a byte stream to `path` (created or truncated, mode 0o644). The
 * caller renames a temp file into place for atomicity.
 */
export async function writeFileChunks(
  path: string,
  chunks: AsyncIterable<Uint8Array>,
): Promise<number> {
  using f = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o644 });
  let total = 0;
  for await (const c of chunks) {
    let off = 0;
    while (off < c.length) off += await f.write(c.subarray(off));
    total += c.length;
  }
  return total;
}

/** Decompresses a stream. `name` (a file name) appears in error messages. */
export function decompress(
  source: AsyncIterable<Uint8Array>,
  compression: Compression,
  name = "archive",
): AsyncIterable<Uint8Array> {
  switch (compression) {
    case "zst":
      return zstdDecompress(source, name);
    case "gz":
      return throughNode(
        source,
        zlib.createGunzip({ chunkSize: 256 * 1024 }),
        (e) => codecError(name, "gzip", e),
      );
    case "bz2":
      return bz2Decompress(source, name);
    case "none":
      return source;
  }
}

/** Options of {@link compress}. */
export interface CompressOptions {
  /** Level: zstd 1-19 (default 3), gzip 1-9 (default 6). */
  level?: number;
}

/**
 * Compresses a stream. zstd output is one frame with a content checksum;
 * bzip2 cannot be written (a {@link UsageError}).
 */
export function compress(
  source: AsyncIterable<Uint8Array>,
  compression: Compression,
  options: CompressOptions = {},
): AsyncIterable<Uint8Array> {
  switch (compression) {
    case "zst": {
      const c = zlib.constants;
      return throughNode(
        source,
        zlib.createZstdCompress({
          chunkSize: 256 * 1024,
          params: {
            [c.ZSTD_c_compressionLevel]: options.level ?? 3,
            [c.ZSTD_c_checksumFlag]: 1,
          },
        }),
        (e) => codecError("output", "zstd", e),
      );
    }
    case "gz":
      return throughNode(
        source,
        zlib.createGzip({ level: options.level ?? 6, chunkSize: 256 * 1024 }),
        (e) => codecError("output", "gzip", e),
      );
    case "bz2":
      throw new UsageError("writing .tar.bz2 is not supported; use .tar.zst or .tar.gz");
    case "none":
      return source;
  }
}

function codecError(name: string, format: string, e: unknown): PonchoError {
  if (e instanceof PonchoError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const cut = /unexpected end|truncat/i.test(msg);
  return new PonchoError(
    cut
      ? `${name} is truncated (${format} data ends early); re-create it`
      : `${name} is not valid ${format} data: ${msg}`,
  );
}

/** Streams a compressed archive file decompressed, compression chosen by its name. */
export function openDecompressed(path: string): AsyncIterable<Uint8Array> {
  return decompress(readFileChunks(path), compressionFromPath(path), path);
}

/** The first member of an archive with its body. */
export interface FirstMember {
  /** The member's header. */
  header: TarHeader;
  /** Its body. */
  data: Uint8Array;
}

/**
 * Reads only the first member of a tar archive (any supported compression,
 * chosen by name), decompressing no more than needed, then stops. Returns
 * `undefined` for an empty archive. Throws a {@link PonchoError} when the
 * member's body is larger than `maxBytes`.
 */
export async function readFirstTarMember(
  path: string,
  maxBytes: number = 16 << 20,
): Promise<FirstMember | undefined> {
  // Small reads: the manifest is at the front, so read little of the file.
  const compression = compressionFromPath(path);
  const source = decompress(readFileChunks(path, 64 * 1024), compression, path);
  for await (const entry of readTar(source, { name: path })) {
    if (entry.size > maxBytes) {
      throw new PonchoError(
        `${path}: first member ${entry.path} is ${entry.size} bytes, more than ${maxBytes}`,
      );
    }
    const data = (await entry.bytes()).slice();
    const { path: p, type, mode, uid, gid, uname, gname, mtime, size, linkname } = entry;
    const header = { path: p, type, mode, uid, gid, uname, gname, mtime, size, linkname };
    return { header: { ...header, devmajor: entry.devmajor, devminor: entry.devminor }, data };
  }
  return undefined;
}
