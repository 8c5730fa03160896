import assert from "node:assert/strict";
import zlib from "node:zlib";
import type { JobOutcome } from "./worker_pool.ts";
import { type ZstdJob, type ZstdReply, ZstdWorkers } from "./zstd_compress.ts";

function sample(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => 0x61 + ((i * seed) % 17));
}

function job(data: Uint8Array): ZstdJob {
  return { type: "zstd", buffer: data.slice().buffer, length: data.length, level: 1 };
}

function content(o: JobOutcome<ZstdReply>): Uint8Array {
  if ("error" in o) throw o.error;
  return new Uint8Array(zlib.zstdDecompressSync(new Uint8Array(o.reply.buffer, 0, o.reply.length)));
}

Deno.test("early pool: jobs posted before the worker loads; this thread takes back those not started", async () => {
  using pool = new ZstdWorkers(1, undefined, undefined, { perWorker: 8, early: true });
  const inputs = Array.from({ length: 8 }, (_, i) => sample(50_000 + i, i + 2));
  // Posted at once (no transfer: each job carries a claim), though the worker has not loaded.
  const outcomes = inputs.map((d) => pool.run<ZstdReply>(job(d)));
  assert.equal(pool.unstarted(), 8);
  assert.equal(pool.runOneHere(), false, "nothing waits in the pool: all were posted");
  // Without letting the event loop run, this thread takes back what the worker has not claimed.
  let stolen = 0;
  while (pool.stealOne()) stolen++;
  assert.ok(stolen >= 1 && stolen <= 8, `${stolen} taken back`);
  assert.equal(pool.unstarted(), 0);
  const got = await Promise.all(outcomes);
  got.forEach((o, i) => assert.deepEqual(content(o), inputs[i]));
  // The worker answered `stolen` for the others and still serves new jobs.
  const later = await pool.run<ZstdReply>(job(inputs[0]));
  assert.deepEqual(content(later), inputs[0]);
});

Deno.test("stealOne leaves jobs with transfers (their buffers are in the worker) and started jobs", async () => {
  using pool = new ZstdWorkers(1, undefined, undefined, { perWorker: 4, early: true });
  const data = sample(100_000, 5);
  // A transferred buffer is the worker's: such a job is posted only once the worker has loaded.
  const first = await pool.compress(data.slice(), 1);
  assert.ok(!("error" in first));
  const d = job(data);
  const transferred = pool.run<ZstdReply>(d, [d.buffer]);
  assert.equal(pool.stealOne(), false);
  assert.deepEqual(content(await transferred), data);
  // A started job cannot be taken back: once answered, there is nothing to take.
  const done = await pool.run<ZstdReply>(job(data));
  assert.deepEqual(content(done), data);
  assert.equal(pool.stealOne(), false);
});
