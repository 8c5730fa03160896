/**
 * Benchmarks of automatic runs (`poncho run script.py`) over the test channel,
 * every figure the median of interleaved runs (round-robin, so machine load
 * hits the peers alike):
 * (a) warm: `poncho run script.py` vs `poncho run -e ENV -- python script.py`
 *     (the same environment, the same command) vs `deno run` of an empty
 *     module (what any Deno program pays to start);
 * (b) first run of the script (fresh store: analyse, solve, fetch, extract,
 *     link in place, run) vs `poncho create --prefix` of its spec (fresh
 *     store: solve, fetch, extract, link).
 *
 * Run: `deno run -A bench/auto_bench.ts [WARM_RUNS] [FIRST_RUNS]`.
 *
 * @module
 */

import { buildTestChannel } from "../tests/fixtures/channel.ts";
import { median } from "./measure.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

/** Figures of {@link runAutoBench}, seconds (medians). */
export interface AutoFigures {
  /** Warm `poncho run script.py`. */
  warmScript: number;
  /** Warm `poncho run -e ENV -- python script.py`. */
  warmEnv: number;
  /** `deno run` of an empty module. */
  denoEmpty: number;
  /** First `poncho run script.py` on a fresh store. */
  firstRun: number;
  /** `poncho create --prefix` of the same spec on a fresh store. */
  createPrefix: number;
  /** Runs per figure. */
  runs: { warm: number; first: number };
}

async function timed(argv: string[], cwd: string): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const t = (performance.now() - t0) / 1000;
  if (!out.success) {
    throw new Error(`${argv.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return t;
}

/** Runs `commands` round-robin `runs` times (after one warm-up round); medians. */
async function interleaved(
  commands: { argv: string[]; prepare?: () => Promise<void> }[],
  runs: number,
  cwd: string,
): Promise<number[]> {
  const times: number[][] = commands.map(() => []);
  for (let round = -1; round < runs; round++) {
    for (let k = 0; k < commands.length; k++) {
      const i = (k + Math.max(round, 0)) % commands.length; // rotate who goes first
      await commands[i].prepare?.();
      const t = await timed(commands[i].argv, cwd);
      if (round >= 0) times[i].push(t);
    }
  }
  return times.map(median);
}

/** Runs both benchmarks and returns the figures. */
export async function runAutoBench(warmRuns = 40, firstRuns = 7): Promise<AutoFigures> {
  const ch = await buildTestChannel();
  const deno = Deno.execPath();
  const poncho = [deno, "run", "-A", "--quiet", MAIN];
  const work = await Deno.makeTempDir({ prefix: "poncho-auto-bench-" });
  try {
    await Deno.mkdir(`${work}/helpers`);
    await Deno.writeTextFile(`${work}/task.py`, "import sys\nimport helpers\n");
    await Deno.writeTextFile(`${work}/helpers/__init__.py`, "import pyhello\n");
    await Deno.writeTextFile(`${work}/empty.ts`, "");
    const store = `${work}/store`;
    const auto = [...poncho, "run", "--store", store, "-c", ch.url, "-q"];
    await timed([...auto, "task.py"], work); // builds
    const plan = await new Deno.Command(deno, {
      args: [...auto.slice(1), "--dry-run", "--json", "task.py"],
      cwd: work,
      stdout: "piped",
    }).output();
    const { env, spec } = JSON.parse(new TextDecoder().decode(plan.stdout));
    await Deno.writeTextFile(`${work}/spec.json`, JSON.stringify(spec));

    const [warmScript, warmEnv, denoEmpty] = await interleaved(
      [
        { argv: [...auto, "task.py"] },
        { argv: [...poncho, "run", "--store", store, "-e", env, "--", "python", "task.py"] },
        { argv: [deno, "run", "-A", "--quiet", `${work}/empty.ts`] },
      ],
      warmRuns,
      work,
    );

    const fresh = (dir: string) => async () => {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    };
    const [firstRun, createPrefix] = await interleaved(
      [
        {
          argv: [...poncho, "run", "--store", `${work}/s-run`, "-c", ch.url, "-q", "task.py"],
          prepare: fresh(`${work}/s-run`),
        },
        {
          argv: [
            ...poncho,
            "create",
            "--store",
            `${work}/s-create`,
            "-q",
            "--prefix",
            `${work}/s-create/prefix`,
            `${work}/spec.json`,
          ],
          prepare: fresh(`${work}/s-create`),
        },
      ],
      firstRuns,
      work,
    );
    return {
      warmScript,
      warmEnv,
      denoEmpty,
      firstRun,
      createPrefix,
      runs: { warm: warmRuns, first: firstRuns },
    };
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const f = await runAutoBench(Number(Deno.args[0] ?? 40), Number(Deno.args[1] ?? 7));
  console.log(JSON.stringify(f, null, 2));
}
