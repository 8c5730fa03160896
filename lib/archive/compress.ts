/**
 * Stream compression and decompression chosen by file name: `zst` (written as
 * parallel frames, see `zstd_compress.ts`; every frame read, see `zstd.ts`),
 * `gz`, `bz2` (read-only) and `none`.
 *
 * Everything is an `AsyncIterable<Uint8Array>` in and out, so the pieces
 * compose: `readTar(decompress(readFileChunks(path), compressionFromPath(path)))`
 * streams the entries of any supported archive, and
 * `writeFileChunks(out, compress(writeTar(entries), "zst"))` writes one.
 *
 * @module
 */

import * as zlib from "node:zlib";
import { UsageError } from "../errors.ts";
import { bz2Decompress } from "./bz2.ts";
import { codecError, decompressZlib, readFileChunks } from "./codec.ts";
import { throughNode } from "./node_stream.ts";
import { zstdProcess } from "./zstd_process.ts";
import { WORKER_BATCH, WORKER_WINDOW, workerStream } from "./worker_inbox.ts";
import { type FirstMember, firstTarMember } from "./open.ts";
import { compressZstdFrames } from "./zstd_compress.ts";
import { moduleUrl } from "../lazy.ts";

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

export { READ_CHUNK, readFileChunks } from "./codec.ts";

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
    case "gz":
      return decompressZlib(source, compression, name);
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
  /** zstd: workers to start (default: one less than the cores, 1 to 8); the output does not depend on it. */
  threads?: number;
}

/**
 * Compresses a stream. zstd output is a sequence of frames of
 * `ZSTD_FRAME_SIZE` (4 MiB) uncompressed bytes each, compressed in parallel
 * workers, each with a content checksum; the bytes depend only on the input
 * and the level (see `zstd_compress.ts`). bzip2 cannot be written (a
 * {@link UsageError}).
 *
 * @example Round trip through zstd
 * ```ts
 * import assert from "node:assert/strict";
 * import { compress, decompress } from "./compress.ts";
 * const text = "conda ".repeat(1000);
 * const source = ReadableStream.from([new TextEncoder().encode(text)]);
 * const packed = await Array.fromAsync(compress(source, "zst"));
 * assert.ok(packed.reduce((n, c) => n + c.length, 0) < text.length / 10);
 * const back = decompress(ReadableStream.from(packed), "zst", "x.zst");
 * assert.equal(await new Response(ReadableStream.from(back)).text(), text);
 * ```
 */
export function compress(
  source: AsyncIterable<Uint8Array>,
  compression: Compression,
  options: CompressOptions = {},
): AsyncIterable<Uint8Array> {
  switch (compression) {
    case "zst":
      return compressZstdFrames(source, options);
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

/**
 * Compressed files at least this large are decompressed in a worker by
 * {@link openDecompressed} (below it, starting the worker costs more than the
 * overlap gains).
 */
export const WORKER_MIN_BYTES = 256 << 10;

/**
 * Streams a compressed archive file decompressed, compression chosen by its
 * name. zstd and gzip files of at least {@link WORKER_MIN_BYTES} are
 * decompressed beside the consumer, so that decompression and the
 * consumer's work (writing files) use two cores: zstd files by the `zstd`
 * program when one is installed (`zstd_process.ts`: GNU tar's decoder, about
 * twice as fast as Deno's), else (and gzip files) in a worker
 * ({@link decompressFileInWorker}).
 */
export function openDecompressed(path: string): AsyncIterable<Uint8Array> {
  const compression = compressionFromPath(path);
  if ((compression === "zst" || compression === "gz") && fileSize(path) >= WORKER_MIN_BYTES) {
    if (compression === "zst") {
      const native = zstdProcess(path);
      if (native) return native;
    }
    return decompressFileInWorker(path, compression, path);
  }
  return decompress(readFileChunks(path), compression, path);
}

/** The size of the file at `path`; 0 when it cannot be read (`readFileChunks` then says why). */
function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
      return 0;
    }
    throw err;
  }
}

/**
 * Streams a zstd or gzip file decompressed by a worker thread: the worker
 * reads and decodes the file and transfers 1 MiB buffers (fresh ones; the
 * consumer may keep them), running at most 16 MiB ahead of the consumer.
 * Errors are the same {@link PonchoError}s as in-process decompression gives.
 * Stopping early terminates the worker. When the worker cannot be started
 * (no worker support), decompresses in-process instead. `name` appears in
 * error messages.
 */
export function decompressFileInWorker(
  path: string,
  compression: "zst" | "gz",
  name = path,
): AsyncGenerator<Uint8Array> {
  return workerStream(
    moduleUrl("./decompress_worker.ts", import.meta.url).href,
    { type: "start", path, compression, name, batch: WORKER_BATCH, window: WORKER_WINDOW },
    () => decompress(readFileChunks(path), compression, name),
  );
}

export type { FirstMember } from "./open.ts";

/**
 * Reads only the first member of a tar archive (any supported compression,
 * chosen by name), decompressing no more than needed, then stops. Returns
 * `undefined` for an empty archive. Throws a {@link PonchoError} when the
 * member's body is larger than `maxBytes`.
 */
export function readFirstTarMember(
  path: string,
  maxBytes: number = 16 << 20,
): Promise<FirstMember | undefined> {
  // Small reads: the manifest is at the front, so read little of the file.
  const compression = compressionFromPath(path);
  const source = decompress(readFileChunks(path, 64 * 1024), compression, path);
  return firstTarMember(source, path, maxBytes);
}
