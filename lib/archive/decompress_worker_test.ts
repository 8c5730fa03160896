import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import { randomBytes } from "../../tests/util.ts";
import {
  compress,
  decompress,
  decompressFileInWorker,
  openDecompressed,
  readFileChunks,
  WORKER_MIN_BYTES,
  writeFileChunks,
} from "./compress.ts";

/** Hash and length of a stream. */
async function digest(data: AsyncIterable<Uint8Array>): Promise<[string, number]> {
  const h = createHash("sha256");
  let n = 0;
  for await (const c of data) {
    h.update(c);
    n += c.length;
  }
  return [h.digest("hex"), n];
}

/** Bytes that barely compress, so the archive is above the worker threshold. */
async function* noise(size: number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < size; off += 1 << 20) {
    const chunk = randomBytes(Math.min(1 << 20, size - off));
    for (let i = 0; i < chunk.length; i += 3) chunk[i] = 0x41;
    yield chunk;
  }
}

for (const [ext, compression] of [["zst", "zst"], ["gz", "gz"]] as const) {
  Deno.test(`decompressFileInWorker (${ext}) gives the same bytes, errors and early stop`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, `big.tar.${ext}`);
      await writeFileChunks(path, compress(noise(WORKER_MIN_BYTES * 2), compression, { level: 1 }));
      assert.ok((await Deno.stat(path)).size >= WORKER_MIN_BYTES, "archive takes the worker path");
      const expected = await digest(decompress(readFileChunks(path), compression, path));
      assert.equal(expected[1], WORKER_MIN_BYTES * 2);
      assert.deepEqual(await digest(decompressFileInWorker(path, compression)), expected);
      assert.deepEqual(await digest(openDecompressed(path)), expected);

      // Stopping early terminates the worker (the test's sanitizers check nothing leaks).
      for await (const _ of openDecompressed(path)) break;

      // A cut file fails with the in-process message.
      const data = await Deno.readFile(path);
      const cut = join(dir, `cut.tar.${ext}`);
      await Deno.writeFile(cut, data.subarray(0, data.length - 1000));
      let inProcess = "";
      try {
        await digest(decompress(readFileChunks(cut), compression, cut));
      } catch (e) {
        inProcess = (e as Error).message;
      }
      assert.match(inProcess, /truncated|not valid/);
      await assert.rejects(
        () => digest(openDecompressed(cut)),
        (e: unknown) => e instanceof PonchoError && e.message === inProcess,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
