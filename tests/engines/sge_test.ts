/**
 * Grid Engine, a private cell started by the test on 127.0.0.1 in its own
 * network namespace: a `qsub -t 1-8` array job, and a Makeflow workflow of 8
 * rules with `makeflow -T sge`. Every task runs the shipped `poncho` against
 * one shared store (see `common.ts` for what is checked).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { engineTest, readOr, runCmd, skipReasons, taskCommand, TASKS, waitFor } from "./common.ts";
import { runMakeflow } from "./makeflow.ts";
import { SGE_COMMANDS, startGridEngine } from "./sge.ts";

const reasons = await skipReasons(SGE_COMMANDS);
if (reasons.length > 0) console.log(`grid engine tests skipped: ${reasons.join("; ")}`);
const makeflowReasons = [...reasons, ...await skipReasons(["makeflow"])];

const options = { prefix: "poncho-sge-", start: startGridEngine, engineVar: "JOB_ID" };

Deno.test({
  name: `grid engine: qsub -t 1-${TASKS} runs the shipped poncho, one shared store`,
  ignore: reasons.length > 0,
  async fn() {
    await engineTest(options, async (w, sge, netns, deadline) => {
      const script = join(w.wf, "job.sh");
      await Deno.writeTextFile(script, `#!/bin/sh\n${taskCommand("$SGE_TASK_ID")}\n`);
      const logDir = join(w.dir, "sge-logs");
      await Deno.mkdir(logDir);
      // -v passes PONCHO_STORE to the jobs; -cwd runs them in the workflow dir.
      const sub = await runCmd("qsub", [
        "-terse",
        "-t",
        `1-${TASKS}`,
        "-cwd",
        "-j",
        "y",
        "-o",
        logDir,
        "-v",
        `PONCHO_STORE=${w.store}`,
        script,
      ], { cwd: w.wf, env: sge.env, netns });
      assert.equal(sub.code, 0, sub.err);
      const id = sub.out.trim().split(".")[0];
      await waitFor(
        `Grid Engine job ${id} to finish`,
        async () => {
          const q = await runCmd("qstat", ["-u", "*"], { env: sge.env, netns });
          return q.code === 0 && !new RegExp(`^\\s*${id}\\s`, "m").test(q.out);
        },
        deadline,
        250,
      );
      const logs: [string, string][] = [];
      for (const e of Deno.readDirSync(logDir)) {
        logs.push([e.name, await readOr(join(logDir, e.name))]);
      }
      return logs;
    });
  },
});

Deno.test({
  name:
    `grid engine: makeflow -T sge runs ${TASKS} rules with the shipped poncho, one shared store`,
  ignore: makeflowReasons.length > 0,
  async fn() {
    await engineTest(
      options,
      (w, sge, netns, deadline) => runMakeflow(w, "sge", sge.env, netns, deadline),
    );
  },
});
