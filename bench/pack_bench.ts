/**
 * Pack benchmark (issue 16): `packPrefix` (what `poncho create` and `poncho
 * store pack` run to write an archive) against `tar -c | zstd -T0 -3` of the
 * same prefix, interleaved (the order alternates every round), medians.
 *
 * Two prefixes:
 * - `env 90 MB`: the worker-side fixture of `tests/fixtures/env_archive.ts`
 *   with 90 MB of filler in 790 files (the environment the unpack and burst
 *   benchmarks use: a C binary, a Python launcher, ~800 files);
 * - `python stdlib`: an environment created from the test channel (this
 *   machine's CPython with its standard library, pip, a C program and
 *   `noarch: python` packages): thousands of small files.
 *
 * Poncho's side runs in this process as `create` runs it (the created
 * environment's placeholder files come from the package cache, as
 * `pristineFromCondaMeta` finds them; workers started each time); the peer
 * is one `sh -c 'tar ... | zstd ...'` child. Both write
 * into the same directory; every archive is removed after its run. With
 * `PONCHO_PACK_BASE` set to another checkout (e.g. the commit before a
 * change: `git archive REV lib deno.json package.json | tar -x -C DIR`,
 * then `ln -s $PWD/node_modules DIR/`), that checkout's `packPrefix` runs
 * too, in the same interleaved rounds.
 *
 * Run: `deno run -A bench/pack_bench.ts [RUNS]` (default 21).
 *
 * @module
 */

import { join, resolve } from "node:path";
import { createEnvironment } from "../lib/create.ts";
import { packPrefix, type PristineFile } from "../lib/env/pack.ts";
import { pristineFromCondaMeta } from "../lib/env/pristine.ts";
import { buildTestChannel } from "../tests/fixtures/channel.ts";
import { makeEnvTree } from "../tests/fixtures/env_archive.ts";
import { median } from "./measure.ts";

/** One prefix's figures. */
export interface PackBenchRow {
  /** Which prefix. */
  name: string;
  /** Its size in MB and file count. */
  mb: number;
  /** Number of entries. */
  files: number;
  /** Median of Poncho's pack, ms. */
  poncho: number;
  /** Median of the peer, ms. */
  peer: number;
  /** Median of the base checkout's pack (`PONCHO_PACK_BASE`), ms. */
  base?: number;
  /** Archive sizes in MB (Poncho, peer). */
  sizes: [number, number];
}

function du(dir: string): { mb: number; files: number } {
  const out = new Deno.Command("sh", {
    args: ["-c", `du -sb '${dir}' | cut -f1; find '${dir}' | wc -l`],
    stdout: "piped",
  }).outputSync();
  const [bytes, files] = new TextDecoder().decode(out.stdout).trim().split("\n").map(Number);
  return { mb: bytes / 1e6, files };
}

const MANIFEST = {
  format: 1,
  id: "bench",
  platform: "linux-64",
  created: "2026-12-01T00:00:00.000Z",
  poncho: "bench",
};

type Pack = typeof packPrefix;

async function measure(
  name: string,
  prefix: string,
  work: string,
  runs: number,
  base: Pack | undefined,
  pristine?: Map<string, PristineFile>,
): Promise<PackBenchRow> {
  const ours = join(work, "poncho.tar.zst");
  const theirs = join(work, "peer.tar.zst");
  const based = join(work, "base.tar.zst");
  const peerCmd = `tar -C '${prefix}' -cf - . | zstd -q -T0 -3 -f -o '${theirs}'`;
  const contenders: [string, () => Promise<unknown>][] = [
    [ours, () => packPrefix({ prefix, output: ours, manifest: MANIFEST, pristine })],
    [theirs, async () => {
      const o = await new Deno.Command("sh", { args: ["-c", peerCmd] }).output();
      if (!o.success) throw new Error(`${peerCmd} failed`);
    }],
  ];
  if (base) {
    contenders.push([based, () => base({ prefix, output: based, manifest: MANIFEST, pristine })]);
  }
  const n = contenders.length;
  const times: number[][] = contenders.map(() => []);
  const sizes: [number, number] = [0, 0];
  for (let r = -1; r < runs; r++) {
    for (let k = 0; k < n; k++) {
      const i = (k + Math.max(r, 0)) % n;
      const [file, run] = contenders[i];
      const t0 = performance.now();
      await run();
      const ms = performance.now() - t0;
      if (r >= 0) times[i].push(ms); // round -1 warms the page cache and the JIT
      if (i < 2) sizes[i] = Deno.statSync(file).size / 1e6;
      Deno.removeSync(file);
    }
  }
  return {
    name,
    ...du(prefix),
    poncho: median(times[0]),
    peer: median(times[1]),
    ...(base ? { base: median(times[2]) } : {}),
    sizes,
  };
}

/** The `packPrefix` of the checkout named by `PONCHO_PACK_BASE`, if set. */
async function basePack(): Promise<{ dir: string; pack: Pack } | undefined> {
  const dir = Deno.env.get("PONCHO_PACK_BASE");
  if (!dir) return undefined;
  const mod = await import(join(resolve(dir), "lib/env/pack.ts"));
  return { dir, pack: mod.packPrefix };
}

/** The 1-minute load average when the measurements started (the machine is shared). */
let startLoad = 0;

/** Builds both prefixes in a temp dir and measures them; returns one row each. */
export async function runPackBench(runs = 21): Promise<PackBenchRow[]> {
  const work = await Deno.makeTempDir({ prefix: "poncho-pack-bench-" });
  try {
    const env = join(work, "env");
    await Deno.mkdir(env);
    await makeEnvTree(env, { fillerBytes: 90e6, fillerFiles: 790 });
    const ch = await buildTestChannel();
    const py = join(work, "py");
    await createEnvironment({
      spec: {
        channels: [ch.url],
        conda: ["python", "hello", "pyhello", "oldtext", "pip"],
        pip: [],
        git: {},
        http: {},
      },
      prefix: py,
      store: join(work, "store"),
      quiet: true,
    });
    const base = (await basePack())?.pack;
    startLoad = Deno.loadavg()[0];
    return [
      await measure("env 90 MB (790 filler files)", env, work, runs, base),
      await measure(
        "python stdlib env (test channel)",
        py,
        work,
        runs,
        base,
        await pristineFromCondaMeta(py),
      ),
    ];
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** The rows as a Markdown table (with the base checkout's columns when it ran). */
export function packMarkdown(rows: PackBenchRow[], runs: number): string {
  const withBase = rows.some((r) => r.base !== undefined);
  const baseHead = withBase ? " base checkout's pack | base / peer |" : "";
  const baseRule = withBase ? "---:|---:|" : "";
  const baseCells = (r: PackBenchRow) =>
    withBase ? ` ${r.base!.toFixed(1)} ms | ${(r.base! / r.peer).toFixed(2)}x |` : "";
  return `| prefix | size | entries | poncho pack | tar -c \\| zstd -T0 -3 | ratio |${baseHead} archive MB (poncho / peer) | target |\n` +
    `|---|---:|---:|---:|---:|---:|${baseRule}---:|---|\n` +
    rows.map((r) =>
      `| ${r.name} | ${r.mb.toFixed(1)} MB | ${r.files} | ${r.poncho.toFixed(1)} ms | ${
        r.peer.toFixed(1)
      } ms | ${(r.poncho / r.peer).toFixed(2)}x |${baseCells(r)} ${r.sizes[0].toFixed(2)} / ${
        r.sizes[1].toFixed(2)
      } | <= 1.2x |`
    ).join("\n") +
    `\n\nMedians of ${runs} interleaved runs each${
      withBase ? ` (base checkout: ${Deno.env.get("PONCHO_PACK_BASE")})` : ""
    }; load average (1 min) ${startLoad.toFixed(2)} at the start, ${
      Deno.loadavg()[0].toFixed(2)
    } at the end.`;
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? 21);
  const rows = await runPackBench(runs);
  console.log(packMarkdown(rows, runs));
}
