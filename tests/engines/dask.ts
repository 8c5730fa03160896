/**
 * Dask distributed for the engine tests, with Debian's `python3-distributed`
 * (run by `/usr/bin/python3`: a `python3` earlier on PATH may not see
 * Debian's dist-packages). Two ways: a client script that makes its own
 * `LocalCluster` (2 worker processes of 4 threads on 127.0.0.1), and a
 * `dask scheduler` with two `dask worker --no-nanny` daemons the test starts
 * and stops by PID. No bokeh in Debian 12, hence no dashboard.
 *
 * Each task is a Python function that runs the task's shell command
 * (see `taskCommand`) with `subprocess` in the workflow dir and returns its
 * exit code; `DASK_WORKER` (the worker's address) is put in its environment so
 * the task can say where it ran.
 *
 * @module
 */
import { join } from "node:path";
import {
  type Netns,
  Proc,
  readOr,
  skipReasons,
  stopPid,
  taskCommand,
  TASKS,
  waitFor,
  type Workflow,
} from "./common.ts";

/** The interpreter that has Debian's dask. */
export const DEBIAN_PYTHON = "/usr/bin/python3";

/** The commands a Dask test needs. */
export const DASK_COMMANDS = [DEBIAN_PYTHON, "/usr/bin/dask"];

/**
 * Why a test of `what` cannot run: {@linkcode skipReasons} of `commands`,
 * then whether Debian's python3 imports `modules` (else: install `pkg`).
 * Printed when there is any.
 */
export async function debianPythonSkips(
  what: string,
  commands: string[],
  modules: string,
  pkg: string,
): Promise<string[]> {
  const reasons = await skipReasons(commands);
  if (reasons.length === 0 && !await debianPythonImports(modules)) {
    reasons.push(`${DEBIAN_PYTHON} cannot import ${modules} (install ${pkg})`);
  }
  if (reasons.length > 0) console.log(`${what} skipped: ${reasons.join("; ")}`);
  return reasons;
}

/** True when Debian's python3 runs `import <modules>` (false when it cannot even start). */
export async function debianPythonImports(modules: string): Promise<boolean> {
  try {
    const o = await new Deno.Command(DEBIAN_PYTHON, {
      args: ["-c", `import ${modules}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return o.success;
  } catch {
    return false;
  }
}

/**
 * The client script: connects to `sys.argv[1]` (a scheduler file) or, with
 * `local`, starts a LocalCluster; submits {@link TASKS} tasks at once; prints
 * one JSON line `{"codes": [...], "workers": [...]}`.
 */
export function clientScript(w: Workflow): string {
  const commands = Array.from({ length: TASKS }, (_, i) => taskCommand(String(i + 1)));
  return `import json, os, subprocess, sys
from distributed import Client, LocalCluster, get_worker

COMMANDS = ${JSON.stringify(commands)}

def task(command):
    env = dict(os.environ, PONCHO_STORE=${JSON.stringify(w.store)},
               DASK_WORKER=get_worker().address)
    return subprocess.run(["/bin/sh", "-c", command], cwd=${JSON.stringify(w.wf)}, env=env,
                          timeout=120).returncode

def main():
    if sys.argv[1] == "local":
        cluster = LocalCluster(n_workers=2, threads_per_worker=4, host="127.0.0.1",
                               dashboard_address=None, processes=True)
        client = Client(cluster)
    else:
        cluster = None
        client = Client(scheduler_file=sys.argv[1], timeout=30)
        client.wait_for_workers(2, timeout=30)
    try:
        futures = client.map(task, COMMANDS, pure=False)
        codes = client.gather(futures)
        print(json.dumps({"codes": codes}), flush=True)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

if __name__ == "__main__":
    main()
`;
}

/** A running `dask scheduler` with two workers. */
export interface DaskCluster {
  /** The scheduler file clients connect with. */
  schedulerFile: string;
  /** The daemons' output, for a failure report. */
  logs(): Promise<[string, string][]>;
  /** Stops the workers, then the scheduler, by PID. */
  stop(): Promise<void>;
}

/** Starts `dask scheduler` and two `dask worker --no-nanny --nthreads 4` inside `netns`. */
export async function startDaskCluster(
  base: string,
  netns: Netns,
  deadline: number,
): Promise<DaskCluster> {
  await Deno.mkdir(base, { recursive: true });
  const schedulerFile = join(base, "scheduler.json");
  const procs: Proc[] = [];
  const stop = async () => {
    for (const p of [...procs].reverse()) {
      await stopPid(p.pid, p.name);
      await p.stop();
    }
  };
  const logs = () => Promise.resolve(procs.map((p): [string, string] => [p.name, p.text]));
  try {
    procs.push(
      new Proc("dask scheduler", "/usr/bin/dask", [
        "scheduler",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-dashboard",
        "--scheduler-file",
        schedulerFile,
      ], { cwd: base, netns }),
    );
    await waitFor("the dask scheduler file", async () => {
      return (await readOr(schedulerFile)).includes("tcp://127.0.0.1:");
    }, deadline);
    for (const n of [1, 2]) {
      procs.push(
        new Proc(`dask worker ${n}`, "/usr/bin/dask", [
          "worker",
          "--no-nanny",
          "--nthreads",
          "4",
          "--host",
          "127.0.0.1",
          "--no-dashboard",
          "--name",
          `w${n}`,
          "--scheduler-file",
          schedulerFile,
        ], { cwd: base, netns }),
      );
    }
  } catch (err) {
    const text = (await logs()).map(([t, x]) => `--- ${t}\n${x}`).join("\n");
    await stop();
    throw new Error(`${(err as Error).message}\n${text}`);
  }
  return { schedulerFile, logs, stop };
}
