/**
 * Measuring helpers shared by the benchmarks: the median, one timed child run, and hyperfine's
 * per-run times.
 *
 * @module
 */

/** Median of `xs`. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Seconds one run of `argv` takes (output discarded); throws with its stderr when it fails. */
export async function timeRun(argv: string[], env?: Record<string, string>): Promise<number> {
  const t = performance.now();
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const s = (performance.now() - t) / 1000;
  if (!out.success) {
    throw new Error(`${argv.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return s;
}

/** One `hyperfine -N` call over `commands` (`runs` each, one warm-up); each one's run times in seconds. */
export function hyperfineTimes(commands: string[], runs: number): number[][] {
  const json = `/tmp/poncho-bench-${crypto.randomUUID().slice(0, 8)}.json`;
  const out = new Deno.Command("hyperfine", {
    args: [
      "-N",
      "--style",
      "none",
      "-w",
      "1",
      "-r",
      String(runs),
      "--export-json",
      json,
      ...commands,
    ],
    stdout: "null",
    stderr: "inherit",
  }).outputSync();
  if (!out.success) throw new Error("hyperfine failed");
  const data = JSON.parse(Deno.readTextFileSync(json));
  Deno.removeSync(json);
  return data.results.map((r: { times: number[] }) => r.times);
}
