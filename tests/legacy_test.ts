/**
 * CCTools' first-generation tools, end to end: the shipped `poncho` file
 * under the names `python_package_analyze`, `python_package_create` and
 * `python_package_run` (argv0 dispatch), first on PATH, run as real processes
 * over the test channel, the way their manual's "how to test overall
 * functionality" runs them; and the exit codes the manual documents.
 */
import assert from "node:assert/strict";
import { fixtureTools } from "./util.ts";
import { join } from "node:path";
import { buildTestChannel } from "./fixtures/channel.ts";
import { shipPoncho } from "./engines/common.ts";

const tools = await fixtureTools("legacy tests");

const dec = new TextDecoder();

async function withLegacyTools(
  fn: (
    run: (name: string, args: string[], env?: Record<string, string>) => Promise<{
      code: number;
      out: string;
      err: string;
    }>,
    dir: string,
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "poncho-legacy-" });
  try {
    const bin = join(dir, "bin");
    await Deno.mkdir(bin);
    for (const name of ["python_package_analyze", "python_package_create", "python_package_run"]) {
      await shipPoncho(join(bin, name));
    }
    const work = join(dir, "work");
    await Deno.mkdir(work);
    const run = async (name: string, args: string[], env: Record<string, string> = {}) => {
      const o = await new Deno.Command(name, {
        args,
        cwd: work,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: {
          PATH: `${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
          NO_COLOR: "1",
          // The single file unpacks its runtime into the store: keep it in the test's dir.
          PONCHO_STORE: join(dir, "store"),
          ...env,
        },
      }).output();
      return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
    };
    await fn(run, work);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const HI_PY = `import os
import sys
import pyhello

if __name__ == "__main__":
    pyhello.main()
    print(sys.prefix)
`;

Deno.test({
  name: "python_package_analyze, _create and _run: the first-generation workflow, unchanged",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withLegacyTools(async (run, work) => {
      await Deno.writeTextFile(join(work, "hi.py"), HI_PY);
      // 1. The old format: the local python3's full version, third-party modules only.
      const a = await run("python_package_analyze", ["hi.py", "output.json"]);
      assert.equal(a.code, 0, a.err);
      assert.equal(
        await Deno.readTextFile(join(work, "output.json")),
        `{"python": "${ch.pythonVersion}", "modules": ["pyhello"]}\n`,
      );
      // 2. venv.tar.gz in the current directory (a gzip file), from the old format.
      const store = join(work, "..", "create-store");
      const c = await run("python_package_create", [
        "-q",
        "-c",
        ch.url,
        "--store",
        store,
        "output.json",
        "venv",
      ]);
      assert.equal(c.code, 0, c.err);
      const gz = await Deno.readFile(join(work, "venv.tar.gz"));
      assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b]);
      // 3. One shell command string, run inside the environment.
      const runStore = join(work, "..", "run-store");
      const r = await run("python_package_run", ["venv", "python3 hi.py && echo done: $0"], {
        PONCHO_STORE: runStore,
      });
      assert.equal(r.code, 0, r.err);
      const lines = r.out.trim().split("\n");
      assert.equal(lines[0], "hello from pyhello");
      assert.ok(lines[1].startsWith(join(runStore, "v1", "envs") + "/"), r.out);
      assert.equal(lines[2], "done: /bin/sh");
      // Work Queue's form of the same tool, and a command's own exit code: --unpack-to DIR is
      // honoured without PONCHO_STORE (the runtime then goes to $XDG_CACHE_HOME/poncho) ...
      const wqForm = [
        "-e",
        "venv.tar.gz",
        "--unpack-to",
        join(work, "unpacked"),
        "python3",
        "-c",
        "import sys; print(sys.prefix); sys.exit(7)",
      ];
      const e = await run("python_package_run", wqForm, {
        PONCHO_STORE: "",
        XDG_CACHE_HOME: join(work, "..", "cache"),
      });
      assert.equal(e.code, 7, e.err);
      assert.equal(e.out.trim(), join(work, "unpacked"));
      // ... and PONCHO_STORE takes the environment to the store instead.
      const s = await run("python_package_run", wqForm, { PONCHO_STORE: runStore });
      assert.equal(s.code, 7, s.err);
      assert.equal(s.out.trim(), lines[1]);
      // Poncho's own spec format is read too.
      await Deno.writeTextFile(
        join(work, "spec.json"),
        JSON.stringify({ conda: { channels: [ch.url], dependencies: ["python", "pyhello"] } }),
      );
      const p = await run("python_package_create", ["-q", "--store", store, "spec.json", "env2"]);
      assert.equal(p.code, 0, p.err);
      assert.ok((await Deno.stat(join(work, "env2.tar.gz"))).isFile);
    });
  },
});

Deno.test({
  name: "python_package_*: exit codes 1 usage, 2 missing input, 3 extraction, 4 activation",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withLegacyTools(async (run, work) => {
      const code = async (name: string, args: string[]) => {
        const o = await run(name, args, { PONCHO_STORE: join(work, "..", "store") });
        if (o.code > 1) {
          assert.equal(o.err.trim().split("\n").length, 1, `one error line: ${o.err}`);
        }
        return o.code;
      };
      assert.equal(await code("python_package_analyze", ["only.py"]), 1);
      assert.equal(await code("python_package_analyze", ["missing.py", "out.json"]), 2);
      assert.equal(await code("python_package_create", ["deps.json"]), 1);
      assert.equal(await code("python_package_create", ["missing.json", "venv"]), 2);
      await Deno.writeTextFile(join(work, "bad.json"), '{"python": 3, "modules": []}');
      assert.equal(await code("python_package_create", ["bad.json", "venv"]), 1);
      assert.equal(await code("python_package_run", ["venv"]), 1);
      assert.equal(await code("python_package_run", ["venv", "true"]), 2);
      await Deno.writeTextFile(join(work, "broken.tar.gz"), "not a tarball\n");
      assert.equal(await code("python_package_run", ["broken", "true"]), 3);
      await Deno.writeTextFile(
        join(work, "d.json"),
        `{"python": "${ch.pythonVersion}", "modules": ["pyhello"]}`,
      );
      const made = await run("python_package_create", [
        "-q",
        "-c",
        ch.url,
        "--store",
        join(work, "..", "create-store"),
        "d.json",
        "venv",
      ]);
      assert.equal(made.code, 0, made.err);
      assert.equal(
        await code("python_package_run", ["-e", "venv.tar.gz", "no-such-command-here"]),
        4,
      );
      assert.equal(await code("python_package_run", ["venv", "exit 5"]), 5);
    });
  },
});
