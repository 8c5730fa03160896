/**
 * Makeflow over a batch system for the engine tests: one rule per task, the
 * shipped `poncho`, the archive, the task and the barrier as inputs, and
 * `PONCHO_STORE` exported by the workflow file.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Netns, Proc, readOr, taskCommand, TASKS, until, type Workflow } from "./common.ts";

/** Writes `tasks.mf` into the workflow dir: {@link TASKS} rules, `PONCHO_STORE` exported. */
export async function writeMakeflow(w: Workflow): Promise<string> {
  const rules = [`export PONCHO_STORE=${w.store}`, ""];
  for (let i = 1; i <= TASKS; i++) {
    rules.push(
      `out.${i}.txt err.${i}.txt: poncho env.tar.zst task.py barrier.sh`,
      `\t${taskCommand(String(i))}`,
      "",
    );
  }
  const path = join(w.wf, "tasks.mf");
  await Deno.writeTextFile(path, rules.join("\n"));
  return path;
}

/**
 * Runs `makeflow -T <batch> -J <TASKS> tasks.mf` in the workflow dir inside
 * `netns` with the engine's client environment `env`; asserts it succeeded
 * by `deadline`. Returns its output and log for a failure report.
 */
export async function runMakeflow(
  w: Workflow,
  batch: string,
  env: Record<string, string>,
  netns: Netns,
  deadline: number,
): Promise<[string, string][]> {
  await writeMakeflow(w);
  const makeflow = new Proc(
    "makeflow",
    "makeflow",
    ["-T", batch, "-J", String(TASKS), "tasks.mf"],
    {
      cwd: w.wf,
      // Debian's makeflow links Open MPI, which aborts on the namespace's two lo addresses
      // unless told to use lo.
      env: { ...env, OMPI_MCA_oob_tcp_if_include: "lo" },
      netns,
    },
  );
  let status: Deno.CommandStatus | undefined;
  try {
    status = await until(makeflow.status, deadline);
  } finally {
    await makeflow.stop();
  }
  const said: [string, string][] = [
    ["makeflow output", makeflow.text],
    ["makeflow log", await readOr(join(w.wf, "tasks.mf.makeflowlog"), "(none)")],
  ];
  assert.ok(status, `makeflow -T ${batch} did not finish in time\n${makeflow.text}`);
  assert.equal(status.code, 0, `makeflow -T ${batch} failed:\n${makeflow.text}`);
  return said;
}
