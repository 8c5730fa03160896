/**
 * Dask distributed on 127.0.0.1 in its own network namespace: a client with
 * its own `LocalCluster`, and a `dask scheduler` with two workers started by
 * the test. 8 tasks run the shipped `poncho` against one shared store (see
 * `common.ts` for what is checked), on both workers.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { engineTest, type Netns, Proc, TASKS, until, type Workflow } from "./common.ts";
import {
  clientScript,
  DASK_COMMANDS,
  DEBIAN_PYTHON,
  debianPythonSkips,
  startDaskCluster,
} from "./dask.ts";

const reasons = await debianPythonSkips(
  "dask tests",
  DASK_COMMANDS,
  "distributed",
  "python3-distributed",
);

/** Runs the client script with `target` (a scheduler file or `local`); asserts all tasks ran. */
async function runClient(
  w: Workflow,
  target: string,
  netns: Netns,
  deadline: number,
): Promise<[string, string][]> {
  const script = join(w.dir, "client.py");
  await Deno.writeTextFile(script, clientScript(w));
  const client = new Proc("dask client", DEBIAN_PYTHON, [script, target], { cwd: w.dir, netns });
  let status: Deno.CommandStatus | undefined;
  try {
    status = await until(client.status, deadline);
  } finally {
    await client.stop();
  }
  assert.ok(status, `the dask client did not finish in time\n${client.text}`);
  assert.equal(status.code, 0, `the dask client failed:\n${client.text}`);
  const line = client.text.trim().split("\n").findLast((l) => l.startsWith("{"));
  assert.deepEqual(JSON.parse(line ?? "{}").codes, Array(TASKS).fill(0), client.text);
  return [["dask client", client.text]];
}

function workersUsed(records: { engine: Record<string, string> }[]): number {
  return new Set(records.map((r) => r.engine.DASK_WORKER)).size;
}

const noDaemons = () => Promise.resolve({ logs: () => Promise.resolve([]), stop: async () => {} });

Deno.test({
  name: `dask: a LocalCluster runs ${TASKS} tasks with the shipped poncho, one shared store`,
  ignore: reasons.length > 0,
  async fn() {
    // The client script owns its cluster (worker processes it starts and closes).
    const records = await engineTest(
      { prefix: "poncho-dask-local-", start: noDaemons, engineVar: "DASK_WORKER" },
      (w, _e, netns, deadline) => runClient(w, "local", netns, deadline),
    );
    assert.equal(workersUsed(records), 2, "tasks ran on both LocalCluster workers");
  },
});

Deno.test({
  name:
    `dask: dask scheduler + 2 workers run ${TASKS} tasks with the shipped poncho, one shared store`,
  ignore: reasons.length > 0,
  async fn() {
    const records = await engineTest(
      { prefix: "poncho-dask-", start: startDaskCluster, engineVar: "DASK_WORKER" },
      (w, cluster, netns, deadline) => runClient(w, cluster.schedulerFile, netns, deadline),
    );
    assert.equal(workersUsed(records), 2, "tasks ran on both workers");
  },
});
