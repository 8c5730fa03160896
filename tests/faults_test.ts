/**
 * The store under faults (issue 15): stalled servers, held build locks,
 * relative and unusable store paths, read-only and full directories. Each
 * test reproduces a defect through the real CLI.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  hasCommand,
  MAIN,
  ponchoCommand,
  rawServer,
  readRequest,
  runPoncho,
  withTempDir,
  writeSpec,
} from "./util.ts";
import {
  fixtureToolsAvailable as envFixtureTools,
  makeEnvArchive,
} from "./fixtures/env_archive.ts";
import {
  buildTestChannel,
  fixtureToolsAvailable as channelFixtureTools,
  serveChannel,
} from "./fixtures/channel.ts";

Deno.test("create against a channel that accepts and never answers fails in time, naming the URL", async () => {
  const srv = rawServer(async (conn, _n, closed) => {
    await readRequest(conn);
    await closed;
  });
  await withTempDir("poncho-faults-", async (dir) => {
    const spec = await writeSpec(dir, `${srv.url}/stall`, ["hello"]);
    const started = Date.now();
    const r = await runPoncho([
      "create",
      "--store",
      join(dir, "store"),
      spec,
      join(dir, "o.tar.zst"),
    ], {
      env: { PONCHO_HTTP_TIMEOUT: "0.3", NO_COLOR: "1" },
    });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`${srv.url}/stall/`));
    assert.match(r.stderr, /no answer within 0\.3 s/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(Date.now() - started < 30_000);
    assert.ok(srv.accepted >= 2, "retried");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["spec.json", "store"]);
  }).finally(() => srv.close());
});

Deno.test("a create waiting for another's build names the holder and gives up after --wait-for-lock", async () => {
  const srv = rawServer(async (conn, _n, closed) => {
    await readRequest(conn);
    await closed;
  });
  await withTempDir("poncho-faults-", async (dir) => {
    const spec = await writeSpec(dir, `${srv.url}/slow`, ["hello"]);
    const store = join(dir, "store");
    // The first create holds the build lock while its channel stalls.
    const first = ponchoCommand(["create", "--store", store, spec, join(dir, "a.tar.zst")], {
      env: { PONCHO_HTTP_TIMEOUT: "60" },
    }).spawn();
    try {
      const deadline = Date.now() + 30_000;
      while (srv.accepted === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(srv.accepted > 0, "the first create reached the channel");
      const started = Date.now();
      const r = await runPoncho(
        ["create", "-w", "1", "--store", store, spec, join(dir, "b.tar.zst")],
        { env: { NO_COLOR: "1" } },
      );
      assert.equal(r.code, 3, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assert.match(
        lines[0],
        new RegExp(
          `waiting for the build of spec [0-9a-f]{12} by pid ${first.pid} on host \\S+ since \\d{4}-`,
        ),
      );
      assert.match(
        lines.at(-1)!,
        new RegExp(
          `could not lock the build of spec [0-9a-f]{12} within 1 s .*held by pid ${first.pid}.*--wait-for-lock`,
        ),
      );
      assert.ok(Date.now() - started < 20_000);
    } finally {
      first.kill("SIGKILL");
      await first.status;
      await first.stdout.cancel();
      await first.stderr.cancel();
    }
  }).finally(() => srv.close());
});

Deno.test("-w/--wait-for-lock of create must be a number", async () => {
  const r = await runPoncho(["create", "-w", "soon", "spec.json", "o.tar.zst"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--wait-for-lock 'soon'/);
});

const envTools = envFixtureTools();

function exists(path: string): Promise<boolean> {
  return Deno.lstat(path).then(() => true, () => false);
}
const canUnshare = (() => {
  try {
    return new Deno.Command("unshare", { args: ["-rm", "true"], stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

/**
 * Runs the CLI inside a private mount namespace (`unshare -rm`) after
 * `setup` (shell commands, e.g. mounting a tmpfs); nothing it mounts outlives it.
 */
async function ponchoUnshared(setup: string, args: string[], cwd?: string) {
  const deno = [Deno.execPath(), "run", "-A", "--quiet", "--no-check", MAIN, ...args];
  const quoted = deno.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  const out = await new Deno.Command("unshare", {
    args: ["-rm", "sh", "-c", `${setup} && exec ${quoted}`],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test({
  name: "a relative --store gives absolute prefixes: a task that cds still runs, from any cwd",
  ignore: !envTools,
  fn: () =>
    withTempDir("poncho-faults-", async (dir) => {
      const { archive } = await makeEnvArchive(dir);
      await Deno.mkdir(join(dir, "sub"));
      const task = ["sh", "-c", "cd / && greet a && hello"];
      const a = await runPoncho(["run", "--store", "rr", "-d", "-e", archive, "--", ...task], {
        cwd: dir,
      });
      assert.equal(a.code, 0, a.stderr);
      assert.match(a.stdout, new RegExp(`greet ${dir}/rr/v1/envs/`));
      assert.match(a.stderr, /unpacked environment at \//);
      // The same store named from another directory finds the same environment.
      const b = await runPoncho(["run", "-d", "-e", archive, "--", ...task], {
        cwd: join(dir, "sub"),
        env: { PONCHO_STORE: "../rr" },
      });
      assert.equal(b.code, 0, b.stderr);
      assert.match(b.stderr, /found environment at \//);
      assert.equal(a.stdout, b.stdout);
    }),
});

Deno.test("an empty or relative HOME is an error naming HOME, not a store in the cwd", async () => {
  await withTempDir("poncho-faults-", async (dir) => {
    for (const home of ["", "rel"]) {
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--no-check", MAIN, "store", "list"],
        cwd: dir,
        clearEnv: true,
        env: { HOME: home, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(r.stderr);
      assert.equal(r.code, 1, stderr);
      assert.match(stderr, /^poncho store: HOME is (empty|'rel', not an absolute path);/);
      // (Deno itself may put its own cache under a relative HOME; Poncho writes nothing.)
      assert.ok(!(await exists(join(dir, home, ".cache", "poncho"))), "no store in the cwd");
    }
  });
});

Deno.test("a --store that is a file, or under HOME=/proc, is refused before any work (exit 3)", async () => {
  await withTempDir("poncho-faults-", async (dir) => {
    const spec = await writeSpec(dir, `${dir}/nochannel`, ["x"]);
    await Deno.writeTextFile(join(dir, "file"), "");
    const r = await runPoncho([
      "create",
      "--store",
      join(dir, "file"),
      spec,
      join(dir, "o.tar.zst"),
    ]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^poncho create: cannot write the store ${dir}/file at ${dir}/file/v1/\\S+: a component of the path is not a directory; or choose another store`,
      ),
    );
    const p = await runPoncho(["create", spec, join(dir, "o.tar.zst")], {
      env: { HOME: "/proc", PONCHO_STORE: "", XDG_CACHE_HOME: "" },
    });
    assert.equal(p.code, 3, p.stderr);
    assert.match(p.stderr, /cannot write the store \/proc\/\.cache\/poncho/);
    assert.equal(p.stderr.trim().split("\n").length, 1);
  });
});

Deno.test({
  name: "a read-only store fails with exit 3 naming it, for create and for run",
  ignore: !canUnshare || !envTools,
  fn: () =>
    withTempDir("poncho-faults-", async (dir) => {
      const { archive } = await makeEnvArchive(dir);
      const store = join(dir, "ro");
      await Deno.mkdir(store);
      const spec = await writeSpec(dir, `${dir}/nochannel`, ["x"]);
      const mount = `mount -t tmpfs -o ro,size=1m tmpfs '${store}'`;
      const c = await ponchoUnshared(mount, [
        "create",
        "--store",
        store,
        spec,
        join(dir, "o.tar.zst"),
      ]);
      assert.equal(c.code, 3, c.stderr);
      assert.match(
        c.stderr,
        new RegExp(`cannot write the store ${store} at ${store}/v1\\S*: read-only filesystem`),
      );
      const r = await ponchoUnshared(mount, ["run", "--store", store, "-e", archive, "--", "true"]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, new RegExp(`cannot write the store ${store}.*read-only filesystem`));
      assert.doesNotMatch(r.stderr, /internal error/);
    }),
});

Deno.test({
  name: "a store path with two spaces, a tab and ' -x' runs the environment's Python entry points",
  ignore: !envTools,
  fn: () =>
    withTempDir("poncho-faults-", async (dir) => {
      const { archive } = await makeEnvArchive(dir);
      const store = join(dir, "my  store\tx -x");
      const r = await runPoncho(["run", "--store", store, "-e", archive, "--", "greet", "a  b"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^greet .*my {2}store\tx -x\/v1\/envs\/\S+ \['a {2}b'\]\n$/);
      const hello = await runPoncho(["run", "--store", store, "-e", archive, "--", "hello"]);
      assert.equal(hello.code, 0, hello.stderr);
    }),
});

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name: "poncho run -e gives its process to the command, which holds the environment's lock: " +
    "gc keeps the environment until the command exits",
  ignore: !envTools,
  fn: () =>
    withTempDir("poncho-faults-", async (dir) => {
      const { archive, manifest } = await makeEnvArchive(dir);
      const store = join(dir, "store");
      const pidFile = join(dir, "pid");
      const stop = join(dir, "stop");
      // The command records its pid, then runs until told to stop (bounded: 60 s).
      const script = `echo $$ > '${pidFile}'; i=0; while [ ! -e '${stop}' ] && [ $i -lt 3000 ]; ` +
        `do sleep 0.02; i=$((i+1)); done`;
      const run = ponchoCommand(["run", "--store", store, "-e", archive, "--", "sh", "-c", script])
        .spawn();
      let child = 0;
      try {
        await waitFor("the command", () => exists(pidFile));
        await waitFor("its pid", async () => (await Deno.readTextFile(pidFile)).endsWith("\n"));
        child = Number((await Deno.readTextFile(pidFile)).trim());
        // No Deno process is left to kill: the command is poncho's own process (execve).
        assert.equal(child, run.pid, "the command took poncho run's process");
        const gc = await runPoncho(["store", "gc", "--json", "--max-size", "0", "--store", store]);
        assert.equal(gc.code, 0, gc.stderr);
        const result = JSON.parse(gc.stdout);
        assert.deepEqual(result.removed, []);
        assert.deepEqual(result.skipped.map((e: { id: string }) => e.id), [manifest.id]);
        assert.ok(await exists(join(store, "v1", "envs", manifest.id, "bin", "hello")));
      } finally {
        await Deno.writeTextFile(stop, "");
        await run.stdout.cancel().catch(() => {});
        await run.stderr.cancel().catch(() => {});
        await run.status;
      }
      // The command has exited: now gc may remove it.
      const gc = await runPoncho(["store", "gc", "--json", "--max-size", "0", "--store", store]);
      assert.deepEqual(JSON.parse(gc.stdout).removed.map((e: { id: string }) => e.id), [
        manifest.id,
      ]);
      assert.ok(!(await exists(join(store, "v1", "envs", manifest.id))));
    }),
});

/** Every file, symlink and directory under `root`, relative, sorted (`locks/` left out). */
function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (r === "v1/locks") continue;
      out.push(e.isDirectory ? `${r}/` : r);
      if (e.isDirectory && !e.isSymlink) walk(`${dir}/${e.name}`, r);
    }
  };
  walk(root, "");
  return out.sort();
}

Deno.test({
  name: "kill -9 at each unpack phase and of run --tmp, then gc: the store lists as a clean one",
  ignore: !envTools,
  fn: () =>
    withTempDir("poncho-faults-", async (dir) => {
      const { archive, manifest } = await makeEnvArchive(dir);
      const clean = join(dir, "clean");
      const faulty = join(dir, "faulty");
      const ok = await runPoncho(["run", "--store", clean, "-e", archive, "--", "true"]);
      assert.equal(ok.code, 0, ok.stderr);

      // A killed --tmp run: its temp dir outside the store is recorded in the store.
      const started = join(dir, "started");
      const tmpRun = ponchoCommand([
        "run",
        "--store",
        faulty,
        "--tmp",
        "-e",
        archive,
        "--",
        "sh",
        "-c",
        `echo $$ > '${started}.pid'; echo "$CONDA_PREFIX" > '${started}'; exec sleep 30`,
      ]).spawn();
      await waitFor("the --tmp command", async () =>
        (await exists(started)) && (await Deno.readTextFile(started)).endsWith("\n"));
      const tmpPrefix = (await Deno.readTextFile(started)).trim();
      assert.match(tmpPrefix, /\/poncho-run-[^/]+\/env$/);
      tmpRun.kill("SIGKILL");
      await tmpRun.status;
      await tmpRun.stdout.cancel();
      await tmpRun.stderr.cancel();
      Deno.kill(Number((await Deno.readTextFile(`${started}.pid`)).trim()), "SIGKILL");
      assert.ok(await exists(tmpPrefix), "the killed --tmp run left its temp dir");
      const gc0 = await runPoncho(["store", "gc", "--json", "--store", faulty]);
      assert.equal(gc0.code, 0, gc0.stderr);
      const swept = JSON.parse(gc0.stdout).swept as { kind: string; external?: string[] }[];
      assert.ok(
        swept.some((s) =>
          s.kind === "owner" && s.external?.includes(tmpPrefix.replace(/\/env$/, ""))
        ),
        gc0.stdout,
      );
      assert.ok(!(await exists(tmpPrefix)), "gc removed the --tmp dir of the killed run");

      // Unpacks killed at every phase; the last one leaves an environment without an index record.
      for (const phase of ["unpack-start", "built", "before-rename", "after-rename"]) {
        const r = await runPoncho(["run", "--store", faulty, "-e", archive, "--", "true"], {
          env: { PONCHO_FAULT: phase },
        });
        assert.equal(r.code, 137, `${phase}: ${r.stderr}`);
      }
      const listed = await runPoncho(["store", "list", "--json", "--store", faulty]);
      assert.deepEqual(
        JSON.parse(listed.stdout).map((e: { id: string }) =>
          e.id
        ),
        [manifest.id],
        "adopted",
      );

      const gc = await runPoncho(["store", "gc", "--json", "--store", faulty]);
      assert.equal(gc.code, 0, gc.stderr);
      const again = await runPoncho(["run", "--store", faulty, "-e", archive, "--", "true"]);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(listing(faulty), listing(clean));
    }),
});

const channelTools = await channelFixtureTools();

Deno.test({
  name: "a truncated cached archive is not reused: create rebuilds it and writes a whole archive",
  ignore: !channelTools.ok,
  fn: async () => {
    const ch = await buildTestChannel();
    await withTempDir("poncho-faults-", async (dir) => {
      const spec = await writeSpec(dir, ch.url, ["hello"]);
      const store = join(dir, "store");
      const first = await runPoncho([
        "create",
        "--json",
        "--store",
        store,
        spec,
        join(dir, "a.tar.zst"),
      ]);
      assert.equal(first.code, 0, first.stderr);
      const { cachedArchive, specHash } = JSON.parse(first.stdout);
      const whole = await Deno.readFile(cachedArchive);
      const rec = JSON.parse(
        await Deno.readTextFile(join(store, "v1", "index", "archives", `${specHash}.tar.zst.json`)),
      );
      assert.equal(rec.size, whole.length);
      // Damage the store's copy: cut it in half.
      await Deno.truncate(cachedArchive, Math.floor(whole.length / 2));
      const second = await runPoncho([
        "create",
        "-v",
        "--store",
        store,
        spec,
        join(dir, "b.tar.zst"),
      ]);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /\(built \d+ packages, spec/, second.stderr);
      assert.match(second.stderr, /is \d+ bytes, recorded \d+: rebuilding it/);
      const out = await Deno.readFile(join(dir, "b.tar.zst"));
      assert.equal(out.length, (await Deno.stat(cachedArchive)).size);
      const run = await runPoncho([
        "run",
        "--store",
        join(dir, "s2"),
        "-e",
        join(dir, "b.tar.zst"),
        "--",
        "hello",
      ]);
      assert.equal(run.code, 0, run.stderr);
      // A flipped byte of the same size is caught by the digest.
      const data = await Deno.readFile(cachedArchive);
      data[data.length >> 1] ^= 0xff;
      await Deno.writeFile(cachedArchive, data);
      const third = await runPoncho([
        "create",
        "-v",
        "--store",
        store,
        spec,
        join(dir, "c.tar.zst"),
      ]);
      assert.equal(third.code, 0, third.stderr);
      assert.match(third.stderr, /does not match its recorded sha256: rebuilding it/);
    });
  },
});

Deno.test("an empty tar (no manifest, no files) is refused as an environment, leaving nothing", async () => {
  await withTempDir("poncho-faults-", async (dir) => {
    const tar = join(dir, "empty.tar");
    await Deno.writeFile(tar, new Uint8Array(10240)); // two zero blocks and padding: a valid empty tar
    const store = join(dir, "store");
    for (const extra of [[], ["--tmp"]]) {
      const r = await runPoncho(["run", "--store", store, ...extra, "-e", tar, "--", "true"]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /empty\.tar has no poncho manifest and no environment in it/);
    }
    assert.deepEqual([...Deno.readDirSync(join(store, "v1", "envs"))], []);
  });
});

Deno.test({
  name:
    "gc collects every bucket by last use with --max-size over the whole store; --dry-run removes nothing",
  ignore: !channelTools.ok,
  fn: async () => {
    const ch = await buildTestChannel();
    const srv = serveChannel(ch.dir);
    await withTempDir("poncho-faults-", async (dir) => {
      const spec = await writeSpec(dir, srv.url, ["hello"]);
      const store = join(dir, "store");
      const out = join(dir, "a.tar.zst");
      const c = await runPoncho(["create", "-q", "--store", store, spec, out]);
      assert.equal(c.code, 0, c.stderr);
      const r = await runPoncho(["run", "--store", store, "-e", out, "--", "hello"]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(await exists(join(store, "CACHEDIR.TAG")));
      const list = await runPoncho(["store", "list", "--store", store]);
      assert.match(
        list.stdout,
        /store .*: \S+ \(envs \S+, archives \S+, pkgs \S+, downloads \S+, repodata \S+, index \S+, locks \S+, tmp \S+, runtime \S+\)/,
      );
      const buckets = ["archives", "pkgs", "downloads", "repodata"];
      const before = listing(store);

      const dry = await runPoncho([
        "store",
        "gc",
        "--json",
        "--dry-run",
        "--max-size",
        "0",
        "--store",
        store,
      ]);
      assert.equal(dry.code, 0, dry.stderr);
      const d = JSON.parse(dry.stdout);
      assert.equal(d.dryRun, true);
      assert.equal(d.removed.length, 1);
      assert.deepEqual(
        [...new Set(d.removedCache.map((x: { bucket: string }) => x.bucket))].sort(),
        buckets.sort(),
      );
      assert.deepEqual(listing(store), before, "a dry run removes nothing");

      // While a build runs (it holds the build-cache lock shared), no cache item is removed.
      const lockPath = join(store, "v1", "locks", "build-cache.lock");
      const builder = new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `const f = Deno.openSync(${JSON.stringify(lockPath)}, { read: true, write: true }); ` +
          `f.lockSync(false); console.log("locked"); for await (const _ of Deno.stdin.readable) {}`,
        ],
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const reader = builder.stdout.getReader();
      assert.equal(new TextDecoder().decode((await reader.read()).value).trim(), "locked");
      const during = await runPoncho(["store", "gc", "--max-size", "0", "--store", store]);
      await builder.stdin.close();
      await builder.status;
      reader.releaseLock();
      await builder.stdout.cancel();
      assert.equal(during.code, 0, during.stderr);
      assert.match(during.stdout, /kept \d+ cache items: a build is running/);
      assert.ok(await exists(join(store, "v1", "pkgs")));
      assert.ok([...Deno.readDirSync(join(store, "v1", "pkgs"))].length > 0, "packages kept");
      // (The environment, not a build cache, was removed: unpack it again.)
      const back = await runPoncho(["run", "--store", store, "-e", out, "--", "hello"]);
      assert.equal(back.code, 0, back.stderr);
      // With a limit that the environment alone fits in, the older caches go first.
      const envSize = d.removed[0].size;
      const some = await runPoncho([
        "store",
        "gc",
        "--json",
        "--max-size",
        String(envSize),
        "--store",
        store,
      ]);
      const s = JSON.parse(some.stdout);
      assert.deepEqual(s.removed, [], some.stdout);
      assert.ok(s.removedCache.length > 0);
      const all = await runPoncho(["store", "gc", "--json", "--max-size", "0", "--store", store]);
      const a = JSON.parse(all.stdout);
      assert.equal(a.removed.length, 1);
      for (const b of buckets) {
        assert.deepEqual(
          [...Deno.readDirSync(join(store, "v1", b))].filter((e) => !e.name.startsWith(".")),
          [],
          b,
        );
      }
      // The locks of what is gone went with it (the build-cache lock stays).
      assert.deepEqual(
        [...Deno.readDirSync(join(store, "v1", "locks"))].map((e) => e.name),
        ["build-cache.lock"],
      );
      assert.ok(a.swept.some((x: { kind: string }) => x.kind === "lock"));
      // Everything comes back on the next create (a rebuild).
      const again = await runPoncho([
        "create",
        "-q",
        "--store",
        store,
        spec,
        join(dir, "b.tar.zst"),
      ]);
      assert.equal(again.code, 0, again.stderr);
    }).finally(() => srv.close());
  },
});

Deno.test("analyze refuses /dev/zero and oversized sources with a warning; a named non-JSON notebook is an error", async () => {
  await withTempDir("poncho-faults-", async (dir) => {
    await Deno.writeTextFile(join(dir, "ok.py"), "import numpy\n");
    const big = join(dir, "big.py");
    await Deno.writeTextFile(big, "import scipy\n");
    await Deno.truncate(big, 17 * 1024 * 1024); // sparse: 17 MB of NULs after the import
    const r = await runPoncho(["analyze", "/dev/zero", big, join(dir, "ok.py"), "-"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: \/dev\/zero: not a regular file .*; skipped/);
    assert.match(
      r.stderr,
      /big\.py: larger than 16 MB \(raise PONCHO_MAX_SOURCE_MB to read it\); skipped/,
    );
    assert.match(r.stdout, /numpy/);
    assert.doesNotMatch(r.stdout, /scipy/);
    const raised = await runPoncho(["analyze", big, "-"], { env: { PONCHO_MAX_SOURCE_MB: "32" } });
    assert.equal(raised.code, 0, raised.stderr);
    assert.match(raised.stdout, /scipy/);

    await Deno.writeTextFile(join(dir, "nb.ipynb"), "this is not json");
    const nb = await runPoncho(["analyze", join(dir, "nb.ipynb"), "-"]);
    assert.equal(nb.code, 2, nb.stderr);
    assert.match(nb.stderr, /^poncho analyze: source .*nb\.ipynb: not a readable notebook/);
  });
});

Deno.test({
  name:
    "a full disk (tmpfs) as store or as output dir is exit 3 naming the path, never an internal error",
  ignore: !canUnshare || !channelTools.ok,
  fn: async () => {
    const ch = await buildTestChannel();
    await withTempDir("poncho-faults-", async (dir) => {
      const spec = await writeSpec(dir, ch.url, ["hello"]);
      const small = join(dir, "small");
      await Deno.mkdir(small);
      // A tmpfs whose space is all but used up by a filler file.
      const full = (at: string) =>
        `mount -t tmpfs -o size=1m tmpfs '${at}' && (dd if=/dev/zero of='${at}/filler' bs=4k 2>/dev/null || true)`;
      const store = await ponchoUnshared(full(small), [
        "create",
        "--store",
        `${small}/store`,
        spec,
        join(dir, "o.tar.zst"),
      ]);
      assert.equal(store.code, 3, store.stderr);
      assert.match(store.stderr, /no space left on device/);
      assert.match(store.stderr, new RegExp(`${small}/store`));
      assert.doesNotMatch(store.stderr, /internal error/);
      assert.equal(store.stderr.trim().split("\n").length, 1, store.stderr);

      const output = await ponchoUnshared(full(small), [
        "create",
        "--store",
        join(dir, "store"),
        spec,
        `${small}/env.tar.zst`,
      ]);
      assert.equal(output.code, 3, output.stderr);
      assert.match(output.stderr, new RegExp(`${small}.*no space left on device`));
      assert.doesNotMatch(output.stderr, /internal error/);
      assert.ok(!(await exists(join(dir, "o.tar.zst"))));

      // Space for the store's directories but not for the build: the failing path is named.
      const nearly = (at: string) =>
        `mount -t tmpfs -o size=1m tmpfs '${at}' && dd if=/dev/zero of='${at}/filler' bs=4k count=245 2>/dev/null`;
      const mid = await ponchoUnshared(nearly(small), [
        "create",
        "--store",
        `${small}/store`,
        spec,
        join(dir, "o.tar.zst"),
      ]);
      assert.equal(mid.code, 3, mid.stderr);
      assert.match(
        mid.stderr,
        new RegExp(`^poncho create: cannot \\S+ .*${small}/store/v1/\\S+: no space left on device`),
      );
      assert.doesNotMatch(mid.stderr, /internal error/);
      assert.ok(!(await exists(join(dir, "o.tar.zst"))));
    });
  },
});

Deno.test({
  name:
    "a zstd archive with flipped bytes is one error line naming it, without a worker stack trace",
  ignore: !hasCommand("zstd"),
  fn: () =>
    withTempDir("poncho-faults-", async (dir) => {
      // Small (decompressed in-process) and large, incompressible (decompressed in a worker).
      for (
        const [name, size, random] of [["small", 200_000, false], [
          "large",
          3_000_000,
          true,
        ]] as const
      ) {
        await Deno.mkdir(join(dir, name, "bin"), { recursive: true });
        const data = new Uint8Array(size);
        if (random) {
          for (let o = 0; o < size; o += 65536) {
            crypto.getRandomValues(data.subarray(o, o + 65536));
          }
        } else for (let i = 0; i < size; i++) data[i] = (i * 7919) % 251;
        await Deno.writeFile(join(dir, name, "bin", "x"), data);
        const archive = join(dir, `${name}.tar.zst`);
        const tar = await new Deno.Command("tar", {
          args: ["--zstd", "-cf", archive, "-C", join(dir, name), "bin"],
        }).output();
        assert.ok(tar.success);
        const bytes = await Deno.readFile(archive);
        for (
          let i = Math.min(2000, bytes.length >> 1);
          i < bytes.length - 8;
          i += 50_000
        ) bytes[i] ^= 0xff;
        await Deno.writeFile(archive, bytes);
        const r = await runPoncho(["run", "--store", join(dir, "s"), "-e", archive, "--", "true"]);
        assert.equal(r.code, 3, `${name}: ${r.stderr}`);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.match(r.stderr, new RegExp(`^poncho run: .*${archive}`));
        assert.doesNotMatch(r.stderr, /Uncaught|\bat /);
      }
    }),
});

/** The data offset and size of the member `name` of a plain tar (ustar, short names). */
function tarMember(tar: Uint8Array, name: string): { offset: number; size: number } | undefined {
  const dec = new TextDecoder();
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) return undefined;
    const field = (from: number, len: number) =>
      dec.decode(header.subarray(from, from + len)).replace(/\0.*$/s, "");
    const prefix = field(345, 155);
    const path = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = parseInt(field(124, 12).trim() || "0", 8);
    if (path.replace(/^\.\//, "") === name) return { offset: at + 512, size };
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

Deno.test({
  name: "a flipped bit inside a plain .tar environment is caught against the manifest's digests",
  ignore: !channelTools.ok,
  fn: async () => {
    const ch = await buildTestChannel();
    await withTempDir("poncho-faults-", async (dir) => {
      const spec = await writeSpec(dir, ch.url, ["hello"]);
      const tarPath = join(dir, "env.tar");
      const c = await runPoncho(["create", "-q", "--store", join(dir, "store"), spec, tarPath]);
      assert.equal(c.code, 0, c.stderr);
      const tar = await Deno.readFile(tarPath);
      const manifestAt = tarMember(tar, ".poncho/manifest.json")!;
      const manifest = JSON.parse(
        new TextDecoder().decode(
          tar.subarray(manifestAt.offset, manifestAt.offset + manifestAt.size),
        ),
      );
      const [victim] = Object.keys(manifest.digests).filter((p) => tarMember(tar, p)!.size > 0);
      assert.ok(victim, "the manifest records digests of plain-tar files");
      const ok = await runPoncho(["run", "--store", join(dir, "s1"), "-e", tarPath, "--", "hello"]);
      assert.equal(ok.code, 0, ok.stderr);
      const m = tarMember(tar, victim)!;
      tar[m.offset + (m.size >> 1)] ^= 0x01;
      const bad = join(dir, "bad.tar");
      await Deno.writeFile(bad, tar);
      const r = await runPoncho(["run", "--store", join(dir, "s2"), "-e", bad, "--", "hello"]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`bad\\.tar: ${victim.replace(/[.+]/g, "\\$&")} does not match the sha256`),
      );
      assert.deepEqual([...Deno.readDirSync(join(dir, "s2", "v1", "envs"))], []);
    });
  },
});

Deno.test({
  name: "a create --prefix killed mid-install leaves a directory that run -e refuses",
  ignore: !channelTools.ok,
  fn: async () => {
    const ch = await buildTestChannel();
    const srv = rawServer(async (conn, _n, closed) => {
      await readRequest(conn);
      await closed;
    });
    await withTempDir("poncho-faults-", async (dir) => {
      // The second channel stalls, so the create is still working when it is killed.
      const spec = await writeSpec(dir, ch.url, ["hello"]);
      const prefix = join(dir, "env");
      const create = ponchoCommand([
        "create",
        "-c",
        `${srv.url}/stall`,
        "--store",
        join(dir, "store"),
        "--prefix",
        prefix,
        spec,
      ], { env: { PONCHO_HTTP_TIMEOUT: "60" } }).spawn();
      await waitFor("the create to start", () => srv.accepted > 0);
      create.kill("SIGKILL");
      await create.status;
      await create.stdout.cancel();
      await create.stderr.cancel();
      assert.ok(await exists(join(prefix, ".poncho", "incomplete")));
      await Deno.mkdir(join(prefix, "bin"), { recursive: true }); // as if half the packages were linked
      const r = await runPoncho(["run", "-e", prefix, "--", "true"]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /is half-installed \(a poncho create --prefix did not finish\)/);
      // A finished create --prefix leaves no marker and runs.
      const done = join(dir, "done");
      const ok = await runPoncho([
        "create",
        "-q",
        "--store",
        join(dir, "store"),
        "--prefix",
        done,
        spec,
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(!(await exists(join(done, ".poncho"))));
      const run = await runPoncho(["run", "-e", done, "--", "hello"]);
      assert.equal(run.code, 0, run.stderr);
    }).finally(() => srv.close());
  },
});
