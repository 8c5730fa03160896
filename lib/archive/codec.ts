/**
 * The pieces of decompression shared by `compress.ts` and the decompression
 * worker (`decompress_worker.ts`): reading a file as a stream of chunks
 * (`file_chunks.ts`, re-exported), the `node:zlib` based zstd and gzip
 * decoders, and their error messages. Kept
 * apart from `compress.ts` so the worker loads only what it needs.
 *
 * @module
 */

import * as zlib from "node:zlib";
import { PonchoError } from "../errors.ts";
import { throughNode } from "./node_stream.ts";
import { zstdDecompress } from "./zstd.ts";

export { READ_CHUNK, readFileChunks } from "./file_chunks.ts";

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
