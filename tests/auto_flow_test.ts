/**
 * The worker flow on local modules (analyze, create, run -e elsewhere), the
 * options of `poncho run script.py`, environments linked in place and
 * `poncho store pack`, over the real test channel.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fixtureTools, runPoncho, withChannelDir, writeTree } from "./util.ts";

const tools = await fixtureTools("automatic-flow tests");

function poncho(cwd: string, args: string[], env: Record<string, string> = {}) {
  return runPoncho(args, { cwd, env: { NO_COLOR: "1", ...env } });
}

/** A task importing a local package that imports pyhello (the case of the issue). */
const TASK = {
  "task.py": "import sys\nimport helpers\nhelpers.greet(sys.argv[1:])\n",
  "helpers/__init__.py": "from .core import greet\n",
  "helpers/core.py":
    "import pyhello\ndef greet(args):\n    print('args', args)\n    pyhello.main()\n",
};

Deno.test({
  name: "worker flow: analyze follows helpers/ to pyhello; create; run -e at another path",
  ignore: !tools.ok,
  fn: () =>
    withChannelDir("poncho-flow-", async (ch, dir) => {
      const src = join(dir, "src");
      await writeTree(src, TASK);
      const empty = join(dir, "empty");
      await Deno.mkdir(empty);
      const a = await poncho(src, [
        "analyze",
        "--python",
        ch.pythonShort,
        "--prefix",
        empty,
        "-c", // its import map names pyhello
        ch.url,
        "--explain",
        "task.py",
        join(dir, "spec.json"),
      ]);
      assert.equal(a.code, 0, a.stderr);
      const spec = JSON.parse(await Deno.readTextFile(join(dir, "spec.json")));
      assert.deepEqual(spec.conda.dependencies, [`python=${ch.pythonShort}`, "pyhello"]);
      assert.deepEqual(spec.files, ["helpers/__init__.py", "helpers/core.py", "task.py"]);
      assert.deepEqual(spec.conda.channels, [ch.url]);
      await Deno.writeTextFile(join(dir, "spec.json"), JSON.stringify(spec));
      const store = join(dir, "store");
      const c = await poncho(dir, [
        "create",
        "--store",
        store,
        "-q",
        "spec.json",
        join(dir, "env.tar.zst"),
      ]);
      assert.equal(c.code, 0, c.stderr);
      // The worker: another directory, another store, the sources shipped beside the task.
      const worker = join(dir, "worker");
      await writeTree(worker, TASK);
      const r = await poncho(worker, [
        "run",
        "--store",
        join(dir, "worker-store"),
        "-e",
        join(dir, "env.tar.zst"),
        "-u",
        join(dir, "elsewhere", "env"),
        "--",
        "python",
        "task.py",
        "x",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /args \['x'\]\nhello from pyhello/);
    }),
});

Deno.test({
  name: "run script.py: each option changes what it should; in-place env; store pack ships it",
  ignore: !tools.ok,
  fn: () =>
    withChannelDir("poncho-auto-opts-", async (ch, dir) => {
      await writeTree(dir, {
        ...TASK,
        "uses_hello.py": "import shutil\nprint('hello at', shutil.which('hello'))\n",
        "mapped.py": "import zz_greeting\n",
        "noisy.py": [
          "# /// script",
          "# dependencies = []",
          "# ///",
          "def later():",
          "    import zz_undeclared",
          "print('declared nothing')",
        ].join("\n"),
        "libs/onpath.py": "import pyhello\n",
        "via_path.py": "import onpath\nonpath.pyhello.main()\n",
      });
      const store = join(dir, "store");
      const common = ["--store", store, "-c", ch.url];
      const plan = async (...args: string[]) => {
        const r = await poncho(dir, ["run", ...common, "--dry-run", "--json", ...args]);
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout);
      };

      // First run: linked straight into the store (no archive), relocatable manifest, run_in_env.
      const first = await poncho(dir, ["run", ...common, "task.py", "a"]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /args \['a'\]\nhello from pyhello/);
      assert.deepEqual([...Deno.readDirSync(join(store, "v1", "archives"))], []);
      const base = await plan("task.py");
      assert.equal(base.action, "reuse");
      assert.deepEqual(base.spec.conda.dependencies, ["python", "pyhello"]);
      const envDir: string = base.env;
      const manifest = JSON.parse(await Deno.readTextFile(join(envDir, ".poncho/manifest.json")));
      assert.equal(manifest.buildPrefix, envDir);
      assert.equal(manifest.specHash, base.hash);
      assert.ok(manifest.packages.some((p: { name: string }) => p.name === "pyhello"));
      assert.ok(manifest.relocations.length > 0);
      const inEnv = await new Deno.Command(join(envDir, "bin", "run_in_env"), {
        args: ["python", "-c", "import pyhello; pyhello.main()"],
        stdout: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(inEnv.stdout), "hello from pyhello\n");

      // analyze reads the same closure and infers the same requirements.
      await Deno.mkdir(join(dir, "nothing-installed"));
      const analyzed = await poncho(dir, [
        "analyze",
        "--explain",
        "--prefix",
        join(dir, "nothing-installed"),
        "-c",
        ch.url,
        "task.py",
        "-",
      ]);
      assert.equal(analyzed.code, 0, analyzed.stderr);
      const report = JSON.parse(analyzed.stdout);
      assert.deepEqual(report.files, base.files.map((f: string) => f.slice(dir.length + 1)));
      assert.deepEqual(report.conda.dependencies.slice(1), base.spec.conda.dependencies.slice(1));
      // -u: a private copy elsewhere, relocated from the in-place environment's manifest.
      const copy = await poncho(dir, ["run", ...common, "-u", join(dir, "copy", "env"), "task.py"]);
      assert.equal(copy.code, 0, copy.stderr);
      assert.match(copy.stdout, /hello from pyhello/);

      // --python and the channel are part of the identity.
      const py = await plan("--python", ch.pythonShort, "task.py");
      assert.equal(py.spec.conda.dependencies[0], `python=${ch.pythonShort}`);
      assert.notEqual(py.hash, base.hash);
      // --pkg-mapping names the package of an import.
      const mapped = await plan("--pkg-mapping", "zz_greeting=pyhello", "mapped.py");
      assert.deepEqual(mapped.spec.conda.dependencies, ["python", "pyhello"]);
      assert.equal(mapped.hash, base.hash); // the same requirement set: the same environment
      assert.equal(mapped.action, "reuse");
      // --extra-pkg adds a package, and the run has it.
      const extra = await poncho(dir, ["run", ...common, "--extra-pkg", "hello", "uses_hello.py"]);
      assert.equal(extra.code, 0, extra.stderr);
      assert.match(extra.stdout, new RegExp(`hello at ${store}/v1/envs/[^/]+/bin/hello`));

      // --refresh re-solves: the same solution keeps the same environment.
      const refreshed = await poncho(dir, ["run", ...common, "--refresh", "-v", "task.py", "b"]);
      assert.equal(refreshed.code, 0, refreshed.stderr);
      assert.match(refreshed.stderr, /solving/);
      assert.match(refreshed.stderr, /poncho run: reusing environment /);
      assert.equal((await plan("task.py")).env, envDir);
      // --force rebuilds it.
      const marker = () => JSON.parse(Deno.readTextFileSync(join(envDir, ".poncho/ready.json")));
      const before = marker().unpacked;
      const forced = await poncho(dir, ["run", ...common, "--force", "task.py", "c"]);
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stdout, /args \['c'\]/);
      assert.notEqual(marker().unpacked, before);
      // -v shows the build steps, -q shows nothing but the command's own output; without
      // either a warm run shows the analysis warnings.
      const noisy = await poncho(dir, ["run", ...common, "noisy.py"]);
      assert.equal(noisy.code, 0, noisy.stderr);
      assert.match(noisy.stderr, /zz_undeclared is not among the script's declared dependencies/);
      const quiet = await poncho(dir, ["run", ...common, "-q", "noisy.py"]);
      assert.equal(quiet.code, 0, quiet.stderr);
      assert.equal(quiet.stderr, "");
      assert.equal(quiet.stdout, "declared nothing\n");
      const both = await poncho(dir, ["run", ...common, "-q", "-v", "noisy.py"]);
      assert.equal(both.code, 1);
      // -m with a module on $PYTHONPATH: analysed as local, and still importable at run time.
      const viaPath = await poncho(dir, ["run", ...common, "via_path.py"], { PYTHONPATH: "libs" });
      assert.equal(viaPath.code, 0, viaPath.stderr);
      assert.equal(viaPath.stdout, "hello from pyhello\n");
      // Options for automatic runs are refused with -e.
      const stray = await poncho(dir, ["run", "-e", envDir, "--extra-pkg", "x", "--", "true"]);
      assert.equal(stray.code, 1);
      assert.match(stray.stderr, /--extra-pkg is for automatic environments/);

      // store pack: a relocatable archive of the in-place environment, run elsewhere.
      const list = JSON.parse(
        (await poncho(dir, ["store", "list", "--json", "--store", store]))
          .stdout,
      );
      const id = list.find((e: { path: string }) => e.path === envDir).id as string;
      const packed = await poncho(dir, [
        "store",
        "pack",
        "--store",
        store,
        id.slice(0, 16),
        join(dir, "shipped.tar.zst"),
      ]);
      assert.equal(packed.code, 0, packed.stderr);
      const shipped = await poncho(dir, [
        "run",
        "--store",
        join(dir, "other-store"),
        "-e",
        join(dir, "shipped.tar.zst"),
        "--",
        "python",
        "-c",
        "import sys, pyhello; print(sys.prefix); pyhello.main()",
      ]);
      assert.equal(shipped.code, 0, shipped.stderr);
      assert.match(shipped.stdout, new RegExp(`^${dir}/other-store/v1/envs/${id}\nhello from`));
      // create of the same spec hits the environment the run built: packed, not rebuilt.
      await Deno.writeTextFile(join(dir, "auto-spec.json"), JSON.stringify(base.spec));
      const created = await poncho(dir, [
        "create",
        "--store",
        store,
        "--json",
        "auto-spec.json",
        join(dir, "created.tar.zst"),
      ]);
      assert.equal(created.code, 0, created.stderr);
      const createdReport = JSON.parse(created.stdout);
      assert.equal(createdReport.cached, true); // a build would say false
      assert.equal(createdReport.specHash, base.hash);
      assert.equal(createdReport.envId, id);
      const missing = await poncho(dir, ["store", "pack", "--store", store, "nope", "x.tar.zst"]);
      assert.equal(missing.code, 2);
      // A damaged manifest is reported, not replaced by a fresh one.
      await Deno.writeTextFile(join(envDir, ".poncho/manifest.json"), "{ not json");
      const damaged = await poncho(dir, ["store", "pack", "--store", store, id, "y.tar.zst"]);
      assert.equal(damaged.code, 3, damaged.stderr);
      assert.match(damaged.stderr, /\.poncho\/manifest\.json is not valid JSON/);
    }),
});

Deno.test({
  name: "a first run killed while linking into the store leaves nothing used; the next run builds",
  ignore: !tools.ok,
  fn: () =>
    withChannelDir("poncho-auto-kill-", async (ch, dir) => {
      await writeTree(dir, TASK);
      const common = ["run", "--store", join(dir, "store"), "-c", ch.url];
      for (const phase of ["unpack-start", "built"]) {
        const killed = await poncho(dir, [...common, "task.py"], { PONCHO_TEST_KILL_AT: phase });
        assert.equal(killed.code, 137, `${phase}: ${killed.stderr}`);
        const plan = await poncho(dir, [...common, "--dry-run", "--json", "task.py"]);
        assert.equal(JSON.parse(plan.stdout).action, "build", phase);
      }
      const r = await poncho(dir, [...common, "task.py", "ok"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /args \['ok'\]\nhello from pyhello/);
      const envs = [...Deno.readDirSync(join(dir, "store", "v1", "envs"))].map((e) => e.name);
      assert.equal(envs.length, 1, envs.join(" "));
      const leftovers = [...Deno.readDirSync(join(dir, "store", "v1", "tmp"))].map((e) => e.name);
      assert.deepEqual(leftovers.filter((n) => !n.endsWith(".lock")), []);
    }),
});

Deno.test({
  name: "a warm run script.py needs neither the analyzer nor the create engine, solver or YAML",
  ignore: !tools.ok,
  fn: () =>
    withChannelDir("poncho-auto-warm-", async (ch, dir) => {
      await writeTree(join(dir, "job"), TASK);
      const store = join(dir, "store");
      const args = ["run", "--store", store, "-c", ch.url, "task.py", "w"];
      const cold = await poncho(join(dir, "job"), args);
      assert.equal(cold.code, 0, cold.stderr);
      // A copy of the code without the modules a warm run must not need: if it loaded one,
      // it would fail to start.
      const repo = new URL("..", import.meta.url).pathname;
      const code = join(dir, "code");
      await Deno.mkdir(code);
      for (const part of ["cli", "lib", "store"]) {
        const cp = await new Deno.Command("cp", { args: ["-a", join(repo, part), code] }).output();
        assert.ok(cp.success);
      }
      for (const f of ["deno.json", "package.json"]) {
        await Deno.copyFile(join(repo, f), join(code, f));
      }
      await Deno.symlink(join(repo, "node_modules"), join(code, "node_modules"));
      for (
        const gone of [
          "lib/analyze",
          "lib/auto_spec.ts",
          "lib/create.ts",
          "lib/create",
          "lib/store_env.ts",
          "lib/conda/solve.ts",
          "lib/deps/yaml.ts",
          "lib/deps/rattler.ts",
          "lib/envspec/canonical.ts",
          "lib/env/unpack.ts",
        ]
      ) await Deno.remove(join(code, gone), { recursive: true });
      const warm = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--no-check", join(code, "cli", "main.ts"), ...args],
        cwd: join(dir, "job"),
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      assert.equal(warm.code, 0, dec.decode(warm.stderr));
      assert.match(dec.decode(warm.stdout), /args \['w'\]\nhello from pyhello/);
      // A changed closure needs the analyzer: the stripped copy cannot analyse.
      await Deno.writeTextFile(
        join(dir, "job", "helpers", "core.py"),
        TASK["helpers/core.py"] + "\n",
      );
      const miss = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--no-check", join(code, "cli", "main.ts"), ...args],
        cwd: join(dir, "job"),
        stdout: "null",
        stderr: "null",
      }).output();
      assert.notEqual(miss.code, 0);
    }),
});
