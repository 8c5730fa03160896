/**
 * Work Queue's Python API (Debian's `python3-workqueue`) on 127.0.0.1 in its
 * own network namespace, with two workers of 4 cores:
 *
 * - plain tasks: `./poncho run -e env.tar.zst -- python task.py I`, with the
 *   shipped `poncho` and the archive as cached inputs (see `common.ts` for
 *   what is checked);
 * - `PythonTask.specify_environment`: a Python function runs inside the
 *   Poncho environment through the `python_package_run` drop-in, which Work
 *   Queue finds on PATH and ships (the shipped `poncho` file under that
 *   name); the environment has `dill`, built from Debian's python3-dill.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { checkStore, engineTest, shipPoncho, TASKS } from "./common.ts";
import {
  plainTasksManager,
  pythonTasksManager,
  runManager,
  WORKERS,
  workQueueApiAvailable,
  WQ_COMMANDS,
} from "./workqueue.ts";
import { buildTestChannel } from "../fixtures/channel.ts";
import { debianPythonSkips } from "./dask.ts";

const reasons = await debianPythonSkips(
  "work queue API tests",
  WQ_COMMANDS,
  "work_queue",
  "python3-workqueue",
);
const dillReasons = [...reasons];
if (reasons.length === 0) {
  if (!await workQueueApiAvailable(true)) dillReasons.push("no dill (install python3-dill)");
  else if (!(await buildTestChannel()).dillVersion) {
    dillReasons.push("the test channel has no dill package (install python3-dill)");
  }
}
if (dillReasons.length > reasons.length) {
  console.log(`PythonTask test skipped: ${dillReasons.join("; ")}`);
}

const noDaemons = () => Promise.resolve({ logs: () => Promise.resolve([]), stop: async () => {} });

Deno.test({
  name: `work queue API: ${TASKS} tasks with poncho and the archive as cached inputs, one store`,
  ignore: reasons.length > 0,
  async fn() {
    const records = await engineTest(
      { prefix: "poncho-wq-api-", start: noDaemons, engineVar: "WORK_QUEUE_SANDBOX" },
      async (w, _e, netns, deadline) => {
        const run = await runManager(w, plainTasksManager(w), netns, deadline);
        assert.equal(run.results.length, TASKS, JSON.stringify(run.results));
        for (const r of run.results) {
          assert.deepEqual([r.result, r.status], [0, 0], r.tag as string);
        }
        return run.said;
      },
    );
    const workdirs = new Set(records.map((r) => r.cwd.match(/\/worker-(\d+)\//)?.[1]));
    assert.equal(workdirs.size, WORKERS, `tasks ran in ${[...workdirs]}`);
  },
});

Deno.test({
  name:
    `work queue API: ${TASKS} PythonTasks run a function in a Poncho env via python_package_run`,
  ignore: dillReasons.length > 0,
  async fn() {
    await engineTest(
      { prefix: "poncho-wq-pytask-", start: noDaemons, extraPackages: ["dill"], checkFiles: false },
      async (w, _e, netns, deadline) => {
        // What PythonTask finds on PATH, and Work Queue ships to each worker.
        const bin = join(w.dir, "bin");
        await Deno.mkdir(bin);
        await shipPoncho(join(bin, "python_package_run"));
        const run = await runManager(w, pythonTasksManager(w), netns, deadline, bin);
        assert.equal(run.results.length, TASKS, JSON.stringify(run.results));
        let unpacked = 0;
        let found = 0;
        const xs: number[] = [];
        for (const r of run.results) {
          const context = JSON.stringify(r, null, 1);
          assert.deepEqual([r.result, r.status], [0, 0], context);
          assert.match(String(r.command), /^\.\/python_package_run -e env\.tar\.zst --unpack-to /);
          const out = r.output as Record<string, unknown>;
          assert.equal(typeof out, "object", context);
          assert.equal(out.square, (out.x as number) ** 2, context);
          assert.equal(out.prefix, w.envPath, context);
          assert.ok(String(out.pyhello).startsWith(`${w.envPath}/`), context);
          assert.ok(out.sandbox, context);
          xs.push(out.x as number);
          if (/unpacked environment at /.test(String(r.stdout))) unpacked++;
          if (/found environment at /.test(String(r.stdout))) found++;
        }
        assert.deepEqual(xs.sort((a, b) => a - b), Array.from({ length: TASKS }, (_, i) => i + 1));
        checkStore(w, unpacked, found);
        return run.said;
      },
    );
  },
});
