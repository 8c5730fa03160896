/**
 * What every engine test shares: processes with collected output and a
 * bounded stop, daemons stopped by PID, a private network namespace, the
 * workflow directory (the shipped `poncho`, the archive, the task, a barrier)
 * and the checks every test makes of the tasks' results.
 *
 * Each engine test runs {@link TASKS} tasks that start together (a barrier
 * holds each until all have started) and run
 * `./poncho run -d -e env.tar.zst -- python task.py I` against one shared
 * store. The checks: every task's output, every task saw the others start,
 * exactly one unpack, the store's `tmp/` empty afterwards.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildTestChannel, fixtureToolsAvailable } from "../fixtures/channel.ts";
import { distPoncho, hasCommand, runPoncho } from "../util.ts";

/** Tasks per engine test; they all start together. */
export const TASKS = 8;

/** How long a barrier waits for all tasks before letting its task go (and saying so). */
const BARRIER_SECONDS = 40;

/** Single-quotes `s` for sh. */
export function sq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Resolves with `p`'s value, or `undefined` once `deadline` (ms since epoch) has passed. */
export async function until<T>(p: Promise<T>, deadline: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every `stepMs` until it is true; throws naming `what` at `deadline`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  deadline: number,
  stepMs = 100,
): Promise<void> {
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(stepMs);
  }
  if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

/** The file's text, or `fallback` when it cannot be read. */
export async function readOr(path: string, fallback = ""): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return fallback;
  }
}

/** True while process `pid` exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/**
 * Stops process `pid`: SIGTERM, then SIGKILL after `graceMs`; returns once it
 * is gone (or a zombie of a parent that is not us). Throws if even SIGKILL
 * does not end it within a second.
 */
export async function stopPid(pid: number, name: string, graceMs = 5_000): Promise<void> {
  const send = (sig: Deno.Signal) => {
    try {
      Deno.kill(pid, sig);
    } catch { /* gone */ }
  };
  if (!pidAlive(pid)) return;
  send("SIGTERM");
  const soft = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < soft) await sleep(50);
  if (!pidAlive(pid)) return;
  send("SIGKILL");
  const hard = Date.now() + 1_000;
  while (pidAlive(pid) && Date.now() < hard) await sleep(20);
  if (pidAlive(pid)) throw new Error(`${name} (pid ${pid}) did not stop`);
}

/**
 * Live processes whose working directory is `dir` or below it (the engines'
 * daemons and tasks all run there), as `pid cmdline` strings.
 */
export function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cwd = Deno.readLinkSync(`/proc/${e.name}/cwd`);
      if ((cwd === dir || cwd.startsWith(dir + "/")) && pidAlive(Number(e.name))) {
        const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replaceAll("\0", " ");
        found.push(`${e.name} ${cmd.trim()}`);
      }
    } catch { /* gone, or not ours to read */ }
  }
  return found;
}

/** Reads a daemon's PID file once it holds a live PID (throws naming it at `deadline`). */
export async function readPidFile(path: string, name: string, deadline: number): Promise<number> {
  let pid = 0;
  await waitFor(`${name} to write ${path}`, async () => {
    pid = Number((await readOr(path)).trim());
    return pid > 0 && pidAlive(pid);
  }, deadline);
  return pid;
}

/**
 * The PATH every engine process gets: the system's directories only, so the
 * tasks run the shipped `poncho` file with no Deno, checkout or pyenv on PATH.
 */
export const SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

/** How to start one process. */
export interface ProcOptions {
  /** Working directory. */
  cwd: string;
  /** Extra environment variables (added to the inherited ones). */
  env?: Record<string, string>;
  /** Run inside this network namespace. */
  netns?: Netns;
}

/** A spawned process whose output is collected as it comes, with a bounded stop. */
export class Proc {
  /** The child. */
  readonly child: Deno.ChildProcess;
  /** Output so far (stdout and stderr interleaved by chunk). */
  text = "";
  /** Set once the process has exited. */
  exited = false;
  /** Resolves when the process has exited and its output ended. */
  readonly done: Promise<unknown>;
  /** The exit status. */
  readonly status: Promise<Deno.CommandStatus>;

  /** Starts `cmd args` (see {@link ProcOptions}). */
  constructor(readonly name: string, cmd: string, args: string[], opts: ProcOptions) {
    const [c, a] = opts.netns ? opts.netns.wrap(cmd, args) : [cmd, args];
    this.child = new Deno.Command(c, {
      args: a,
      cwd: opts.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", PATH: SYSTEM_PATH, ...opts.env },
    }).spawn();
    const collect = async (s: ReadableStream<Uint8Array>) => {
      const d = new TextDecoder();
      for await (const chunk of s) this.text += d.decode(chunk, { stream: true });
    };
    this.status = this.child.status.then((s) => {
      this.exited = true;
      return s;
    });
    this.done = Promise.all([collect(this.child.stdout), collect(this.child.stderr), this.status]);
  }

  /** The PID. */
  get pid(): number {
    return this.child.pid;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; waits for the exit and the end of the output. */
  async stop(graceMs = 5_000): Promise<void> {
    const signal = (sig: Deno.Signal) => {
      if (this.exited) return;
      try {
        this.child.kill(sig);
      } catch { /* already gone */ }
    };
    signal("SIGTERM");
    if (!await until(this.status, Date.now() + graceMs)) {
      signal("SIGKILL");
      await until(this.status, Date.now() + 2_000);
    }
    // A grandchild still holding the pipes must not hang the test.
    await until(this.done, Date.now() + 2_000);
  }
}

/** Runs `cmd args` to the end (inside `netns` when given); exit code and output. */
export async function runCmd(
  cmd: string,
  args: string[],
  opts: Partial<ProcOptions> & { stdin?: string } = {},
): Promise<{ code: number; out: string; err: string }> {
  const [c, a] = opts.netns ? opts.netns.wrap(cmd, args) : [cmd, args];
  const child = new Deno.Command(c, {
    args: a,
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", PATH: SYSTEM_PATH, ...opts.env },
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const o = await child.output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

/**
 * A fresh network namespace with only loopback up (127.0.0.1, plus
 * 127.0.0.2 so glibc's `AI_ADDRCONFIG` sees an IPv4 address), held open by
 * a `sleep` process; commands enter it with `nsenter -n`. Daemons started in
 * it bind ports nobody else on the machine sees, so concurrent test runs
 * cannot collide.
 */
export class Netns {
  private constructor(private readonly holder: Proc | null) {}

  /** No namespace: commands run on the host's network (where `unshare -n` is not possible). */
  static host(): Netns {
    return new Netns(null);
  }

  /** Opens one, or returns null (and why) when `unshare -n` is not possible here. */
  static async open(cwd: string): Promise<Netns | string> {
    if (!hasCommand("unshare") || !hasCommand("nsenter") || !hasCommand("ip")) {
      return "no unshare, nsenter or ip";
    }
    const holder = new Proc(
      "netns holder",
      "unshare",
      [
        "-n",
        "sh",
        "-c",
        "ip link set lo up && ip addr add 127.0.0.2/8 dev lo && echo ready && exec sleep 300",
      ],
      { cwd },
    );
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && !holder.exited && !holder.text.includes("ready")) {
      await sleep(20);
    }
    if (!holder.text.includes("ready")) {
      await holder.stop();
      return `unshare -n failed: ${holder.text.trim()}`;
    }
    return new Netns(holder);
  }

  /** The command line that runs `cmd args` inside the namespace. */
  wrap(cmd: string, args: string[]): [string, string[]] {
    if (!this.holder) return [cmd, args];
    return ["nsenter", ["-t", String(this.holder.pid), "-n", "--", cmd, ...args]];
  }

  /** Ends the namespace (its holder). */
  async close(): Promise<void> {
    await this.holder?.stop(1_000);
  }
}

/** Skip reasons for an engine test: missing commands and fixture tools. */
export async function skipReasons(commands: string[]): Promise<string[]> {
  const reasons = commands.filter((c) => !hasCommand(c)).map((c) => `missing ${c}`);
  const tools = await fixtureToolsAvailable();
  if (!tools.ok) reasons.push(`missing fixture tools ${tools.missing.join(", ")}`);
  return reasons;
}

/**
 * Puts the shipped `poncho` at `path`: a copy of the single file `dist/poncho`
 * (built once per test run, see `distPoncho`), executable. Under another file
 * name (`python_package_run`) it answers as that CCTools command.
 */
export async function shipPoncho(path: string): Promise<void> {
  await Deno.copyFile(await distPoncho(), path);
  await Deno.chmod(path, 0o755);
}

/** A prepared workflow directory. */
export interface Workflow {
  /** The test's private temp dir (removed by {@link Workflow.cleanup}). */
  dir: string;
  /** The workflow directory: `poncho`, `env.tar.zst`, `task.py`, `barrier.sh`. */
  wf: string;
  /** The shared store the tasks use (starts empty). */
  store: string;
  /** Where the archive's environment lands in {@link Workflow.store}. */
  envPath: string;
  /** Removes {@link Workflow.dir}. */
  cleanup(): Promise<void>;
}

const TASK_PY = `import json, os, sys
import pyhello

# Set by the engine that ran the task: the tests check the task really ran under it.
ENGINE_VARS = ("SLURM_JOB_ID", "SLURM_ARRAY_TASK_ID", "JOB_ID", "SGE_TASK_ID", "QUEUE", "DASK_WORKER",
               "WORK_QUEUE_SANDBOX")

pyhello.main()
engine = {k: v for k, v in os.environ.items() if k in ENGINE_VARS}
print(json.dumps({"task": sys.argv[1], "prefix": sys.prefix, "pyhello": pyhello.__file__,
                  "cwd": os.getcwd(), "engine": engine}))
`;

/** The shell command that runs task `i` (a number or a shell expression) in the workflow dir. */
export function taskCommand(i: string): string {
  return `sh barrier.sh ${i} && ./poncho run -d -e env.tar.zst -- python task.py ${i} ` +
    `> out.${i}.txt 2> err.${i}.txt`;
}

/**
 * Makes a private temp dir with a workflow directory: the shipped `poncho`,
 * the archive (python + pyhello, and whatever `extraPackages` names) built
 * from the test channel with a separate store, `task.py`, and `barrier.sh`,
 * which holds each task until {@link TASKS} have started (at most
 * {@link BARRIER_SECONDS} s; a task let go early writes `late.I`).
 */
export async function prepareWorkflow(
  prefix: string,
  extraPackages: string[] = [],
): Promise<Workflow> {
  const ch = await buildTestChannel(); // cached; a cold build is not the engine's time
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.chmod(dir, 0o755); // daemons (munged) refuse sockets under a 0700 dir
  const wf = join(dir, "wf");
  const store = join(dir, "store");
  const barrier = join(dir, "barrier");
  await Deno.mkdir(wf);
  await Deno.mkdir(barrier);
  assert.ok(!/[\s'"$]/.test(dir), `temp paths must not need quoting: ${dir}`);
  const spec = join(dir, "spec.json");
  await Deno.writeTextFile(
    spec,
    JSON.stringify({
      conda: { channels: [ch.url], dependencies: ["python", "pyhello", ...extraPackages] },
    }),
  );
  const archive = join(wf, "env.tar.zst");
  const created = await runPoncho([
    "create",
    "-q",
    "--store",
    join(dir, "create-store"),
    spec,
    archive,
  ]);
  assert.equal(created.code, 0, created.stderr);
  const where = await runPoncho(["store", "path", "--planned", "--store", store, archive]);
  assert.equal(where.code, 0, where.stderr);
  await shipPoncho(join(wf, "poncho"));
  await Deno.writeTextFile(join(wf, "task.py"), TASK_PY);
  await Deno.writeTextFile(
    join(wf, "barrier.sh"),
    `#!/bin/sh
: > ${barrier}/$1
i=0
while [ "$(ls ${barrier} | wc -l)" -lt ${TASKS} ]; do
  if [ "$i" -ge ${BARRIER_SECONDS * 10} ]; then : > ${dir}/late.$1; break; fi
  sleep 0.1
  i=$((i + 1))
done
`,
  );
  return {
    dir,
    wf,
    store,
    envPath: where.stdout.trim(),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

/** What `task.py` prints as its last line. */
export interface TaskRecord {
  /** The task number. */
  task: string;
  /** `sys.prefix`: the store's environment. */
  prefix: string;
  /** Where pyhello was imported from. */
  pyhello: string;
  /** The task's working directory. */
  cwd: string;
  /** The engine's variables the task saw (see `ENGINE_VARS`). */
  engine: Record<string, string>;
}

/** Where a task's outputs are (default: `out.I.txt` and `err.I.txt` in the workflow dir). */
export type OutputsOf = (i: number) => { out: string; err: string };

/**
 * The checks every engine test makes after its {@link TASKS} tasks ran:
 * each printed pyhello's greeting and its JSON line from the store's one
 * environment, none was let go early by the barrier, exactly one unpacked
 * and the others found the environment, the store holds that one
 * environment and nothing in `tmp/`.
 *
 * @param engineVar An environment variable the engine sets in each task (e.g.
 *   `SLURM_JOB_ID`): every task must have seen it.
 * @returns The tasks' JSON records, by task number - 1.
 */
export async function checkTasks(
  w: Workflow,
  engineVar?: string,
  outputsOf: OutputsOf = (i) => ({
    out: join(w.wf, `out.${i}.txt`),
    err: join(w.wf, `err.${i}.txt`),
  }),
): Promise<TaskRecord[]> {
  let unpacked = 0;
  let found = 0;
  const records: TaskRecord[] = [];
  for (let i = 1; i <= TASKS; i++) {
    const paths = outputsOf(i);
    const out = await readOr(paths.out, "(missing)");
    const err = await readOr(paths.err, "(missing)");
    const context = `task ${i}: stdout:\n${out}\nstderr:\n${err}`;
    assert.match(out, /^hello from pyhello$/m, context);
    const r = JSON.parse(out.trim().split("\n").at(-1)!);
    assert.equal(r.task, String(i), context);
    assert.equal(r.prefix, w.envPath, context);
    assert.ok(String(r.pyhello).startsWith(`${w.envPath}/`), context);
    if (engineVar) assert.ok(r.engine[engineVar], `task ${i} did not see ${engineVar}\n${context}`);
    if (/unpacked environment at /.test(err)) unpacked++;
    if (/found environment at /.test(err)) found++;
    records.push(r);
  }
  const late = [...Deno.readDirSync(w.dir)].filter((e) => e.name.startsWith("late.")).length;
  assert.equal(late, 0, `${late} task(s) did not see all ${TASKS} start together`);
  checkStore(w, unpacked, found);
  return records;
}

/**
 * The store after the tasks: `unpacked` runs said they unpacked (must be 1)
 * and `found` that they found it (must be the other {@link TASKS} - 1); the
 * store holds that one environment and nothing in `tmp/`.
 */
export function checkStore(w: Workflow, unpacked: number, found: number): void {
  assert.equal(unpacked, 1, "runs that unpacked");
  assert.equal(found, TASKS - 1, "runs that found the environment unpacked");
  const envs = [...Deno.readDirSync(join(w.store, "v1", "envs"))].map((e) => e.name);
  assert.deepEqual(envs.map((e) => join(w.store, "v1", "envs", e)), [w.envPath]);
  assert.deepEqual([...Deno.readDirSync(join(w.store, "v1", "tmp"))], []);
}

/** `--- title ---` sections of text for a failure report. */
export function report(parts: [string, string][]): string {
  return parts.map(([t, text]) => `--- ${t} ---\n${text.trim()}`).join("\n");
}

/** Every task's output files, for a failure report. */
export async function taskOutputs(w: Workflow): Promise<[string, string][]> {
  const parts: [string, string][] = [];
  for (let i = 1; i <= TASKS; i++) {
    parts.push([`task ${i} stdout`, await readOr(join(w.wf, `out.${i}.txt`), "(missing)")]);
    parts.push([`task ${i} stderr`, await readOr(join(w.wf, `err.${i}.txt`), "(missing)")]);
  }
  return parts;
}

/** A started engine: what {@link engineTest} needs of it. */
export interface Engine {
  /** Its daemons' logs, for a failure report. */
  logs(): Promise<[string, string][]>;
  /** Stops every daemon it started, by PID. */
  stop(): Promise<void>;
}

/** How {@link engineTest} runs one engine test. */
export interface EngineTestOptions<E extends Engine> {
  /** Temp dir prefix, e.g. `poncho-slurm-`. */
  prefix: string;
  /** Starts the engine with its state under `base`, inside `netns`. */
  start: (base: string, netns: Netns, deadline: number) => Promise<E>;
  /** See {@link checkTasks}. */
  engineVar?: string;
  /** Extra packages for the archive (see {@link prepareWorkflow}). */
  extraPackages?: string[];
  /** The engine start, the tasks and the checks must finish within this. */
  overallMs?: number;
  /** Check the tasks' output files with {@link checkTasks} (default true). */
  checkFiles?: boolean;
}

/**
 * Prepares a workflow, opens a network namespace, starts the engine, runs
 * `body` (which runs the {@link TASKS} tasks and returns extra text for a
 * failure report), checks the tasks ({@link checkTasks}); then stops the
 * engine's daemons, closes the namespace and removes the temp dir, whatever
 * happened. On failure it prints what the engine said.
 */
export async function engineTest<E extends Engine>(
  opts: EngineTestOptions<E>,
  body: (w: Workflow, engine: E, netns: Netns, deadline: number) => Promise<[string, string][]>,
): Promise<TaskRecord[]> {
  const w = await prepareWorkflow(opts.prefix, opts.extraPackages);
  const overall = opts.overallMs ?? 50_000;
  const deadline = Date.now() + overall;
  const opened = await Netns.open(w.dir);
  if (typeof opened === "string") {
    console.log(`${opts.prefix}: no network namespace (${opened}); using the host's loopback`);
  }
  const ns = typeof opened === "string" ? Netns.host() : opened;
  let engine: E | undefined;
  let extra: [string, string][] = [];
  let failed = false;
  try {
    engine = await opts.start(join(w.dir, "engine"), ns, deadline);
    extra = await body(w, engine, ns, deadline);
    const records = opts.checkFiles === false ? [] : await checkTasks(w, opts.engineVar);
    assert.ok(Date.now() < deadline, `the test took over ${overall / 1000} s`);
    return records;
  } catch (err) {
    failed = true;
    const logs = engine ? await engine.logs() : [];
    console.error(
      `${opts.prefix}test failed; what the engine said:\n${
        report([...extra, ...logs, ...await taskOutputs(w)])
      }`,
    );
    throw err;
  } finally {
    await engine?.stop();
    await ns.close();
    // Every daemon and task ran under the test's dir: none may outlive the test. Makeflow's
    // batch wrapper kills its heartbeat subshell but not that subshell's `sleep 30`, which
    // Slurm's proctrack/linuxproc then loses track of: those are ended here, by PID.
    let left: string[] = [];
    await waitFor("the engine's processes to end", () => {
      left = processesUnder(w.dir);
      return left.every((p) => /^\d+ sleep \d+$/.test(p));
    }, Date.now() + 3_000).catch(() => {});
    for (const p of left) await stopPid(Number(p.split(" ")[0]), p, 1_000);
    await w.cleanup().catch((err) => {
      if (!failed) throw err;
    });
    const strays = left.filter((p) => !/^\d+ sleep \d+$/.test(p));
    if (!failed) assert.deepEqual(strays, [], "processes left running by the engine");
  }
}
