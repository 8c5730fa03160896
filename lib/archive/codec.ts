/**
 * The pieces of decompression shared by `compress.ts` and the decompression
 * worker (`decompress_worker.ts`): reading a file as a stream of chunks, the
 * `node:zlib` based zstd and gzip decoders, and their error messages. Kept
 * apart from `compress.ts` so the worker loads only what it needs.
 *
 * @module
 */

import * as zlib from "node:zlib";
import { PonchoError } from "../errors.ts";
import { throughNode } from "./node_stream.ts";
import { zstdDecompress } from "./zstd.ts";

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

/** Turns a codec's error into a user-facing {@link PonchoError} naming the file. */
export function codecError(name: string, format: string, e: unknown): PonchoError {
  if (e instanceof PonchoError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const cut = /unexpected end|truncat/i.test(msg);
  return new PonchoError(
    cut
      ? `${name} is truncated (${format} data ends early); re-create it`
      : `${name} is not valid ${format} data: ${msg}`,
  );
}

/** Decompresses a zstd or gzip stream with `node:zlib`. `name` appears in error messages. */
export function decompressZlib(
  source: AsyncIterable<Uint8Array>,
  compression: "zst" | "gz",
  name: string,
): AsyncIterable<Uint8Array> {
  if (compression === "zst") return zstdDecompress(source, name);
  return throughNode(
    source,
    zlib.createGunzip({ chunkSize: 256 * 1024 }),
    (e) => codecError(name, "gzip", e),
  );
}
