/**
 * Solve benchmark at conda-forge scale: a synthetic linux-64 channel
 * (`tests/fixtures/synthetic_channel.ts`, by default 1.5 million records over
 * 30,000 names, `repodata.json` > 512 MiB) written both ways (monolithic and
 * CEP-16 sharded) once into `.cache/bench/`, served on loopback, and
 * `poncho create --dry-run` run on it as a separate process under
 * `/usr/bin/time -v` (wall time, peak RSS): cold (empty store) and warm
 * (second process, same store), each form. In the same run, at 300,000
 * records, the whole-file approach this replaced (the solver of commit
 * {@linkcode BASELINE_REV}, unpacked from git into `.cache/bench/`) against the
 * new code. Medians of interleaved runs.
 *
 * Run: `deno run -A bench/solve_bench.ts [--names N] [--repeat N] [--json]`
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serveChannel } from "../tests/fixtures/channel.ts";
import {
  type SyntheticOptions,
  writeSyntheticChannel,
} from "../tests/fixtures/synthetic_channel.ts";

/** The commit whose solver read and parsed whole repodata files (before sharding). */
export const BASELINE_REV = "feb81fdfd0b34719fc71da4977be24ef3c63dfec";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CACHE = join(ROOT, ".cache", "bench");
const MAIN = join(ROOT, "cli", "main.ts");

/** One measured process. */
export interface Measure {
  /** Wall time in seconds. */
  seconds: number;
  /** CPU time (user + system) in seconds: far less sensitive than wall time to a loaded machine. */
  cpu: number;
  /** Peak RSS in MB. */
  rssMB: number;
}

/** The figures of one row: cold and warm medians. */
export interface SolveBenchRow {
  /** What ran. */
  label: string;
  /** Records in the channel. */
  records: number;
  /** Packages in the solution. */
  solved: number;
  /** Median cold run. */
  cold: Measure;
  /** Median warm run. */
  warm: Measure;
}

/** All rows plus the channel sizes. */
export interface SolveBenchResult {
  /** One row per (size, form, code). */
  rows: SolveBenchRow[];
  /** `repodata.json` bytes of the big channel. */
  jsonBytes: number;
  /** Shard index bytes of the big channel. */
  indexBytes: number;
  /** The 1-minute load average at the start and at the end. */
  load: number[];
}

/** The bench channel of `names` names (50 records each), written once into `.cache/bench/`. */
export async function benchChannel(
  names: number,
): Promise<{ dir: string; jsonBytes: number; indexBytes: number; records: number }> {
  const opts: SyntheticOptions = { names, versions: 10, builds: 5, bz2Every: 0 };
  const dir = join(CACHE, `solve-channel-${names}x50`);
  const stamp = join(dir, "done.json");
  try {
    return { dir, ...JSON.parse(await Deno.readTextFile(stamp)) };
  } catch { /* build it */ }
  console.error(`bench: writing a synthetic channel of ${names * 50} records into ${dir} (once)`);
  const ch = await writeSyntheticChannel(dir, opts);
  const info = { jsonBytes: ch.jsonBytes, indexBytes: ch.indexBytes, records: ch.records };
  await Deno.writeTextFile(stamp, JSON.stringify(info));
  return { dir, ...info };
}

/** The baseline checkout (lib/, store/ and the config of {@link BASELINE_REV}), made once. */
async function baseline(): Promise<string> {
  const rev = (await git("rev-parse", "--verify", `${BASELINE_REV}^{commit}`)).trim();
  const dir = join(CACHE, `baseline-${rev.slice(0, 12)}`);
  if (await Deno.stat(join(dir, "solve_once.ts")).catch(() => null)) return dir;
  await Deno.mkdir(dir, { recursive: true });
  const tar = new Deno.Command("sh", {
    args: [
      "-c",
      `git -C "${ROOT}" archive ${rev} lib store deno.json package.json | tar -x -C "${dir}"`,
    ],
  });
  if (!(await tar.output()).success) throw new Error(`cannot unpack ${rev} into ${dir}`);
  await Deno.symlink(join(ROOT, "node_modules"), join(dir, "node_modules"));
  await Deno.writeTextFile(
    join(dir, "solve_once.ts"),
    `import { solve } from "./lib/conda/solve.ts";
import { storeLayout } from "./store/layout.ts";
const [channel, store, ...specs] = Deno.args;
const r = await solve(specs, { channels: [channel], layout: storeLayout(store), platform: "linux-64" });
console.log(JSON.stringify({ packages: r.map((p) => p.name) }));
`,
  );
  return dir;
}

async function git(...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args: ["-C", ROOT, ...args], stdout: "piped" })
    .output();
  if (!out.success) throw new Error(`git ${args.join(" ")} failed`);
  return new TextDecoder().decode(out.stdout);
}

/** Runs `cmd` under `/usr/bin/time -v`; returns its figures and stdout. */
async function timed(cmd: string[]): Promise<Measure & { stdout: string }> {
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-v", ...cmd],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd.join(" ")} failed:\n${err.slice(-2000)}`);
  const wall = err.match(/Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)/);
  const rss = err.match(/Maximum resident set size \(kbytes\): (\d+)/);
  const user = Number(err.match(/User time \(seconds\): ([\d.]+)/)?.[1] ?? NaN);
  const sys = Number(err.match(/System time \(seconds\): ([\d.]+)/)?.[1] ?? NaN);
  if (!wall || !rss) throw new Error(`no /usr/bin/time figures in:\n${err.slice(-1000)}`);
  const seconds = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  return {
    seconds,
    cpu: user + sys,
    rssMB: Number(rss[1]) / 1024,
    stdout: new TextDecoder().decode(out.stdout),
  };
}

/** The 1-minute load average (NaN where /proc/loadavg is missing). */
function loadAverage(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return NaN;
  }
}

const median = (xs: Measure[]): Measure => {
  const by = (k: keyof Measure) => {
    const s = xs.map((x) => x[k]).sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
  };
  return { seconds: by("seconds"), cpu: by("cpu"), rssMB: by("rssMB") };
};

/** A measured configuration: how to run it against a store. */
interface Case {
  label: string;
  records: number;
  run: (store: string) => Promise<string[]>;
  colds: Measure[];
  warms: Measure[];
  solved: number;
  store: string;
}

function specsFor(names: number): string[] {
  return [
    names - 1,
    Math.floor(names / 2) + 1,
    Math.floor(names / 3) + 2,
    Math.floor(names / 5) + 3,
  ]
    .map((i) => `pkg-${i}`);
}

/** Runs the benchmark; `names` sets the big channel (50 records per name). */
export async function runSolveBench(names = 30_000, repeat = 3): Promise<SolveBenchResult> {
  await Deno.mkdir(CACHE, { recursive: true });
  const load = [loadAverage()];
  const big = await benchChannel(names);
  const smallNames = 6_000;
  const small = await benchChannel(smallNames);
  const tinyNames = 20;
  const tiny = await benchChannel(tinyNames);
  const base = await baseline();
  const servers = {
    bigMono: serveChannel(join(big.dir, "monolithic")),
    bigShard: serveChannel(join(big.dir, "sharded")),
    smallMono: serveChannel(join(small.dir, "monolithic")),
    smallShard: serveChannel(join(small.dir, "sharded")),
    tinyShard: serveChannel(join(tiny.dir, "sharded")),
  };
  const work = await Deno.makeTempDir({ prefix: "poncho-solve-bench-" });
  const deno = Deno.execPath();
  const dryRun = (url: string, n: number) => async (store: string) => {
    const spec = join(work, `spec-${n}-${encodeURIComponent(url)}.json`);
    await Deno.writeTextFile(
      spec,
      JSON.stringify({ conda: { channels: [url], dependencies: specsFor(n) } }),
    );
    return [
      deno,
      "run",
      "-A",
      "--quiet",
      MAIN,
      "create",
      "--dry-run",
      "--json",
      "--platform",
      "linux-64",
      "--store",
      store,
      spec,
    ];
  };
  try {
    const mk = (label: string, records: number, run: Case["run"]): Case => ({
      label,
      records,
      run,
      colds: [],
      warms: [],
      solved: 0,
      store: "",
    });
    const cases: Case[] = [
      mk(
        "floor: 1k records, sharded (process start, solver load)",
        tiny.records,
        dryRun(servers.tinyShard.url, tinyNames),
      ),
      mk(
        "300k, monolithic, before (whole-file parse)",
        small.records,
        (s) =>
          Promise.resolve([
            deno,
            "run",
            "-A",
            "--quiet",
            join(base, "solve_once.ts"),
            servers.smallMono.url,
            s,
            ...specsFor(smallNames),
          ]),
      ),
      mk(
        "300k, monolithic, per-name index",
        small.records,
        dryRun(servers.smallMono.url, smallNames),
      ),
      mk("300k, sharded", small.records, dryRun(servers.smallShard.url, smallNames)),
      mk(
        `${big.records / 1e6}M, monolithic, per-name index`,
        big.records,
        dryRun(servers.bigMono.url, names),
      ),
      mk(`${big.records / 1e6}M, sharded`, big.records, dryRun(servers.bigShard.url, names)),
    ];
    const solvedOf = (stdout: string) => {
      const j = JSON.parse(stdout);
      return j.packages.length;
    };
    for (let r = 0; r < repeat; r++) {
      for (const c of cases) {
        // The big monolithic cold case (download + index of > 512 MiB) runs once.
        if (r > 0 && c.label.includes("M, monolithic")) continue;
        c.store = join(work, `store-${cases.indexOf(c)}-${r}`);
        const m = await timed(await c.run(c.store));
        c.colds.push(m);
        c.solved = solvedOf(m.stdout);
        console.error(`bench: ${c.label} cold ${m.seconds.toFixed(2)} s ${m.rssMB.toFixed(0)} MB`);
      }
      for (const c of cases) {
        const m = await timed(await c.run(c.store));
        c.warms.push(m);
        console.error(`bench: ${c.label} warm ${m.seconds.toFixed(2)} s ${m.rssMB.toFixed(0)} MB`);
      }
    }
    return {
      rows: cases.map((c) => ({
        label: c.label,
        records: c.records,
        solved: c.solved,
        cold: median(c.colds),
        warm: median(c.warms),
      })),
      jsonBytes: big.jsonBytes,
      indexBytes: big.indexBytes,
      load: [...load, loadAverage()],
    };
  } finally {
    for (const s of Object.values(servers)) await s.close();
    await Deno.remove(work, { recursive: true });
  }
}

/** The result as a markdown table. */
export function solveMarkdown(r: SolveBenchResult): string {
  const mib = (n: number) => `${(n / (1 << 20)).toFixed(0)} MiB`;
  const lines = [
    `### solve: \`poncho create --dry-run\` over synthetic channels on loopback (big one: repodata.json ${
      mib(r.jsonBytes)
    }, shard index ${(r.indexBytes / 1024).toFixed(0)} KiB)`,
    "",
    "Targets: warm <= 1.0 s (both forms), sharded cold <= 2.5 s, peak RSS <= 500 MB, monolithic cold succeeds.",
    "Each figure is the median of interleaved runs, each a separate `poncho create --dry-run --json` process",
    "under `/usr/bin/time -v` (the big monolithic cold case runs once). Wall time on this shared VM is",
    `inflated by other work (load average ${
      r.load.map((l) => l.toFixed(1)).join(" at the start, ")
    } at the end);`,
    "CPU time (user + system) is the steadier figure.",
    "",
    "| channel, form | records | solved | cold wall | cold CPU | cold peak RSS | warm wall | warm CPU | warm peak RSS |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const row of r.rows) {
    lines.push(
      `| ${row.label} | ${row.records} | ${row.solved} | ${row.cold.seconds.toFixed(2)} s | ${
        row.cold.cpu.toFixed(2)
      } s | ${row.cold.rssMB.toFixed(0)} MB | ${row.warm.seconds.toFixed(2)} s | ${
        row.warm.cpu.toFixed(2)
      } s | ${row.warm.rssMB.toFixed(0)} MB |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const arg = (name: string, def: number) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Number(Deno.args[i + 1]) : def;
  };
  const r = await runSolveBench(arg("--names", 30_000), arg("--repeat", 3));
  console.log(Deno.args.includes("--json") ? JSON.stringify(r) : solveMarkdown(r));
}
