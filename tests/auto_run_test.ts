/**
 * `poncho run script.py`, `-m module` and `--spec`: automatic environments
 * over the real test channel, reused by hash, built once under concurrency.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fixtureTools, ponchoCommand, runPoncho, withChannelDir } from "./util.ts";

const tools = await fixtureTools("automatic-run tests");

function poncho(cwd: string, args: string[]) {
  return runPoncho(args, { cwd, env: { NO_COLOR: "1" } });
}

const count = (dir: string) => {
  try {
    return [...Deno.readDirSync(dir)].filter((e) => !e.name.startsWith(".")).length;
  } catch {
    return 0;
  }
};

Deno.test({
  name: "poncho run script.py builds once (even 4 at once), then reuses; -m and --spec too",
  ignore: !tools.ok,
  fn: () =>
    withChannelDir("poncho-auto-run-", async (ch, dir) => {
      const store = join(dir, "store");
      await Deno.writeTextFile(
        join(dir, "job.py"),
        "import sys\nimport helper\nhelper.go(sys.argv[1:])\n",
      );
      await Deno.writeTextFile(
        join(dir, "helper.py"),
        "import sys\nfrom pyhello import main\ndef go(args):\n    print(sys.prefix, args)\n    main()\n",
      );
      const common = ["--store", store, "-c", ch.url, "--python", ch.pythonShort];

      const dry = await poncho(dir, ["run", ...common, "--dry-run", "--json", "job.py"]);
      assert.equal(dry.code, 0, dry.stderr);
      const plan = JSON.parse(dry.stdout);
      assert.equal(plan.action, "build");
      assert.ok(plan.spec.conda.dependencies.includes("pyhello"), dry.stdout); // found through helper.py
      assert.deepEqual(plan.files.map((f: string) => f.slice(dir.length + 1)), [
        "helper.py",
        "job.py",
      ]);

      const runs = await Promise.all(
        [1, 2, 3, 4].map((i) => poncho(dir, ["run", ...common, "job.py", `arg${i}`])),
      );
      for (const [i, r] of runs.entries()) {
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`\\['arg${i + 1}'\\]`));
        assert.match(r.stdout, /hello from pyhello/);
        assert.ok(r.stdout.startsWith(join(store, "v1", "envs")), r.stdout);
      }
      assert.equal(count(join(store, "v1", "envs")), 1, "built once");
      // The script takes poncho run's process (the same environment, reused by its hash).
      await Deno.writeTextFile(
        join(dir, "pid.py"),
        "import os\nimport helper\nprint(os.getpid())\n",
      );
      const own = ponchoCommand(["run", ...common, "pid.py"], { cwd: dir }).spawn();
      const ownOut = await own.output();
      assert.equal(new TextDecoder().decode(ownOut.stdout).trim(), String(own.pid));
      assert.equal(count(join(store, "v1", "envs")), 1, "reused");
      assert.equal(count(join(store, "v1", "archives")), 0, "linked in place: no archive");

      const again = await poncho(dir, ["run", ...common, "--dry-run", "--json", "job.py"]);
      assert.equal(JSON.parse(again.stdout).action, "reuse");
      assert.equal(JSON.parse(again.stdout).hash, plan.hash);
      // Channels are part of the hash.
      const other = await poncho(dir, [
        "run",
        "--store",
        store,
        "-c",
        `${ch.url}/`,
        "-c",
        "file:///x",
        "--python",
        ch.pythonShort,
        "--dry-run",
        "--json",
        "job.py",
      ]);
      assert.notEqual(JSON.parse(other.stdout).hash, plan.hash);

      // -m module and --spec reuse the same store.
      await Deno.mkdir(join(dir, "tool"));
      await Deno.writeTextFile(join(dir, "tool", "__init__.py"), "");
      await Deno.writeTextFile(
        join(dir, "tool", "__main__.py"),
        "import pyhello\npyhello.main()\n",
      );
      const mod = await poncho(dir, ["run", ...common, "-m", "tool"]);
      assert.equal(mod.code, 0, mod.stderr);
      assert.match(mod.stdout, /hello from pyhello/);
      await Deno.writeTextFile(
        join(dir, "spec.json"),
        JSON.stringify({ conda: { channels: [ch.url], dependencies: ["hello"] } }),
      );
      const spec = await poncho(dir, [
        "run",
        "--store",
        store,
        "--spec",
        "spec.json",
        "--",
        "hello",
      ]);
      assert.equal(spec.code, 0, spec.stderr);
      assert.match(spec.stdout, /Hello from the hello package!/);

      // The store index says what each env was made for.
      const list = await poncho(dir, ["store", "list", "--json", "--store", store]);
      assert.equal(list.code, 0, list.stderr);
      const sources = JSON.stringify(JSON.parse(list.stdout));
      assert.ok(sources.includes(join(dir, "job.py")), sources);
      assert.ok(sources.includes("spec.json"), sources);

      const bad = await poncho(dir, ["run", "--store", store, "missing.py"]);
      assert.equal(bad.code, 2);
      const usage = await poncho(dir, ["run", "--store", store, "ls"]);
      assert.equal(usage.code, 1);
      const mixed = await poncho(dir, ["run", "-e", "x.tar.zst", "--dry-run", "--", "true"]);
      assert.equal(mixed.code, 1);
    }),
});
