/**
 * A real distributed engine (issue #5): a Makeflow workflow run with
 * `makeflow -T wq` and two `work_queue_worker` processes on loopback. Every
 * task runs `./poncho run -e env.tar.zst -- python task.py N` in its worker's
 * sandbox, with the archive and the single file `dist/poncho` shipped as task
 * inputs (as a user would: the workers run with `PATH=/usr/bin:/bin`, no Deno
 * and no checkout) and one store (`PONCHO_STORE`, exported by the makeflow
 * file) shared by both workers. The single file's runtime and the
 * environment must each be unpacked exactly once for the store.
 *
 * A small barrier (shipped as `barrier.sh`) holds each task until all eight
 * have started (each rule asks for one core; each worker offers four), so
 * eight `poncho run`s race for the same store at the same time on both workers.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildTestChannel, fixtureToolsAvailable } from "./fixtures/channel.ts";
import { distPoncho } from "./util.ts";
import { Proc, readOr, until } from "./engines/common.ts";

const MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const TASKS = 8;
const WORKERS = 2;
/** The archive, the workflow and the checks must finish within this. */
const OVERALL_MS = 120_000;

async function commandOk(cmd: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

async function skipReasons(): Promise<string[]> {
  const reasons: string[] = [];
  for (const tool of ["makeflow", "work_queue_worker", "mpirun"]) {
    if (!await commandOk("sh", ["-c", `command -v ${tool}`])) reasons.push(`missing ${tool}`);
  }
  // Debian's makeflow aborts at start without openmpi-bin; check it really starts.
  if (reasons.length === 0 && !await commandOk("makeflow", ["--version"])) {
    reasons.push("makeflow --version fails (is openmpi-bin installed?)");
  }
  const tools = await fixtureToolsAvailable();
  if (!tools.ok) reasons.push(`missing fixture tools ${tools.missing.join(", ")}`);
  return reasons;
}

const reasons = await skipReasons();
if (reasons.length > 0) console.log(`workqueue test skipped: ${reasons.join("; ")}`);
const ignore = reasons.length > 0;

const dec = new TextDecoder();

async function poncho(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--no-check", MAIN, ...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

const TASK_PY = `import json, os, sys
import pyhello

pyhello.main()
print(json.dumps({"task": sys.argv[1], "prefix": sys.prefix, "pyhello": pyhello.__file__,
                  "cwd": os.getcwd()}))
`;

// Holds a task until all TASKS tasks have started, on any worker; fails after 60 s.
const BARRIER_SH = `#!/bin/sh
: > "$BARRIER/$1"
i=0
while [ "$(ls "$BARRIER" | wc -l)" -lt ${TASKS} ] && [ "$i" -lt 600 ]; do
  sleep 0.1
  i=$((i + 1))
done
[ "$i" -lt 600 ] || { echo "barrier: not all tasks started together" >&2; exit 1; }
`;

Deno.test({
  name:
    `makeflow -T wq: ${TASKS} tasks on ${WORKERS} workers run poncho, one shared store unpacks once`,
  ignore,
  async fn() {
    const ch = await buildTestChannel(); // cached; a cold build is not this test's time
    const single = await distPoncho(); // likewise
    const deadline = Date.now() + OVERALL_MS;
    const dir = await Deno.makeTempDir({ prefix: "poncho-wq-" });
    const procs: Proc[] = [];
    let makeflow: Proc | undefined;
    let failed = false;
    const store = join(dir, "shared-store");
    const barrier = join(dir, "barrier");
    const wf = join(dir, "wf");
    const diagnostics = async (): Promise<string> => {
      const parts: string[] = [];
      const add = (title: string, text: string) => parts.push(`--- ${title} ---\n${text.trim()}`);
      if (makeflow) add("makeflow output", makeflow.text);
      add("makeflow log", await readOr(join(wf, "tasks.mf.makeflowlog"), "(none)"));
      add("work queue log", await readOr(join(wf, "tasks.mf.wqlog"), "(none)"));
      for (const p of procs) add(p.name, p.text);
      for (let i = 1; i <= TASKS; i++) {
        add(`task ${i} stdout`, await readOr(join(wf, `out${i}.txt`), "(missing)"));
        add(`task ${i} stderr`, await readOr(join(wf, `err${i}.txt`), "(missing)"));
      }
      return parts.join("\n");
    };
    try {
      // The archive, built with a separate store so the shared run store starts empty.
      await Deno.mkdir(wf);
      await Deno.mkdir(barrier);
      const spec = join(dir, "spec.json");
      await Deno.writeTextFile(
        spec,
        JSON.stringify({ conda: { channels: [ch.url], dependencies: ["python", "pyhello"] } }),
      );
      const archive = join(wf, "env.tar.zst");
      const created = await poncho(
        ["create", "-q", "--store", join(dir, "create-store"), spec, archive],
        dir,
      );
      assert.equal(created.code, 0, created.out);
      const where = await poncho(["store", "path", "--planned", "--store", store, archive], dir);
      assert.equal(where.code, 0, where.out);
      const envPath = where.out.trim();

      // The workflow: the single file, the archive, the barrier and the task are inputs.
      await Deno.copyFile(single, join(wf, "poncho"));
      await Deno.chmod(join(wf, "poncho"), 0o755);
      await Deno.writeTextFile(join(wf, "barrier.sh"), BARRIER_SH);
      await Deno.writeTextFile(join(wf, "task.py"), TASK_PY);
      assert.ok(!/\s/.test(store + barrier), `temp paths must not hold spaces: ${store}`);
      const rules = [
        `export PONCHO_STORE=${store}`,
        `export BARRIER=${barrier}`,
        "CORES=1",
        "MEMORY=100",
        "DISK=100",
        "",
      ];
      for (let i = 1; i <= TASKS; i++) {
        rules.push(
          `out${i}.txt err${i}.txt: poncho env.tar.zst task.py barrier.sh`,
          `\tsh barrier.sh ${i} && ./poncho run -d -e env.tar.zst -- python task.py ${i} ` +
            `> out${i}.txt 2> err${i}.txt`,
          "",
        );
      }
      await Deno.writeTextFile(join(wf, "tasks.mf"), rules.join("\n"));

      // The manager picks a free port and writes it to port.txt; a password keeps
      // any other worker on this machine (another test run's) out of this workflow.
      const portFile = join(wf, "port.txt");
      const password = join(dir, "password");
      await Deno.writeTextFile(password, crypto.randomUUID() + "\n");
      makeflow = new Proc(
        "makeflow",
        "makeflow",
        ["-T", "wq", "-p", "0", "-Z", portFile, "--password", password, "tasks.mf"],
        { cwd: wf },
      );
      let port = 0;
      while (Date.now() < deadline && !makeflow.exited) {
        port = Number((await readOr(portFile)).trim());
        if (port > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(port > 0, `makeflow wrote no port to ${portFile}`);

      // Workers on loopback, each in its own workdir; they exit when the manager leaves
      // (--single-shot), when idle or unable to connect (-t), or when this test dies.
      for (let w = 0; w < WORKERS; w++) {
        const workdir = join(dir, `worker-${w}`);
        await Deno.mkdir(workdir);
        procs.push(
          new Proc(
            `worker ${w}`,
            "work_queue_worker",
            [
              "--single-shot",
              "--parent-death",
              "-P",
              password,
              "-t",
              "60",
              "--cores",
              String(TASKS / WORKERS),
              "--memory",
              "2000",
              "--disk",
              "4000",
              "-s",
              workdir,
              "127.0.0.1",
              String(port),
            ],
            { cwd: workdir, env: { PATH: "/usr/bin:/bin" } },
          ),
        );
      }

      const status = await until(makeflow.status, deadline);
      assert.ok(
        status,
        `makeflow did not finish within ${OVERALL_MS / 1000} s`,
      );
      assert.equal(status.code, 0, "makeflow failed");

      // Every task's output came back, ran in the one store env and imported pyhello from it.
      const workersUsed = new Set<number>();
      let unpacked = 0;
      let found = 0;
      let runtimes = 0;
      for (let i = 1; i <= TASKS; i++) {
        const out = await readOr(join(wf, `out${i}.txt`), "(missing)");
        const err = await readOr(join(wf, `err${i}.txt`), "(missing)");
        const context = `task ${i}: stdout:\n${out}\nstderr:\n${err}`;
        assert.match(out, /^hello from pyhello$/m, context);
        const line = out.trim().split("\n").at(-1)!;
        const r = JSON.parse(line);
        assert.equal(r.task, String(i), context);
        assert.equal(r.prefix, envPath, context);
        assert.ok(String(r.pyhello).startsWith(`${envPath}/`), context);
        const w = [...Array(WORKERS).keys()].find((n) =>
          String(r.cwd).startsWith(join(dir, `worker-${n}`) + "/")
        );
        assert.ok(w !== undefined, `task ${i} ran outside the workers' workdirs\n${context}`);
        workersUsed.add(w);
        if (/unpacked environment at /.test(err)) unpacked++;
        if (/found environment at /.test(err)) found++;
        if (/^poncho: first start, unpacking the runtime into /m.test(err)) runtimes++;
      }
      assert.equal(workersUsed.size, WORKERS, `tasks ran on workers ${[...workersUsed]} only`);
      // Unpacked exactly once for the store: one run unpacked, the others found it.
      assert.equal(unpacked, 1, "runs that unpacked");
      assert.equal(found, TASKS - 1, "runs that found the environment unpacked");
      assert.equal(runtimes, 1, "starts of the single file that unpacked its runtime");
      assert.equal([...Deno.readDirSync(join(store, "v1", "runtime"))].length, 1);
      const envs = [...Deno.readDirSync(join(store, "v1", "envs"))].map((e) => e.name);
      assert.deepEqual(envs.map((e) => join(store, "v1", "envs", e)), [envPath]);
      assert.deepEqual([...Deno.readDirSync(join(store, "v1", "tmp"))], []);
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      // Makeflow first (its workers then leave on their own), then whatever is left.
      await makeflow?.stop();
      for (const p of procs) await p.stop();
      if (failed) {
        console.error(`workqueue test failed; what the engine said:\n${await diagnostics()}`);
      }
      await Deno.remove(dir, { recursive: true }).catch((err) => {
        if (!failed) throw err;
      });
    }
  },
});
