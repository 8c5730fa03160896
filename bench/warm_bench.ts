/**
 * Warm start through the single file's sh fast path (issue 16):
 * `dist/poncho run -e ENV -- /bin/true` (the launcher finds the environment
 * from its warm record and execs `bin/run_in_env`, no Deno) against
 * `python_package_run -e ARCHIVE -u DIR -- /bin/true` warm on the same
 * environment tree, and against the full Deno path of the same file
 * (`PONCHO_NO_FAST_PATH=1`). hyperfine in interleaved rounds (each round
 * runs every command `PER_ROUND` times, the order rotating); medians over
 * all rounds.
 *
 * Run: `deno run -A bench/warm_bench.ts [ROUNDS]` (default 9; 3 runs per
 * command per round, so 27 runs each).
 *
 * @module
 */

import { REPO_ROOT as ROOT } from "../cli/compile.ts";
import { buildDist } from "../lib/dist/build.ts";
import { makeEnvArchive } from "../tests/fixtures/env_archive.ts";
import { pythonPackageRunPeer } from "./run_bench.ts";
import { hyperfineTimes, median } from "./measure.ts";

const PER_ROUND = 3;

/** Runs the benchmark; returns each command's median (seconds) by name, and the runs per command. */
export async function runWarmBench(
  rounds = 9,
): Promise<{ seconds: Record<string, number>; runs: number }> {
  const work = await Deno.makeTempDir({ prefix: "poncho-warm-bench-" });
  try {
    const dist = await buildDist({ root: ROOT, output: `${work}/poncho` });
    const env = await makeEnvArchive(work, "env.tar.zst");
    const store = `${work}/store`;
    const ppr = pythonPackageRunPeer(work, env.tree);
    const run = `${dist.path} run --store ${store} -e ${env.archive} -- /bin/true`;
    const first = new Deno.Command("sh", { args: ["-c", run] }).outputSync();
    if (!first.success) throw new Error(`${run} failed`);
    const commands: Record<string, string> = {
      "dist/poncho run -e ENV -- /bin/true (sh fast path)": run,
      "python_package_run -e ARCHIVE -u DIR -- /bin/true (warm)":
        `python_package_run -e ${ppr.archive} -u ${ppr.dir} -- /bin/true`,
      "dist/poncho run -e ENV -- /bin/true (PONCHO_NO_FAST_PATH=1: Deno)":
        `env PONCHO_NO_FAST_PATH=1 ${run}`,
    };
    const names = Object.keys(commands);
    const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < rounds; r++) {
      const order = names.map((_, i) => names[(i + r) % names.length]);
      hyperfineTimes(order.map((n) => commands[n]), PER_ROUND).forEach((t, i) =>
        times[order[i]].push(...t)
      );
    }
    return {
      seconds: Object.fromEntries(names.map((n) => [n, median(times[n])])),
      runs: rounds * PER_ROUND,
    };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) {
  const r = await runWarmBench(Number(Deno.args[0] ?? 9));
  for (const [k, v] of Object.entries(r.seconds)) console.log(`${k}: ${(v * 1000).toFixed(2)} ms`);
  console.log(`${r.runs} runs per command; load average ${Deno.loadavg().join(" ")}`);
}
