import assert from "node:assert/strict";
import { join } from "node:path";
import { compressZstdFrames, framesOf, ZstdWorkers } from "./zstd_compress.ts";
import { zstdDecompress } from "./zstd.ts";
import { zstdFrames } from "./zstd_frame.ts";
import { collectBytes as collect, hasCommand } from "../../tests/util.ts";

const zstdCli = hasCommand("zstd");
if (!zstdCli) console.log("zstd_compress_test: zstd not found, skipping the CLI cross-check");

/** Pseudo-random, somewhat compressible bytes. */
function sample(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = 0x61 + ((s >> 16) % 13);
  }
  return out;
}

/** Yields `data` in fresh chunks of `size` bytes. */
async function* chunks(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.slice(i, i + size);
}

const FRAME = 64 << 10;

Deno.test("framesOf re-cuts any chunking into pieces of exactly the frame size", async () => {
  assert.deepEqual(await collect(framesOf(chunks(new Uint8Array(0), 1), FRAME)), new Uint8Array(0));
  const data = sample(5 * FRAME + 17, 1);
  for (const size of [1000, FRAME, FRAME + 1, 3 * FRAME]) {
    const pieces: Uint8Array[] = [];
    for await (const p of framesOf(chunks(data, size), FRAME)) pieces.push(p.slice());
    assert.deepEqual(pieces.map((p) => p.length), [FRAME, FRAME, FRAME, FRAME, FRAME, 17]);
    let off = 0;
    for (const p of pieces) {
      assert.deepEqual(p, data.subarray(off, off + p.length), `chunks of ${size}`);
      off += p.length;
    }
  }
});

Deno.test({
  name:
    "compressZstdFrames: the same bytes with 0, 1 or 2 workers and any chunking; one frame per frame size; zstd -d reads it",
  async fn() {
    const data = sample(10 * FRAME + 999, 2);
    const outs: Uint8Array[] = [];
    for (const count of [0, 1, 2]) {
      using workers = new ZstdWorkers(count);
      for (const chunk of [FRAME, 10_000]) {
        outs.push(
          await collect(compressZstdFrames(chunks(data, chunk), { frameSize: FRAME, workers })),
        );
      }
    }
    for (const o of outs) assert.deepEqual(o, outs[0]);
    assert.equal([...zstdFrames(outs[0])].length, 11);
    assert.deepEqual(await collect(zstdDecompress(chunks(outs[0], 4096), "x")), data);
    // Less than one frame: compressed in this thread, one frame, same bytes as a lone frame.
    const small = await collect(compressZstdFrames(chunks(data.subarray(0, 100), 7)));
    assert.equal([...zstdFrames(small)].length, 1);
    if (!zstdCli) return;
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(join(dir, "x.zst"), outs[0]);
      const out = await new Deno.Command("zstd", { args: ["-q", "-d", "-c", join(dir, "x.zst")] })
        .output();
      assert.ok(out.success);
      assert.deepEqual(out.stdout, data);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("compressZstdFrames keeps at most two frames per worker, plus two, in flight", async () => {
  using workers = new ZstdWorkers(1);
  let pulled = 0;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < 40; i++) {
      pulled++;
      yield sample(FRAME, i);
    }
  }
  const it = compressZstdFrames(counted(), { frameSize: FRAME, workers })[Symbol.asyncIterator]();
  const first = await it.next();
  assert.ok(!first.done);
  // Four frames in flight (two for the one worker, two for this thread) and the one being
  // cut, then the source waits for the consumer.
  assert.ok(pulled <= 5, `${pulled} frames read before the first was taken`);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(pulled <= 5, `${pulled} frames read while the consumer waited`);
  let frames = 1;
  while (!(await it.next()).done) frames++;
  assert.equal(frames, 40);
  assert.equal(pulled, 40);
});
