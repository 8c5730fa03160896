/**
 * Benchmarks of `poncho create` over the real test channel (real packages,
 * this machine's CPython): create with a cold store, with a warm package
 * cache (`--force`: repodata and extracted packages cached), a cached-archive
 * hit, and packing the installed prefix compared with GNU `tar | zstd -T0`
 * on the same prefix, in the same run.
 *
 * Run: `deno run -A bench/create_bench.ts [--json]`.
 *
 * @module
 */

import { join } from "node:path";
import { buildTestChannel } from "../tests/fixtures/channel.ts";
import { createEnvironment } from "../lib/create.ts";
import { packPrefix } from "../lib/env/pack.ts";

/** Figures in seconds, by name. */
export type CreateBenchResult = Record<string, number>;

const SPEC = ["python", "hello", "pyhello", "oldtext", "pip"];

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

async function best(runs: number, fn: () => Promise<unknown>, before?: () => Promise<void>) {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    if (before) await before();
    min = Math.min(min, await time(fn));
  }
  return min;
}

/** Runs the create benchmarks (best of `runs`). */
export async function runCreateBench(runs = 3): Promise<CreateBenchResult> {
  const ch = await buildTestChannel();
  const work = await Deno.makeTempDir({ prefix: "poncho-create-bench-" });
  const spec = { channels: [ch.url], conda: SPEC, pip: [], git: {}, http: {} };
  const r: CreateBenchResult = {};
  try {
    const out = join(work, "env.tar.zst");
    const opts = { spec, output: out, quiet: true };
    r["create, cold store"] = await best(
      runs,
      () => createEnvironment({ ...opts, store: join(work, "cold") }),
      () => Deno.remove(join(work, "cold"), { recursive: true }).catch(() => {}),
    );
    const warm = join(work, "warm");
    await createEnvironment({ ...opts, store: warm });
    r["create, warm package cache (--force)"] = await best(
      runs,
      () => createEnvironment({ ...opts, store: warm, force: true }),
    );
    r["create, cached archive"] = await best(
      runs,
      () => createEnvironment({ ...opts, store: warm }),
    );

    const prefix = join(work, "prefix");
    await createEnvironment({ spec, prefix, store: warm, quiet: true });
    const du = new Deno.Command("du", { args: ["-sb", prefix], stdout: "piped" }).outputSync();
    r["prefix size (MB)"] = Number(new TextDecoder().decode(du.stdout).split("\t")[0]) / 1e6;
    const manifest = {
      format: 1,
      id: "bench",
      platform: "linux-64",
      created: new Date().toISOString(),
      poncho: "bench",
    };
    r["pack prefix (poncho, zstd -3)"] = await best(
      runs,
      () => packPrefix({ prefix, output: join(work, "p.tar.zst"), manifest }),
    );
    r["pack prefix (GNU tar | zstd -T0 -3)"] = await best(runs, async () => {
      const cmd = `tar -C '${prefix}' -cf - . | zstd -q -T0 -3 -f -o '${work}/g.tar.zst'`;
      const o = await new Deno.Command("sh", { args: ["-c", cmd] }).output();
      if (!o.success) throw new Error("tar | zstd failed");
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
  return r;
}

if (import.meta.main) {
  const r = await runCreateBench();
  if (Deno.args.includes("--json")) console.log(JSON.stringify(r));
  else for (const [k, v] of Object.entries(r)) console.log(`${k}: ${v.toFixed(3)}`);
}
