/**
 * Work Queue for the engine tests: managers written with Debian's
 * `python3-workqueue` Python API (run by `/usr/bin/python3`) or Makeflow's
 * `-T wq`, and `work_queue_worker`s on 127.0.0.1 the test starts and stops by
 * PID. The manager picks a free port and writes it to a file; a password
 * keeps other workers on the machine out.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Netns,
  Proc,
  readOr,
  sleep,
  stopPid,
  SYSTEM_PATH,
  taskCommand,
  TASKS,
  until,
  type Workflow,
} from "./common.ts";
import { DEBIAN_PYTHON, debianPythonImports } from "./dask.ts";

/** The commands a Work Queue test needs. */
export const WQ_COMMANDS = [DEBIAN_PYTHON, "work_queue_worker"];

/** True when Debian's python3 imports `work_queue` (and, with `dill`, dill too). */
export function workQueueApiAvailable(dill = false): Promise<boolean> {
  return debianPythonImports(dill ? "work_queue, dill" : "work_queue");
}

/** Workers per test; {@link WORKER_CORES} each, so all {@link TASKS} tasks run at once. */
export const WORKERS = 2;
/** Cores each worker reports. */
export const WORKER_CORES = TASKS / WORKERS;

/** The Python prologue of a manager: a queue on a free port, written to `port.txt`. */
function managerPrologue(w: Workflow): string {
  return `import json, os, sys
import work_queue as wq

WF = ${JSON.stringify(w.wf)}
q = wq.WorkQueue(port=0)
q.specify_password_file(${JSON.stringify(join(w.dir, "password"))})
with open(os.path.join(${JSON.stringify(w.dir)}, "port.tmp"), "w") as f:
    f.write(str(q.port))
os.rename(os.path.join(${JSON.stringify(w.dir)}, "port.tmp"),
          os.path.join(${JSON.stringify(w.dir)}, "port.txt"))
`;
}

/** Waits for every submitted task; prints `{"results": [...]}` (one record per task). */
const MANAGER_EPILOGUE = `
results = []
while not q.empty() and len(results) < len(tasks):
    t = q.wait(5)
    if t:
        results.append(record(t))
print(json.dumps({"results": results}), flush=True)
`;

/**
 * A manager with plain tasks: each runs the task's shell command with
 * `poncho`, `env.tar.zst`, `task.py` and `barrier.sh` as cached inputs, its
 * outputs as uncached outputs and `PONCHO_STORE` set by
 * `specify_environment_variable`.
 */
export function plainTasksManager(w: Workflow): string {
  return managerPrologue(w) + `
tasks = []
for i in range(1, ${TASKS} + 1):
    t = wq.Task(${JSON.stringify(taskCommand("{i}"))}.format(i=i))
    for name in ("poncho", "env.tar.zst", "task.py", "barrier.sh"):
        t.specify_input_file(os.path.join(WF, name), name, cache=True)
    for name in ("out.%d.txt" % i, "err.%d.txt" % i):
        t.specify_output_file(os.path.join(WF, name), name, cache=False)
    t.specify_environment_variable("PONCHO_STORE", ${JSON.stringify(w.store)})
    t.specify_cores(1)
    q.submit(t)
    tasks.append(t)

def record(t):
    return {"tag": t.command, "result": t.result, "status": t.return_status}
` + MANAGER_EPILOGUE;
}

/**
 * A manager with `PythonTask`s: each runs `square(i)` (which imports
 * pyhello and reports where it ran) inside the environment through
 * `specify_environment("env.tar.zst")`, that is Debian's
 * `./python_package_run -e env.tar.zst --unpack-to "$WORK_QUEUE_SANDBOX"/env.tar.zst-env
 * python ...`, with `python_package_run` found on PATH and shipped by Work Queue.
 */
export function pythonTasksManager(w: Workflow): string {
  return managerPrologue(w) + `
os.chdir(WF)  # specify_environment ships the archive by the path it is given

def square(x):
    import os, sys
    import pyhello
    return {"x": x, "square": x * x, "prefix": sys.prefix, "pyhello": pyhello.__file__,
            "sandbox": os.environ.get("WORK_QUEUE_SANDBOX")}

tasks = []
for i in range(1, ${TASKS} + 1):
    t = wq.PythonTask(square, i)
    t.specify_environment("env.tar.zst")
    t.specify_environment_variable("PONCHO_STORE", ${JSON.stringify(w.store)})
    t.specify_environment_variable("PYTHON_PACKAGE_RUN_DEBUG", "yes")
    t.specify_cores(1)
    q.submit(t)
    tasks.append(t)

def record(t):
    out = t.output
    return {"result": t.result, "status": t.return_status, "command": t.command,
            "output": out if isinstance(out, dict) else repr(out), "stdout": t.std_output}
` + MANAGER_EPILOGUE;
}

/** What a manager run printed. */
export interface ManagerRun {
  /** The manager's JSON `results`. */
  results: Record<string, unknown>[];
  /** Everything the manager and the workers said, for a failure report. */
  said: [string, string][];
}

/**
 * Runs the manager `script` (Python source) with `path` prepended to PATH
 * when given, starts {@link WORKERS} workers once it has written its port,
 * and waits for it to finish by `deadline`. Stops the workers by PID.
 */
export async function runManager(
  w: Workflow,
  script: string,
  netns: Netns,
  deadline: number,
  path?: string,
): Promise<ManagerRun> {
  await Deno.writeTextFile(join(w.dir, "password"), crypto.randomUUID() + "\n");
  const file = join(w.dir, "manager.py");
  await Deno.writeTextFile(file, script);
  const env: Record<string, string> = path ? { PATH: `${path}:${SYSTEM_PATH}` } : {};
  const manager = new Proc("manager", DEBIAN_PYTHON, [file], { cwd: w.dir, env, netns });
  const workers: Proc[] = [];
  try {
    const port = await managerPort(join(w.dir, "port.txt"), manager, deadline);
    workers.push(...await startWorkers(w, port, netns));
    const status = await until(manager.status, deadline);
    assert.ok(status, `the Work Queue manager did not finish in time\n${manager.text}`);
    assert.equal(status.code, 0, `the Work Queue manager failed:\n${manager.text}`);
  } finally {
    await manager.stop();
    for (const p of workers) {
      await stopPid(p.pid, p.name);
      await p.stop();
    }
  }
  const line = manager.text.trim().split("\n").findLast((l) => l.startsWith('{"results"'));
  assert.ok(line, `no results from the manager:\n${manager.text}`);
  return {
    results: JSON.parse(line).results,
    said: [["manager", manager.text], ...workers.map((p): [string, string] => [p.name, p.text])],
  };
}

/** Waits for a manager (makeflow or a script) to write its port; returns it. */
export async function managerPort(file: string, manager: Proc, deadline: number): Promise<number> {
  while (Date.now() < deadline && !manager.exited) {
    const port = Number((await readOr(file)).trim());
    if (port > 0) return port;
    await sleep(100);
  }
  throw new Error(`the manager wrote no port to ${file}:\n${manager.text}`);
}

/**
 * Starts {@link WORKERS} `work_queue_worker`s on 127.0.0.1:`port`, each with
 * its own workdir under the test's dir; they leave when the manager does
 * (`--single-shot`), when idle (`-t`), or when the test dies (`--parent-death`).
 */
export async function startWorkers(w: Workflow, port: number, netns: Netns): Promise<Proc[]> {
  const procs: Proc[] = [];
  for (let n = 0; n < WORKERS; n++) {
    const workdir = join(w.dir, `worker-${n}`);
    await Deno.mkdir(workdir);
    procs.push(
      new Proc(`worker ${n}`, "work_queue_worker", [
        "--single-shot",
        "--parent-death",
        "--cores",
        String(WORKER_CORES),
        "-P",
        join(w.dir, "password"),
        "-t",
        "60",
        "-s",
        workdir,
        "127.0.0.1",
        String(port),
      ], { cwd: workdir, netns }),
    );
  }
  return procs;
}
