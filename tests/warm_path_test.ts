/**
 * The single file's warm fast path (issue 16): a warm `poncho run -e ARCHIVE
 * -- cmd` is started by the sh launcher alone (no Deno): the command is the
 * launcher's own process, holds the environment's shared lock for its whole
 * life, and the launcher falls back to Deno on any change or unknown option.
 */
import assert from "node:assert/strict";
import { fixtureToolsAvailable, makeEnvArchive } from "./fixtures/env_archive.ts";
import { cleanEnv, withIsolatedCopy } from "./single_file.ts";
import { distPoncho } from "./util.ts";

const available = fixtureToolsAvailable();
const FAST = /^poncho: warm fast path: /m;
const dec = new TextDecoder();

/** Starts `./poncho args` in `dir` as `withIsolatedCopy` does, with `env` added. */
function start(dir: string, home: string, args: string[], env: string[] = []) {
  const [cmd, ...pre] = cleanEnv(home);
  return new Deno.Command(cmd, {
    args: [...pre, "PONCHO_LAUNCHER_DEBUG=1", ...env, "./poncho", ...args],
    cwd: dir,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function finish(child: Deno.ChildProcess) {
  const out = await child.output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name: "dist/poncho run -e, warm: the launcher execs run_in_env itself (no Deno), same " +
    "activation, exit code and signal; the lock is held while the command runs (gc keeps the " +
    "env); a changed archive or another option takes the Deno path",
  ignore: !available,
  async fn() {
    await withIsolatedCopy(await distPoncho(), async (iso) => {
      const { archive, manifest } = await makeEnvArchive(iso.dir, "env.tar.zst");
      const prefix = `${iso.home}/.cache/poncho/v1/envs/${manifest.id}`;
      const probe = ["sh", "-c", 'echo "$$|$PONCHO_TEST_ACTIVATED|$CONDA_PREFIX"; exit 5'];
      const run = (args: string[], env: string[] = []) =>
        (async () => {
          const child = start(iso.dir, iso.home, args, env);
          return { pid: child.pid, ...(await finish(child)) };
        })();

      // First run: Deno unpacks (and writes the warm record), then the command takes its
      // process (execve through libc): the same pid, on the Deno path too.
      let r = await run(["run", "-e", "env.tar.zst", "--", ...probe]);
      assert.equal(r.code, 5, r.stderr);
      assert.doesNotMatch(r.stderr, FAST);
      assert.equal(r.stdout.split("|")[0], String(r.pid));
      assert.equal(r.stdout.trim().split("|").slice(1).join("|"), `yes:${prefix}|${prefix}`);

      // Warm: the command is the launcher's own process (same pid), activated the same way.
      r = await run(["run", "-e", "env.tar.zst", "--", ...probe]);
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, FAST);
      assert.equal(r.stdout.trim(), `${r.pid}|yes:${prefix}|${prefix}`);
      // Absolute path, --store, -w N and the CCTools name take it too.
      r = await run([
        "run",
        "--store",
        `${iso.home}/.cache/poncho`,
        "-w",
        "5",
        "--environment",
        archive,
        ...probe,
      ]);
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, FAST);
      await Deno.symlink("poncho", `${iso.dir}/poncho_package_run`);
      const [cmd, ...pre] = cleanEnv(iso.home);
      const ppr = new Deno.Command(cmd, {
        args: [...pre, "PONCHO_LAUNCHER_DEBUG=1", "./poncho_package_run", "-e", archive, ...probe],
        cwd: iso.dir,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).outputSync();
      assert.equal(ppr.code, 5);
      assert.match(dec.decode(ppr.stderr), FAST);

      // A signal and a missing command: the command's own death; poncho's exit 4 (via Deno).
      r = await run(["run", "-e", "env.tar.zst", "--", "sh", "-c", "kill -TERM $$"]);
      assert.match(r.stderr, FAST);
      assert.equal(r.code, 143);
      r = await run(["run", "-e", "env.tar.zst", "--", "no-such-cmd-x"]);
      assert.equal(r.code, 4);
      assert.doesNotMatch(r.stderr, FAST);
      assert.match(r.stderr, /no-such-cmd-x/);

      // Other options, and PONCHO_NO_FAST_PATH, go through Deno.
      for (
        const [args, env] of [
          [["run", "-d", "-e", "env.tar.zst", "--", ...probe], []],
          [["run", "--tmp", "-e", "env.tar.zst", "--", ...probe], []],
          [["run", "-u", `${iso.dir}/u`, "-e", "env.tar.zst", "--", ...probe], []],
          [["run", "-e", "./x/../env.tar.zst", "--", ...probe], []],
          [["run", "-e", "env.tar.zst", "--", ...probe], ["PONCHO_NO_FAST_PATH=1"]],
        ]
      ) {
        r = await run(args, env);
        assert.equal(r.code, 5, `${args.join(" ")}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, FAST, args.join(" "));
        // --tmp removes its dir after the command: Poncho stays as its parent; the rest exec.
        const child = args.includes("--tmp");
        assert.equal(r.stdout.split("|")[0] !== String(r.pid), child, args.join(" "));
      }

      // The lock is held for the command's life: gc keeps the environment until it exits.
      const long = start(iso.dir, iso.home, [
        "run",
        "-e",
        "env.tar.zst",
        "--",
        "sh",
        "-c",
        "echo started; exec sleep 30",
      ]);
      const reader = long.stdout.getReader();
      const first = await reader.read();
      assert.equal(dec.decode(first.value).trim(), "started");
      reader.releaseLock();
      const gc = await iso.run(["store", "gc", "--older-than", "0"]);
      assert.equal(gc.code, 0, gc.stderr);
      assert.ok(
        (await Deno.stat(`${prefix}/.poncho/ready.json`)).isFile,
        "gc removed an env in use",
      );
      long.kill("SIGTERM");
      const ended = await finish(long);
      assert.match(ended.stderr, FAST);
      assert.equal(ended.code, 143);
      const gc2 = await iso.run(["store", "gc", "--older-than", "0"]);
      assert.equal(gc2.code, 0, gc2.stderr);
      await assert.rejects(Deno.stat(prefix), Deno.errors.NotFound);

      // Gone from the store: the stale record is not trusted; Deno unpacks again.
      r = await run(["run", "-e", "env.tar.zst", "--", ...probe]);
      assert.equal(r.code, 5, r.stderr);
      assert.doesNotMatch(r.stderr, FAST);
      // A changed archive (new mtime): Deno re-resolves it, then the fast path is back.
      const later = new Date(Date.now() + 5000);
      await Deno.utime(archive, later, later);
      r = await run(["run", "-e", "env.tar.zst", "--", ...probe]);
      assert.equal(r.code, 5, r.stderr);
      assert.doesNotMatch(r.stderr, FAST);
      r = await run(["run", "-e", "env.tar.zst", "--", ...probe]);
      assert.match(r.stderr, FAST);
      // Replaced by another archive of another size: the record no longer matches.
      const other = await makeEnvArchive(`${iso.dir}/u`, "other.tar.zst", {
        fillerBytes: 5000,
        fillerFiles: 2,
      });
      await Deno.rename(other.archive, archive);
      r = await run(["run", "-e", "env.tar.zst", "--", ...probe]);
      assert.equal(r.code, 5, r.stderr);
      assert.doesNotMatch(r.stderr, FAST);
      const otherPrefix = `${iso.home}/.cache/poncho/v1/envs/${other.manifest.id}`;
      assert.equal(
        r.stdout.trim().split("|").slice(1).join("|"),
        `yes:${otherPrefix}|${otherPrefix}`,
      );
      r = await run(["run", "-e", "env.tar.zst", "--", ...probe]);
      assert.match(r.stderr, FAST);
      assert.equal(r.stdout.trim(), `${r.pid}|yes:${otherPrefix}|${otherPrefix}`);
    });
  },
});

Deno.test({
  name: "dist/poncho run -e, a burst of cold starts: one resolves and unpacks under the " +
    "archive's identity lock, the others wait in the launcher and take the fast path; -w is honoured",
  ignore: !available,
  async fn() {
    await withIsolatedCopy(await distPoncho(), async (iso) => {
      await makeEnvArchive(iso.dir, "env.tar.zst");
      assert.equal((await iso.run(["--version"])).code, 0); // the runtime, unpacked once
      const n = 8;
      const runs = await Promise.all(
        Array.from(
          { length: n },
          () => finish(start(iso.dir, iso.home, ["run", "-e", "env.tar.zst", "--", "true"])),
        ),
      );
      for (const r of runs) assert.equal(r.code, 0, r.stderr);
      assert.equal(runs.filter((r) => FAST.test(r.stderr)).length, n - 1);
      const envs = [...Deno.readDirSync(`${iso.home}/.cache/poncho/v1/envs`)];
      assert.equal(envs.length, 1);

      // Someone holds the identity lock of an unknown archive: -w 1 gives up after 1 s, exit 3.
      await Deno.copyFile(`${iso.dir}/env.tar.zst`, `${iso.dir}/copy.tar.zst`);
      const locks = `${iso.home}/.cache/poncho/v1/locks`;
      const key = [...Deno.readDirSync(locks)].map((e) => e.name)
        .filter((n) => n.startsWith("source-"));
      assert.equal(key.length, 1);
      const probe = start(iso.dir, iso.home, ["run", "-e", "copy.tar.zst", "--", "true"]);
      await finish(probe); // now copy.tar.zst is known too; use a fresh name for the lock test
      await Deno.copyFile(`${iso.dir}/env.tar.zst`, `${iso.dir}/third.tar.zst`);
      const holder = new Deno.Command("sh", {
        args: [
          "-c",
          `k=$(printf %s "$1" | sha256sum | cut -c1-32); exec flock -x "$2/source-$k.lock" sleep 20`,
          "sh",
          `${iso.dir}/third.tar.zst`,
          locks,
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        const deadline = Date.now() + 10_000;
        while (
          [...Deno.readDirSync(locks)].filter((e) => e.name.startsWith("source-")).length < 3
        ) {
          assert.ok(Date.now() < deadline, "the holder did not take the lock");
          await new Promise((r) => setTimeout(r, 20));
        }
        await new Promise((r) => setTimeout(r, 200));
        const t = Date.now();
        const r = await finish(
          start(iso.dir, iso.home, ["run", "-w", "1", "-e", "third.tar.zst", "--", "true"]),
        );
        assert.equal(r.code, 3, r.stderr);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.match(r.stderr, /timed out after 1 s .*third\.tar\.zst/);
        assert.ok(Date.now() - t < 8000);
      } finally {
        holder.kill("SIGKILL");
        await holder.status;
      }
    });
  },
});
