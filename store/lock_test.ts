import assert from "node:assert/strict";
import { withTempDir } from "../tests/util.ts";
import {
  acquireLock,
  type LockHolder,
  LockTimeoutError,
  readHolder,
  tryLock,
  withLock,
} from "./lock.ts";
import { EXIT_FAILED } from "../lib/errors.ts";

const LOCK_MODULE = new URL("./lock.ts", import.meta.url).href;

/** Spawns a Deno process running `code` (with `LOCK_MODULE` importable as `lock`). */
function spawnDeno(code: string, stdout: "piped" | "null" = "null"): Deno.ChildProcess {
  const src = `import * as lock from ${JSON.stringify(LOCK_MODULE)};\n${code}`;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", src],
    stdout,
    stderr: "inherit",
  }).spawn();
}

async function waitForFile(path: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      await Deno.stat(path);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  throw new Error(`timed out waiting for ${path}`);
}

Deno.test("exclusive locks serialize real concurrent processes", () =>
  withTempDir("poncho-test-", async (dir) => {
    const lockPath = `${dir}/locks/x.lock`; // directory created on demand
    const log = `${dir}/log`;
    const code = `
      await lock.withLock(${JSON.stringify(lockPath)}, async () => {
        await Deno.writeTextFile(${
      JSON.stringify(log)
    }, "in " + Deno.pid + "\\n", { append: true });
        await new Promise((r) => setTimeout(r, 40));
        await Deno.writeTextFile(${
      JSON.stringify(log)
    }, "out " + Deno.pid + "\\n", { append: true });
      }, { exclusive: true, timeoutMs: 60000 });`;
    const children = Array.from({ length: 6 }, () => spawnDeno(code));
    const statuses = await Promise.all(children.map((c) => c.status));
    assert.ok(statuses.every((s) => s.success));
    const lines = (await Deno.readTextFile(log)).trim().split("\n");
    assert.equal(lines.length, 12);
    for (let i = 0; i < lines.length; i += 2) {
      const [inWord, inPid] = lines[i].split(" ");
      const [outWord, outPid] = lines[i + 1].split(" ");
      assert.equal(inWord, "in");
      assert.equal(outWord, "out");
      assert.equal(inPid, outPid, `critical sections interleaved: ${lines.join(", ")}`);
    }
  }));

Deno.test("shared locks coexist and keep exclusive out; kill -9 releases", () =>
  withTempDir("poncho-test-", async (dir) => {
    const lockPath = `${dir}/env.lock`;
    const ready = `${dir}/ready`;
    // Another process holds a shared lock and sleeps.
    const holder = spawnDeno(`
      const l = await lock.acquireLock(${JSON.stringify(lockPath)}, { exclusive: false });
      await Deno.writeTextFile(${JSON.stringify(ready)}, "1");
      await new Promise((r) => setTimeout(r, 60000));
      l.release();`);
    await waitForFile(ready);

    const shared = tryLock(lockPath, false);
    assert.ok(shared, "a second shared lock is granted");
    shared.release();
    shared.release(); // idempotent

    assert.equal(tryLock(lockPath, true), null, "exclusive is refused while shared is held");

    const started = Date.now();
    await assert.rejects(
      acquireLock(lockPath, { exclusive: true, timeoutMs: 200, what: "environment x" }),
      (err: unknown) => {
        assert.ok(err instanceof LockTimeoutError);
        assert.equal(err.exitCode, EXIT_FAILED);
        assert.match(err.message, /environment x/);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      },
    );
    const waited = Date.now() - started;
    assert.ok(waited >= 190 && waited < 5000, `waited ${waited} ms`);

    holder.kill("SIGKILL");
    await holder.status;
    const after = await acquireLock(lockPath, { exclusive: true, timeoutMs: 5000 });
    assert.equal(after.exclusive, true);
    after.release();
  }));

Deno.test("a timed-out waiter leaves no lock behind", () =>
  withTempDir("poncho-test-", async (dir) => {
    const lockPath = `${dir}/x.lock`;
    const first = await acquireLock(lockPath, { exclusive: true });
    await assert.rejects(acquireLock(lockPath, { timeoutMs: 50 }), LockTimeoutError);
    first.release();
    // The waiter gave up: nobody holds the lock now, so a try succeeds at once.
    const again = tryLock(lockPath, true);
    assert.ok(again);
    again.release();
  }));

Deno.test("withLock releases when the function throws and returns its value", () =>
  withTempDir("poncho-test-", async (dir) => {
    const lockPath = `${dir}/x.lock`;
    await assert.rejects(
      withLock(lockPath, () => {
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.equal(await withLock(lockPath, () => 42, { timeoutMs: 0 }), 42);
  }));

Deno.test("a waiter is told who holds a recorded lock (pid, host, since) and gives up in time", () =>
  withTempDir("poncho-test-", async (dir) => {
    const lockPath = `${dir}/create-x.lock`;
    const ready = `${dir}/ready`;
    const holder = spawnDeno(`
      const l = await lock.acquireLock(${
      JSON.stringify(lockPath)
    }, { record: true, what: "the build" });
      await Deno.writeTextFile(${JSON.stringify(ready)}, "1");
      await new Promise((r) => setTimeout(r, 60000));
      l.release();`);
    await waitForFile(ready);
    const seen: (LockHolder | null)[] = [];
    await assert.rejects(
      acquireLock(lockPath, {
        timeoutMs: 300,
        what: "the build of spec x",
        onWait: (h) => seen.push(h),
        reportEveryMs: 100,
      }),
      (err: unknown) => {
        assert.ok(err instanceof LockTimeoutError);
        assert.equal(err.kind, "lock-timeout");
        assert.equal(err.path, lockPath);
        assert.match(
          err.message,
          new RegExp(`held by pid ${holder.pid} on host \\S+ since \\d{4}-`),
        );
        return true;
      },
    );
    assert.ok(seen.length >= 2, `reported ${seen.length} times`);
    assert.equal(seen[0]?.pid, holder.pid);
    assert.equal(seen[0]?.what, "the build");
    assert.equal(seen[0]?.host, Deno.hostname());
    holder.kill("SIGKILL");
    await holder.status;
    // The killed holder's sidecar stays; the next holder replaces it and removes it on release.
    assert.equal(readHolder(lockPath)?.pid, holder.pid);
    const mine = await acquireLock(lockPath, { record: true, timeoutMs: 5000 });
    assert.equal(readHolder(lockPath)?.pid, Deno.pid);
    mine.release();
    assert.equal(readHolder(lockPath), null);
  }));

Deno.test("a lock file made in a group-writable directory is group-writable whatever the umask", () => {
  const dir = Deno.makeTempDirSync();
  const old = Deno.umask(0o022);
  try {
    Deno.mkdirSync(`${dir}/shared`);
    Deno.chmodSync(`${dir}/shared`, 0o2775);
    Deno.mkdirSync(`${dir}/private`);
    Deno.chmodSync(`${dir}/private`, 0o755);
    tryLock(`${dir}/shared/x.lock`)?.release();
    tryLock(`${dir}/private/x.lock`)?.release();
    assert.equal(Deno.statSync(`${dir}/shared/x.lock`).mode! & 0o777, 0o664);
    assert.equal(Deno.statSync(`${dir}/private/x.lock`).mode! & 0o777, 0o644);
  } finally {
    Deno.umask(old);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a waiter whose lock file was removed meanwhile locks the file now at the path", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/env-x.lock`;
    const first = tryLock(path, true)!;
    const waiting = acquireLock(path, { exclusive: true, timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 30)); // the waiter has opened the old file
    Deno.removeSync(path); // as gc removes a lock of nothing, holding it
    first.release();
    const second = await waiting;
    try {
      assert.ok(Deno.statSync(path).isFile, "the waiter made and locked a new file");
      assert.equal(tryLock(path, true), null, "and the lock it holds is the one at the path");
    } finally {
      second.release();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
