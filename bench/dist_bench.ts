/**
 * Start-up of the single file `dist/poncho` (built by `deno task dist`), in
 * one run, interleaved (each round runs every command once, in a rotating
 * order), medians:
 *
 * - cold first start: `dist/poncho --version` on an empty store (the payload
 *   unpack), against a warm `dist/poncho --version`;
 * - warm `dist/poncho run -e ENV -- /bin/true`, against
 *   `deno run -A --quiet cli/main.ts run -e ENV -- /bin/true` (same store,
 *   same environment: the warm path must not be slower through the single
 *   file; with a `DENO_DIR` of its own, as on a worker: the user's shared
 *   `~/.cache/deno` on this machine is held open by other engineers' Deno
 *   processes, which spares a lone process the SQLite log recovery that every
 *   start on a worker pays), and against the two-line `sh` wrapper that
 *   `exec`s it (what workers ran before the single file), `deno run` of an empty module, and `python_package_run` warm;
 *   as wall-time medians and as CPU time per start (user + system, which
 *   other work on a loaded machine disturbs less).
 *
 * Run: `deno run -A bench/dist_bench.ts [ROUNDS]` (default 40).
 *
 * @module
 */

import { REPO_ROOT as ROOT } from "../cli/compile.ts";
import { buildDist } from "../lib/dist/build.ts";
import { makeEnvArchive } from "../tests/fixtures/env_archive.ts";
import { pythonPackageRunPeer } from "./run_bench.ts";
import { median, timeRun as time } from "./measure.ts";

const MAIN = `${ROOT}/cli/main.ts`;

/**
 * Runs `commands` for `rounds` interleaved rounds (after `warmup` untimed
 * ones), `before` (untimed) ahead of each timed run; returns each
 * command's median in seconds, by name.
 */
async function interleaved(
  commands: Record<string, { argv: string[]; before?: () => Promise<void> }>,
  rounds: number,
  warmup: number,
): Promise<Record<string, number>> {
  const names = Object.keys(commands);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < warmup + rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(r + i) % names.length];
      await commands[name].before?.();
      const s = await time(commands[name].argv);
      if (r >= warmup) samples[name].push(s);
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(samples[n])]));
}

/**
 * CPU seconds (user + system, the children's `times` of one `sh`) one start
 * of each command takes: `rounds` interleaved rounds of `batch` starts each.
 * Less sensitive than wall time to other work on a loaded machine.
 */
async function cpuPerStart(
  commands: Record<string, string[]>,
  rounds: number,
  batch = 10,
): Promise<Record<string, number>> {
  const names = Object.keys(commands);
  const total: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  const loop = `i=0; while [ $i -lt ${batch} ]; do "$@" >/dev/null 2>&1 || exit 1; ` +
    `i=$((i + 1)); done; times`;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(r + i) % names.length];
      const out = await new Deno.Command("sh", {
        args: ["-c", loop, "sh", ...commands[name]],
        stdout: "piped",
      }).output();
      if (!out.success) throw new Error(`${commands[name].join(" ")} failed`);
      // times: the shell's own user/sys line, then its children's.
      const line = new TextDecoder().decode(out.stdout).trim().split("\n")[1];
      const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => +m[1] * 60 + +m[2]);
      total[name] += secs[0] + secs[1];
    }
  }
  return Object.fromEntries(names.map((n) => [n, total[n] / (rounds * batch)]));
}

/** The figures of one run, in seconds, by name, and the file's size. */
export interface DistBench {
  /** Medians in seconds. */
  seconds: Record<string, number>;
  /** CPU seconds per warm start, by the same names. */
  cpu: Record<string, number>;
  /** Size of `dist/poncho` in bytes. */
  size: number;
  /** Size of the unpacked runtime in bytes. */
  unpacked: number;
  /** Rounds measured (cold starts: a quarter of them). */
  rounds: number;
}

async function treeSize(dir: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) total += await treeSize(p);
    else if (e.isFile) total += (await Deno.stat(p)).size;
  }
  return total;
}

/** Runs the benchmark with `rounds` interleaved rounds of the warm commands. */
export async function runDistBench(rounds = 40): Promise<DistBench> {
  const deno = Deno.execPath();
  const work = await Deno.makeTempDir({ prefix: "poncho-dist-bench-" });
  try {
    const dist = await buildDist({ root: ROOT, output: `${work}/poncho` });
    const small = await makeEnvArchive(work, "small.tar.zst");
    const store = `${work}/store`;
    const ppr = pythonPackageRunPeer(work, small.tree);
    await Deno.writeTextFile(`${work}/empty.ts`, "");
    // What workers ran before the single file (the Work Queue test's old `poncho` input).
    await Deno.writeTextFile(
      `${work}/wrapper`,
      `#!/bin/sh\nexec '${deno}' run -A --quiet '${MAIN}' "$@"\n`,
      { mode: 0o755 },
    );
    const single = [dist.path, "run", "--store", store, "-e", small.archive, "--", "/bin/true"];
    await time(single); // unpacks the runtime and the environment once
    // Every Deno spawned below (not the single file's own) uses a DENO_DIR of its own.
    const userDenoDir = Deno.env.get("DENO_DIR");
    Deno.env.set("DENO_DIR", `${work}/deno-dir`);
    const warmCommands: Record<string, string[]> = {
      "dist/poncho run -e ENV -- /bin/true": single,
      "deno run -A cli/main.ts run -e ENV -- /bin/true": [
        deno,
        "run",
        "-A",
        "--quiet",
        MAIN,
        ...single.slice(1),
      ],
      "sh wrapper exec deno run -A cli/main.ts run -e ENV -- /bin/true": [
        `${work}/wrapper`,
        ...single.slice(1),
      ],
      "deno run empty module": [deno, "run", "-A", "--quiet", `${work}/empty.ts`],
      "python_package_run warm /bin/true": [
        "python_package_run",
        "-e",
        ppr.archive,
        "-u",
        ppr.dir,
        "--",
        "/bin/true",
      ],
    };
    const warm = await interleaved(
      Object.fromEntries(Object.entries(warmCommands).map(([k, argv]) => [k, { argv }])),
      rounds,
      5,
    );
    const cpu = await cpuPerStart(warmCommands, rounds, 5);
    const coldStore = `${work}/cold`;
    const cold = await interleaved(
      {
        "dist/poncho --version, first start (unpack)": {
          argv: [dist.path, "--version", "--store", coldStore],
          before: () => Deno.remove(coldStore, { recursive: true }).catch(() => {}),
        },
        "dist/poncho --version, warm": { argv: [dist.path, "--version", "--store", store] },
      },
      Math.max(5, rounds >> 2),
      1,
    );
    if (userDenoDir === undefined) Deno.env.delete("DENO_DIR");
    else Deno.env.set("DENO_DIR", userDenoDir);
    const unpacked = await treeSize(`${store}/v1/runtime/${dist.payloadSha256}`);
    return { seconds: { ...cold, ...warm }, cpu, size: dist.size, unpacked, rounds };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) {
  const r = await runDistBench(Number(Deno.args[0] ?? 40));
  for (const [k, v] of Object.entries(r.seconds)) console.log(`${k}: ${(v * 1000).toFixed(1)} ms`);
  for (const [k, v] of Object.entries(r.cpu)) console.log(`${k}: ${(v * 1000).toFixed(1)} ms CPU`);
  console.log(`size ${r.size} bytes, unpacked ${r.unpacked} bytes`);
}
