/**
 * Slurm, started by the test on 127.0.0.1 in its own network namespace:
 * an `sbatch --array` of 8 tasks, and a Makeflow workflow of 8 rules with
 * `makeflow -T slurm`. Every task runs the shipped `poncho` against one
 * shared store (see `common.ts` for what is checked).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { engineTest, readOr, runCmd, skipReasons, taskCommand, TASKS, waitFor } from "./common.ts";
import { runMakeflow } from "./makeflow.ts";
import { SLURM_COMMANDS, startSlurm } from "./slurm.ts";

const reasons = await skipReasons(SLURM_COMMANDS);
if (reasons.length > 0) console.log(`slurm tests skipped: ${reasons.join("; ")}`);
const makeflowReasons = [...reasons, ...await skipReasons(["makeflow"])];

const options = { prefix: "poncho-slurm-", start: startSlurm, engineVar: "SLURM_JOB_ID" };

Deno.test({
  name: `slurm: sbatch --array of ${TASKS} tasks runs the shipped poncho, one shared store`,
  ignore: reasons.length > 0,
  async fn() {
    await engineTest(options, async (w, slurm, netns, deadline) => {
      const script = join(w.wf, "job.sh");
      await Deno.writeTextFile(
        script,
        `#!/bin/sh\n#SBATCH --array=1-${TASKS}\n#SBATCH --output=slurm.%a.log\n` +
          `${taskCommand("$SLURM_ARRAY_TASK_ID")}\n`,
      );
      // sbatch passes its own environment (PONCHO_STORE) to the jobs.
      const sub = await runCmd("sbatch", ["--parsable", `--chdir=${w.wf}`, script], {
        cwd: w.wf,
        env: { ...slurm.env, PONCHO_STORE: w.store },
        netns,
      });
      assert.equal(sub.code, 0, sub.err);
      const id = sub.out.trim().split(";")[0];
      await waitFor(
        `Slurm job ${id} to finish`,
        async () => {
          const q = await runCmd("squeue", ["-h", "-j", id], { env: slurm.env, netns });
          return q.code === 0 && q.out.trim() === "";
        },
        deadline,
        250,
      );
      const logs: [string, string][] = [];
      for (let i = 1; i <= TASKS; i++) {
        logs.push([`slurm.${i}.log`, await readOr(join(w.wf, `slurm.${i}.log`), "(missing)")]);
      }
      return logs;
    });
  },
});

Deno.test({
  name: `slurm: makeflow -T slurm runs ${TASKS} rules with the shipped poncho, one shared store`,
  ignore: makeflowReasons.length > 0,
  async fn() {
    await engineTest(
      options,
      (w, slurm, netns, deadline) => runMakeflow(w, "slurm", slurm.env, netns, deadline),
    );
  },
});
