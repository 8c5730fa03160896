/**
 * Cold `poncho run -e ARCHIVE -- /bin/true` of several Poncho executables
 * (single files built from different commits, or wrappers), against GNU
 * `tar --zstd -xf` of the same archive, interleaved: each round runs every
 * contender once, the order rotating, each Poncho with a store of its own
 * whose environments and index are moved aside before every run (so each
 * run unpacks; the runtime stays). Outputs are deleted after each round.
 * Prints medians and ratios to tar. Not a test.
 *
 * ```sh
 * deno task dist -o /tmp/poncho-a   # at one commit; then at another:
 * deno task dist -o /tmp/poncho-b
 * deno run -A bench/cold_ab.ts 31 /dev/shm .cache/bench/real-env-v3.tar.zst /tmp/poncho-a /tmp/poncho-b
 * ```
 *
 * @module
 */

import { median, timeRun } from "./measure.ts";

/** One contender: its label and one timed run (milliseconds). */
type Contender = [string, () => Promise<number>];

/** A Poncho executable run cold with the store `store` (its own). */
function poncho(
  exe: string,
  store: string,
  archive: string,
  trash: () => string,
): Contender {
  const run = [exe, "run", "--store", store, "-e", archive, "--", "/bin/true"];
  return [exe, async () => {
    for (const d of ["envs", "index"]) {
      try {
        Deno.renameSync(`${store}/v1/${d}`, trash());
      } catch (err) {
        // Not there yet (the first run): nothing to move aside.
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    return await timeRun(run) * 1000;
  }];
}

if (import.meta.main) {
  const [roundsArg, out, archive, ...exes] = Deno.args;
  if (!archive || exes.length === 0) {
    console.error("usage: cold_ab.ts ROUNDS OUT_DIR ARCHIVE PONCHO...");
    Deno.exit(1);
  }
  // Short paths: an environment with binaries relocates into a prefix no longer than theirs.
  const work = await Deno.makeTempDir({ dir: out, prefix: "cab" });
  let n = 0;
  const trash = () => `${work}/trash/${n++}`;
  await Deno.mkdir(`${work}/trash`);
  try {
    const contenders = exes.map((exe, i) => poncho(exe, `${work}/s${i}`, archive, trash));
    for (const [, run] of contenders) await run(); // each store's runtime, unpacked once
    contenders.push(["GNU tar --zstd -xf", async () => {
      const dir = trash();
      await Deno.mkdir(dir);
      return await timeRun(["tar", "--zstd", "-xf", archive, "-C", dir]) * 1000;
    }]);
    const times = contenders.map(() => [] as number[]);
    for (let r = 0; r < Number(roundsArg); r++) {
      for (let k = 0; k < contenders.length; k++) {
        const i = (k + r) % contenders.length;
        times[i].push(await contenders[i][1]());
      }
      await Deno.remove(`${work}/trash`, { recursive: true });
      await Deno.mkdir(`${work}/trash`);
      await new Deno.Command("sync").output();
    }
    const tar = median(times[times.length - 1]);
    console.log(`${roundsArg} interleaved rounds into ${out}, medians (ratio to GNU tar):`);
    contenders.forEach(([name], i) => {
      const m = median(times[i]);
      console.log(`  ${name.padEnd(40)} ${m.toFixed(1).padStart(7)} ms  ${(m / tar).toFixed(2)}x`);
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}
