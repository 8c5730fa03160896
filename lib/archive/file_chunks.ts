/**
 * Reading a file as a stream of fresh byte chunks, without loading any codec
 * (so that code which only needs file bytes, such as `poncho run`'s unpack
 * with the `zstd` program, does not load `node:zlib`). Re-exported by
 * `codec.ts` and `compress.ts`.
 *
 * @module
 */

import { PonchoError } from "../errors.ts";

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
