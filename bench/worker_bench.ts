/**
 * The worker-side figures of issue 16, in one run, through the single file
 * (`dist/poncho`, built into a temp dir), each against its peer, interleaved
 * (the order alternates every round), medians:
 *
 * - cold `poncho run -e ARCHIVE -- /bin/true` (an empty store but for the
 *   unpacked runtime: no environment, no index) against `tar --zstd -xf
 *   ARCHIVE -C DIR` into a fresh directory, on tmpfs (`/dev/shm`) and on disk
 *   (the temp dir), for the 90-100 MB environment with a real interpreter
 *   and the Python standard library (small files; see `real_env.ts`). Every
 *   run goes to a fresh directory; the old ones are moved aside (a rename)
 *   and deleted after each round on tmpfs, after the series on disk (see
 *   {@link emptyTrash});
 * - 16 concurrent cold starts against one, on tmpfs, the 90-100 MB
 *   environment;
 * - warm `poncho run -e ENV -- /bin/true` (the launcher's fast path) against
 *   `python_package_run -e ARCHIVE -u DIR -- /bin/true` warm on the same
 *   environment tree, and the Deno path (`deno run -A cli/main.ts run ...`,
 *   no launcher) against `deno eval 0`, with hyperfine (`-N`) in
 *   interleaved rounds.
 *
 * Run: `deno run -A bench/worker_bench.ts [ROUNDS] [--only cold,burst,warm]`
 * (default 21 rounds). The archives are built once into `.cache/bench/`.
 *
 * @module
 */

import { join } from "node:path";
import { REPO_ROOT as ROOT } from "../cli/compile.ts";
import { buildDist } from "../lib/dist/build.ts";
import { type BenchArchive, realEnvArchive, stdlibArchive } from "./real_env.ts";
import { pythonPackageRunPeer } from "./run_bench.ts";
import { hyperfineTimes, median, timeRun as time } from "./measure.ts";

const MAIN = `${ROOT}/cli/main.ts`;

/** One comparison: medians (seconds) of this and its peer over `runs` runs each. */
export interface Pair {
  /** What is compared. */
  what: string;
  /** Median of Poncho's runs. */
  poncho: number;
  /** Median of the peer's runs. */
  peer: number;
  /** Runs of each. */
  runs: number;
  /** The target ratio. */
  target: number;
}

/**
 * `rounds` rounds of `a` then `b` (`b` then `a` on odd rounds), `after`
 * (untimed) at the end of each round; the medians.
 */
async function alternate(
  rounds: number,
  a: () => Promise<number>,
  b: () => Promise<number>,
  after?: () => Promise<void>,
): Promise<[number, number]> {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      ta.push(await a());
      tb.push(await b());
    } else {
      tb.push(await b());
      ta.push(await a());
    }
    await after?.();
  }
  return [median(ta), median(tb)];
}

/**
 * Empties `trash` (the runs' outputs) between rounds on tmpfs, so that 21
 * rounds of a 250 MB tree do not fill memory; then `sync`. On disk the
 * outputs are kept until the series ends: on this VM's ext4, creating files
 * right after deleting many is slow (for tar and Poncho alike: 5.4 s and
 * 6.8 s for the stdlib instead of about 1.2 s), which would drown the figures.
 */
async function emptyTrash(trash: string): Promise<void> {
  await Deno.remove(trash, { recursive: true });
  await Deno.mkdir(trash);
  await new Deno.Command("sync").output();
}

/** A store with the single file's runtime unpacked; `reset` empties it but for that. */
class ColdStore {
  #n = 0;
  constructor(readonly root: string, readonly trash: string) {}

  /** Moves the environments and the index aside (deleted by the caller later). */
  reset(): void {
    const n = this.#n++;
    for (const d of ["envs", "index"]) {
      try {
        Deno.renameSync(`${this.root}/v1/${d}`, `${this.trash}/${d}-${n}`);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
  }
}

async function coldPair(
  poncho: string,
  a: BenchArchive,
  label: string,
  out: string,
  rounds: number,
): Promise<Pair> {
  const work = await Deno.makeTempDir({ dir: out, prefix: "poncho-worker-bench-" });
  try {
    const trash = join(work, "trash");
    await Deno.mkdir(trash);
    const store = new ColdStore(join(work, "store"), trash);
    const run = [poncho, "run", "--store", store.root, "-e", a.archive, "--", "/bin/true"];
    await time(run); // unpacks the runtime (and the environment, moved aside below)
    let n = 0;
    const [p, t] = await alternate(
      rounds,
      () => {
        store.reset();
        return time(run);
      },
      async () => {
        const dir = join(trash, `tar-${n++}`);
        await Deno.mkdir(dir);
        return time(["tar", "--zstd", "-xf", a.archive, "-C", dir]);
      },
      // tmpfs: 21 rounds of a 250 MB tree would fill memory. Disk: kept until the end (below).
      out.startsWith("/dev/shm") ? () => emptyTrash(trash) : undefined,
    );
    const mb = (a.bytes / 1e6).toFixed(1);
    return {
      what:
        `cold \`poncho run -e\` vs \`tar --zstd -xf\`, ${label} (${a.files} files, ${mb} MB), ${out}`,
      poncho: p,
      peer: t,
      runs: rounds,
      target: 1.3,
    };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** Cold unpack on tmpfs and on disk, both archives. */
export async function runColdBench(poncho: string, rounds: number): Promise<Pair[]> {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const archives: [string, BenchArchive][] = [
    ["real interpreter", await realEnvArchive()],
    ["Python stdlib", await stdlibArchive()],
  ];
  const pairs: Pair[] = [];
  for (const out of ["/dev/shm", tmp]) {
    for (const [label, a] of archives) pairs.push(await coldPair(poncho, a, label, out, rounds));
  }
  return pairs;
}

/** 16 concurrent cold starts against one (tmpfs, the real-interpreter environment). */
export async function runBurstBench(poncho: string, rounds: number): Promise<Pair> {
  const a = await realEnvArchive();
  const work = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "poncho-burst-bench-" });
  try {
    const trash = join(work, "trash");
    await Deno.mkdir(trash);
    const store = new ColdStore(join(work, "store"), trash);
    const one = [poncho, "run", "--store", store.root, "-e", a.archive, "--", "/bin/true"];
    await time(one);
    const burst = (n: number) => () => {
      store.reset();
      return time([
        "sh",
        "-c",
        `i=0; while [ $i -lt ${n} ]; do "$@" & i=$((i+1)); done; wait`,
        "sh",
        ...one,
      ]);
    };
    const [sixteen, single] = await alternate(rounds, burst(16), burst(1), () => emptyTrash(trash));
    return {
      what: "16 concurrent cold starts vs one (tmpfs, the real-interpreter environment)",
      poncho: sixteen,
      peer: single,
      runs: rounds,
      target: 1.5,
    };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** Warm starts on the real-interpreter environment (see the module documentation). */
export async function runWarmPairs(poncho: string, rounds: number): Promise<Pair[]> {
  const a = await realEnvArchive();
  const work = await Deno.makeTempDir({ prefix: "poncho-warm-bench-" });
  try {
    const tree = join(work, "tree");
    await Deno.mkdir(tree);
    await time(["tar", "--zstd", "-xf", a.archive, "-C", tree]);
    const ppr = pythonPackageRunPeer(work, tree);
    const store = join(work, "store");
    const run = `${poncho} run --store ${store} -e ${a.archive} -- /bin/true`;
    await time(run.split(" "));
    const commands = [
      run,
      `python_package_run -e ${ppr.archive} -u ${ppr.dir} -- /bin/true`,
      `${Deno.execPath()} run -A --quiet ${MAIN} run --store ${store} -e ${a.archive} -- /bin/true`,
      `${Deno.execPath()} eval 0`,
    ];
    const times = commands.map(() => [] as number[]);
    for (let r = 0; r < rounds; r++) {
      const order = commands.map((_, i) => (i + r) % commands.length);
      hyperfineTimes(order.map((i) => commands[i]), 3).forEach((t, k) =>
        times[order[k]].push(...t)
      );
    }
    const m = times.map(median);
    return [
      {
        what: "warm `dist/poncho run -e ENV -- /bin/true` vs `python_package_run -u DIR` warm",
        poncho: m[0],
        peer: m[1],
        runs: rounds * 3,
        target: 0.8,
      },
      {
        what: "warm `deno run -A cli/main.ts run -e ENV -- /bin/true` (Deno path) vs `deno eval 0`",
        poncho: m[2],
        peer: m[3],
        runs: rounds * 3,
        target: 1.3,
      },
    ];
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** Everything above; `only` picks sections (`cold`, `burst`, `warm`). */
export async function runWorkerBench(rounds = 21, only?: Set<string>): Promise<Pair[]> {
  const want = (s: string) => !only || only.has(s);
  const work = await Deno.makeTempDir({ prefix: "poncho-worker-dist-" });
  try {
    const dist = await buildDist({ root: ROOT, output: `${work}/poncho` });
    const pairs: Pair[] = [];
    if (want("cold")) pairs.push(...await runColdBench(dist.path, rounds));
    if (want("burst")) pairs.push(await runBurstBench(dist.path, rounds));
    if (want("warm")) pairs.push(...await runWarmPairs(dist.path, Math.ceil(rounds / 3)));
    return pairs;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** The pairs as a Markdown table. */
export function workerMarkdown(pairs: Pair[]): string {
  const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
  return `| measure | poncho | peer | ratio | target | runs each |\n|---|---:|---:|---:|---|---:|\n` +
    pairs.map((p) =>
      `| ${p.what} | ${ms(p.poncho)} | ${ms(p.peer)} | ${
        (p.poncho / p.peer).toFixed(2)
      }x | <= ${p.target}x | ${p.runs} |`
    ).join("\n");
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--only");
  const only = i >= 0 ? new Set(Deno.args[i + 1].split(",")) : undefined;
  const rounds = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 21);
  const load0 = Deno.loadavg()[0];
  const pairs = await runWorkerBench(rounds, only);
  console.log(workerMarkdown(pairs));
  console.log(`\nload average ${load0} at the start, ${Deno.loadavg()[0]} at the end`);
}
