/**
 * End to end: `poncho create` over real test channels (built from real
 * packages with `cph`, `gcc` and this machine's CPython), served as `file://`
 * and over loopback HTTP, then `poncho run` of the archive unpacked elsewhere.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  commandPath,
  fixtureTools,
  git,
  hasCommand,
  MAIN,
  type PonchoOutput,
  runArgs,
  runPoncho,
  withChannelDir,
  writeSpec,
} from "./util.ts";
import { serveChannel, type TestChannel, UNSATISFIABLE_SPECS } from "./fixtures/channel.ts";

const tools = await fixtureTools("create tests");
const ignore = !tools.ok;

function poncho(args: string[], env: Record<string, string> = {}): Promise<PonchoOutput> {
  return runPoncho(args, { env: { NO_COLOR: "1", ...env } });
}

function listDir(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Runs `fn` with the test channel and a new `poncho-create-` directory, removed afterwards. */
function withSetup(fn: (ch: TestChannel, dir: string) => Promise<void>): Promise<void> {
  return withChannelDir("poncho-create-", fn);
}

function specText(channelUrl: string, deps: unknown[]): string {
  return JSON.stringify({ conda: { channels: [channelUrl], dependencies: deps } });
}

const FULL = ["python", "hello", "pyhello", "oldtext", "pip"];

async function checkEnv(archive: string, dir: string, where: string): Promise<void> {
  const target = join(dir, where);
  const store = join(dir, "run-store");
  // Binary relocation: hello prints the prefix compiled in and reads a file under it.
  const hello = await poncho(runArgs(archive, target, ["hello"], store));
  assert.equal(hello.code, 0, hello.stderr);
  assert.ok(hello.stdout.includes(`prefix: ${target}`), hello.stdout);
  assert.ok(hello.stdout.includes("Hello from the hello package!"), hello.stdout);
  // The noarch: python entry point and real Python.
  const ep = await poncho(runArgs(archive, target, ["pyhello"]));
  assert.equal(ep.code, 0, ep.stderr);
  assert.match(ep.stdout, /hello from pyhello/);
  const py = await poncho(
    runArgs(archive, target, ["python", "-c", "import pyhello, sys; print(sys.prefix)"]),
  );
  assert.equal(py.code, 0, py.stderr);
  assert.equal(py.stdout.trim(), target);
  // Text placeholders (paths.json and legacy has_prefix) and the softlink.
  const text = await poncho(runArgs(archive, target, [
    "sh",
    "-c",
    'cat "$CONDA_PREFIX/etc/hello.conf"; readlink "$CONDA_PREFIX/bin/hello-link"',
  ]));
  assert.equal(text.code, 0, text.stderr);
  assert.ok(text.stdout.includes(`prefix=${target}`), text.stdout);
  assert.ok(text.stdout.trim().endsWith("hello"), text.stdout);
}

Deno.test({
  name: "create over file:// then run relocated at two paths; second create is cached",
  ignore,
  fn: () =>
    withSetup(async (ch, dir) => {
      const store = join(dir, "store");
      const spec = await writeSpec(dir, ch.url, FULL);
      const archive = join(dir, "env.tar.zst");
      const first = await poncho(["create", "--json", "--store", store, spec, archive]);
      assert.equal(first.code, 0, first.stderr);
      const r1 = JSON.parse(first.stdout);
      assert.equal(r1.cached, false);
      assert.deepEqual(
        r1.packages.map((p: { name: string }) => p.name).sort(),
        ["hello", "libgreet", "oldtext", "pip", "pyhello", "python"],
      );
      await checkEnv(archive, dir, "a/first place");
      await checkEnv(archive, dir, "b/second/place/deeper");
      // conda-meta records and history, so conda-family tools recognise the env.
      const meta = await Deno.readTextFile(
        join(dir, "a/first place", "conda-meta", "hello-1.0-h0_poncho.json"),
      );
      const rec = JSON.parse(meta);
      assert.equal(rec.name, "hello");
      assert.ok(rec.files.includes("bin/hello"));
      assert.ok(rec.paths_data.paths.some((p: { file_mode?: string }) => p.file_mode === "binary"));
      assert.equal(rec.requested_spec, "hello");
      assert.ok((await listDir(join(dir, "a/first place", "conda-meta"))).includes("history"));

      const second = await poncho([
        "create",
        "--json",
        "--store",
        store,
        spec,
        join(dir, "again.tar.zst"),
      ]);
      assert.equal(second.code, 0, second.stderr);
      const r2 = JSON.parse(second.stdout);
      assert.equal(r2.cached, true);
      assert.equal(r2.specHash, r1.specHash);
      assert.equal(r2.envId, r1.envId);
      assert.deepEqual(r2.packages, r1.packages); // read back from the cached archive's manifest
      assert.deepEqual(
        await Deno.readFile(join(dir, "again.tar.zst")),
        await Deno.readFile(archive),
      );
      // --force rebuilds.
      const forced = await poncho(["create", "--json", "--force", "--store", store, spec, archive]);
      assert.equal(JSON.parse(forced.stdout).cached, false, forced.stderr);
      assert.deepEqual(await listDir(join(store, "v1", "tmp")), []);
    }),
});

Deno.test({
  name: "create over loopback HTTP (.tar.gz) and --prefix install",
  ignore,
  fn: () =>
    withSetup(async (ch, dir) => {
      const served = serveChannel(ch.dir);
      try {
        const store = join(dir, "store");
        const spec = await writeSpec(dir, served.url, FULL);
        const archive = join(dir, "env.tar.gz");
        const res = await poncho(["create", "-q", "--store", store, spec, archive]);
        assert.equal(res.code, 0, res.stderr);
        assert.ok((served.requests.get("/linux-64/hello-1.0-h0_poncho.conda") ?? 0) >= 1);
        await checkEnv(archive, dir, "over-http");

        const prefix = join(dir, "installed");
        const inst = await poncho(["create", "-q", "--store", store, "--prefix", prefix, spec]);
        assert.equal(inst.code, 0, inst.stderr);
        const hello = await new Deno.Command(join(prefix, "bin", "hello"), { stdout: "piped" })
          .output();
        assert.ok(new TextDecoder().decode(hello.stdout).includes(`prefix: ${prefix}`));
      } finally {
        await served.close();
      }
    }),
});

Deno.test({
  name: "create installs pip requirements from a local wheel (PIP_* settings honoured)",
  ignore,
  fn: () =>
    withSetup(async (ch, dir) => {
      const spec = await writeSpec(dir, ch.url, ["python", "pip", { pip: ["greetwheel==0.1"] }]);
      const archive = join(dir, "pip.tar.zst");
      const res = await poncho(["create", "--store", join(dir, "store"), spec, archive], {
        PIP_NO_INDEX: "1",
        PIP_FIND_LINKS: ch.wheelDir,
      });
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stderr, /Successfully installed greetwheel-0\.1/); // pip's output is shown
      const run = await poncho(runArgs(archive, join(dir, "elsewhere"), [
        "python",
        "-c",
        "import greetwheel, sys; print(greetwheel.__file__.startswith(sys.prefix))",
      ]));
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), "True");
    }),
});

Deno.test({
  name:
    "failures are clear and leave nothing behind (unsatisfiable, corrupt, unreachable, bad spec)",
  ignore,
  fn: () =>
    withSetup(async (ch, dir) => {
      const store = join(dir, "store");
      const out = join(dir, "out.tar.zst");
      const clean = async () => {
        assert.deepEqual(await listDir(join(store, "v1", "archives")), []);
        assert.deepEqual(await listDir(join(store, "v1", "tmp")), []);
        assert.deepEqual(
          (await listDir(dir)).filter((n) => n.startsWith("out") || n.startsWith(".out")),
          [],
        );
      };
      const write = async (name: string, text: string) => {
        await Deno.writeTextFile(join(dir, name), text);
        return join(dir, name);
      };

      const unsat = await poncho([
        "create",
        "--store",
        store,
        await write("u.json", specText(ch.url, [...UNSATISFIABLE_SPECS])),
        out,
      ]);
      assert.equal(unsat.code, 3, unsat.stderr);
      assert.match(unsat.stderr, /cannot solve/);
      assert.match(unsat.stderr, /libgreet/);
      await clean();

      const corrupt = await poncho([
        "create",
        "--store",
        store,
        await write("c.json", specText(ch.corruptUrl, ["libgreet"])),
        out,
      ]);
      assert.equal(corrupt.code, 3, corrupt.stderr);
      assert.match(corrupt.stderr, /sha256/);
      assert.equal(corrupt.stderr.trim().split("\n").length, 1, corrupt.stderr);
      // Whatever was kept in downloads/ is named by its real sha256: nothing corrupt was kept.
      for (const name of await listDir(join(store, "v1", "downloads"))) {
        const data = await Deno.readFile(join(store, "v1", "downloads", name));
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
        const hex = [...digest].map((x) => x.toString(16).padStart(2, "0")).join("");
        assert.ok(name.startsWith(hex), `${name} is not what its name says`);
      }
      await clean();

      const unreachable = await poncho([
        "create",
        "--store",
        store,
        await write("n.json", specText("http://127.0.0.1:9/nothing", ["hello"])),
        out,
      ]);
      assert.notEqual(unreachable.code, 0);
      assert.match(unreachable.stderr, /127\.0\.0\.1:9/);
      assert.equal(unreachable.stderr.trim().split("\n").length, 1, unreachable.stderr);
      await clean();

      const bad = await poncho([
        "create",
        "--store",
        store,
        await write("b.json", '{"conda": {"dependencies": ["hello", 7]}}'),
        out,
      ]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /b\.json: field 'conda\.dependencies\[1\]'/);
      const missing = await poncho(["create", "--store", store, join(dir, "nope.json"), out]);
      assert.equal(missing.code, 2);
      const badExt = await poncho([
        "create",
        "--store",
        store,
        join(dir, "b.json"),
        join(dir, "out.zip"),
      ]);
      assert.equal(badExt.code, 1, badExt.stderr);
      await clean();
    }),
});

Deno.test({
  name: "two concurrent creates of the same spec build once",
  ignore,
  fn: () =>
    withSetup(async (ch, dir) => {
      const store = join(dir, "store");
      const spec = await writeSpec(dir, ch.url, FULL);
      const [a, b] = await Promise.all([
        poncho(["create", "--json", "--store", store, spec, join(dir, "a.tar.zst")]),
        poncho(["create", "--json", "--store", store, spec, join(dir, "b.tar.zst")]),
      ]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const cached = [JSON.parse(a.stdout).cached, JSON.parse(b.stdout).cached].sort();
      assert.deepEqual(cached, [false, true]);
      assert.deepEqual(
        await Deno.readFile(join(dir, "a.tar.zst")),
        await Deno.readFile(join(dir, "b.tar.zst")),
      );
      assert.equal((await listDir(join(store, "v1", "archives"))).length, 1);
    }),
});

Deno.test({
  name: "git and http data sources end up inside the archive and are exported on run",
  ignore,
  fn: () =>
    withSetup(async (ch, dir) => {
      const repo = join(dir, "repo");
      await Deno.mkdir(repo);
      const inRepo = (...args: string[]) => git(repo, ...args);
      await inRepo("init", "-q", "-b", "main");
      await Deno.writeTextFile(join(repo, "data.txt"), "from git v1\n");
      await inRepo("add", "data.txt");
      await inRepo("commit", "-q", "-m", "v1");
      await inRepo("tag", "v1");
      await Deno.writeTextFile(join(repo, "data.txt"), "from git v2\n");
      await inRepo("commit", "-q", "-am", "v2");
      await Deno.writeTextFile(join(dir, "ref.dat"), "reference data\n");
      const spec = join(dir, "spec.json");
      await Deno.writeTextFile(
        spec,
        JSON.stringify({
          conda: { channels: [ch.url], dependencies: ["hello"] },
          git: { DATA_DIR: { remote: repo, ref: "v1" } },
          http: { REF_DB: { type: "file", url: `file://${join(dir, "ref.dat")}` } },
        }),
      );
      const archive = join(dir, "data.tar.zst");
      const res = await poncho(["create", "-q", "--store", join(dir, "store"), spec, archive]);
      assert.equal(res.code, 0, res.stderr);
      await Deno.remove(repo, { recursive: true }); // the archive must not need the sources any more
      await Deno.remove(join(dir, "ref.dat"));
      const run = await poncho(
        runArgs(archive, join(dir, "unpacked"), ["sh", "-c", 'cat "$DATA_DIR/data.txt" "$REF_DB"']),
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, "from git v1\nreference data\n");
    }),
});

const condaExe = ["micromamba", "mamba", "conda"].map(commandPath).find((p) => p !== "");
if (!condaExe) console.log("--conda-exe test skipped: no micromamba, mamba or conda on PATH");

Deno.test({
  name: "--conda-exe delegates solve and install, then packs a relocatable archive the same way",
  ignore: ignore || !condaExe,
  fn: () =>
    withSetup(async (ch, dir) => {
      const spec = await writeSpec(dir, ch.url, ["hello"]);
      const archive = join(dir, "env.tar.zst");
      const res = await poncho([
        "create",
        "-q",
        "--conda-exe",
        condaExe!,
        "--store",
        join(dir, "store"),
        spec,
        archive,
      ]);
      assert.equal(res.code, 0, res.stderr);
      const target = join(dir, "moved");
      const hello = await poncho(runArgs(archive, target, ["hello"]));
      assert.equal(hello.code, 0, hello.stderr);
      assert.ok(hello.stdout.includes(`prefix: ${target}`), hello.stdout);
    }),
});

Deno.test({
  name: "a create killed mid-build leaves no archive; the next create cleans its build dir",
  ignore,
  fn: () =>
    withSetup(async (ch, dir) => {
      const store = join(dir, "store");
      const spec = await writeSpec(dir, ch.url, FULL);
      const out = join(dir, "env.tar.zst");
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--quiet",
          "--no-check",
          MAIN,
          "create",
          "-q",
          "--store",
          store,
          spec,
          out,
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      const tmp = join(store, "v1", "tmp");
      const deadline = Date.now() + 30_000;
      while (!listDir(tmp).some((n) => n.startsWith("b-")) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(listDir(tmp).some((n) => n.startsWith("b-")), "the build started");
      child.kill("SIGKILL");
      await child.status;
      assert.deepEqual(
        listDir(join(store, "v1", "archives")).filter((n) => !n.startsWith(".")),
        [],
      );
      assert.ok(!listDir(dir).includes("env.tar.zst"));
      const again = await poncho(["create", "-q", "--store", store, spec, out]);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(listDir(tmp), []);
      assert.equal(listDir(join(store, "v1", "archives")).length, 1);
    }),
});

Deno.test({
  name: "create checks the output and platform before any work",
  ignore,
  fn: () =>
    withSetup(async (ch, dir) => {
      const store = join(dir, "store");
      const spec = await writeSpec(dir, ch.url, ["hello"]);
      await Deno.writeTextFile(join(dir, "afile"), "");
      await Deno.symlink("loop", join(dir, "loop")); // a link to itself: there, but unusable
      for (
        const [args, re] of [
          [[spec, join(dir, "afile", "x.tar.zst")], /afile is not a directory/],
          [[spec, join(dir, "nodir", "x.tar.zst")], /does not exist/],
          // Not "does not exist": the failure to look is named as it is.
          [[spec, join(dir, "loop", "x.tar.zst")], /loop: too many levels of symbolic links/],
          [["--prefix", join(dir, "afile"), spec], /afile: exists and is not a directory/],
          [[spec, join(dir, "x.zip")], /name it \.tar\.zst/],
          [[spec, join(dir, "x.tar.bz2")], /name it \.tar\.zst/],
          [["--platform", "win-99", spec, join(dir, "x.tar.zst")], /unknown platform "win-99"/],
        ] as [string[], RegExp][]
      ) {
        const r = await poncho(["create", "--store", store, ...args]);
        assert.equal(r.code, 1, `${args}: ${r.stderr}`);
        assert.match(r.stderr, re);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      }
      assert.deepEqual(listDir(join(store, "v1", "downloads")), []); // nothing was fetched
    }),
});

Deno.test({
  name: "outputs that are FIFOs (or devices) are written to, never replaced",
  ignore: ignore || !hasCommand("mkfifo"),
  fn: () =>
    withSetup(async (ch, dir) => {
      const spec = await writeSpec(dir, ch.url, ["hello"]);
      await Deno.writeTextFile(join(dir, "app.py"), "import zz_fifo_probe\n");
      for (
        const [i, args] of [["create", "-q", "--store", join(dir, "store"), spec], [
          "analyze",
          join(dir, "app.py"),
        ]].entries()
      ) {
        const fifo = join(dir, `out${i}.tar.zst`);
        const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
        assert.ok(mk.success);
        const reader = new Deno.Command("sh", {
          args: ["-c", `wc -c < '${fifo}'`],
          stdout: "piped",
        }).output();
        const res = await poncho([...args, fifo]);
        assert.equal(res.code, 0, res.stderr);
        const got = Number(new TextDecoder().decode((await reader).stdout).trim());
        assert.ok(got > 0, `${args[0]} wrote ${got} bytes into the FIFO`);
        assert.ok(Deno.lstatSync(fifo).isFifo, `${args[0]} replaced the FIFO`);
      }
    }),
});
