/**
 * The checks every single-file Poncho passes (the `dist/poncho` of
 * `deno task dist` and the `deno compile` binary of `deno task compile`),
 * shared by `tests/dist_test.ts` and `tests/compile_test.ts`.
 *
 * The file is copied ALONE into an empty directory and run with
 * `env -i PATH=/usr/bin:/bin HOME=<tmp>`: no Deno, no Node and no checkout
 * on PATH or in the environment, the working directory outside the
 * checkout. Over the test channel it runs `--version`, `analyze`, `create`,
 * `run -e`, `run script.py` and `poncho_package_run` (a symlink to it).
 *
 * @module
 */
import assert from "node:assert/strict";
import { buildTestChannel } from "./fixtures/channel.ts";
import { withTempDir } from "./util.ts";

/** What one start of the file returned. */
export interface Started {
  /** Exit code. */
  code: number;
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
}

/** A copy of the single file in an empty directory, run with a clean environment. */
export interface Isolated {
  /** The directory holding the copy (also the working directory). */
  dir: string;
  /** The copy. */
  bin: string;
  /** `$HOME` of every start (the store defaults to `$HOME/.cache/poncho`). */
  home: string;
  /** Runs `name` (a file in {@link Isolated.dir}, default the copy) with `args`. */
  run(args: string[], name?: string): Promise<Started>;
}

/** The environment of every start: nothing but PATH and HOME (what `env -i` gives). */
export function cleanEnv(home: string): string[] {
  return ["env", "-i", "PATH=/usr/bin:/bin", `HOME=${home}`];
}

/** Copies `file` alone into a new empty directory and calls `fn` with it; removes it afterwards. */
export async function withIsolatedCopy<T>(
  file: string,
  fn: (iso: Isolated) => Promise<T>,
): Promise<T> {
  return await withTempDir("poncho-single-", async (root) => {
    const dir = `${root}/work`;
    const home = `${root}/home`;
    await Deno.mkdir(dir);
    await Deno.mkdir(home);
    const bin = `${dir}/poncho`;
    await Deno.copyFile(file, bin);
    await Deno.chmod(bin, 0o755);
    const dec = new TextDecoder();
    const run = async (args: string[], name = "poncho"): Promise<Started> => {
      const [cmd, ...pre] = cleanEnv(home);
      const out = await new Deno.Command(cmd, {
        args: [...pre, `./${name}`, ...args],
        cwd: dir,
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    };
    return await fn({ dir, bin, home, run });
  });
}

const TASK_PY = `import sys
import pyhello

pyhello.main()
print("prefix", sys.prefix)
print("args", sys.argv[1:])
`;

/** Caller-specific checks of {@link checkSingleFile}. */
export interface SingleFileHooks {
  /** Runs right after the first start (`--version`), e.g. to inspect an unpacked runtime. */
  afterVersion?: (iso: Isolated, version: Started) => Promise<void>;
  /** Runs after every shared check, before the copy is removed. */
  afterAll?: (iso: Isolated, version: Started) => Promise<void>;
}

/** Runs the shared checks on an isolated copy of `file` (see the module documentation). */
export async function checkSingleFile(file: string, hooks: SingleFileHooks = {}): Promise<void> {
  const ch = await buildTestChannel();
  await withIsolatedCopy(file, async (iso) => {
    const where = (r: Started) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
    const version = await iso.run(["--version"]);
    assert.equal(version.code, 0, where(version));
    assert.match(version.stdout, /^poncho \d+\.\d+\.\d+\n/, where(version));
    await hooks.afterVersion?.(iso, version);

    // analyze: the script's import is found and named through the channel's import map.
    await Deno.writeTextFile(`${iso.dir}/task.py`, TASK_PY);
    const analyzed = await iso.run(["analyze", "-c", ch.url, "task.py", "-"]);
    assert.equal(analyzed.code, 0, where(analyzed));
    assert.match(analyzed.stdout, /"pyhello/, where(analyzed));

    // create over the test channel: the solver (rattler's WASM) and the whole engine.
    await Deno.writeTextFile(
      `${iso.dir}/spec.json`,
      JSON.stringify({
        conda: { channels: [ch.url], dependencies: ["python", "hello", "pyhello"] },
      }),
    );
    const created = await iso.run(["create", "-q", "spec.json", "env.tar.zst"]);
    assert.equal(created.code, 0, where(created));
    assert.ok((await Deno.stat(`${iso.dir}/env.tar.zst`)).size > 0);

    // run -e: a relocated C program and the environment's Python.
    const envs = `${iso.home}/.cache/poncho/v1/envs/`;
    const hello = await iso.run(["run", "-e", "env.tar.zst", "--", "hello"]);
    assert.equal(hello.code, 0, where(hello));
    assert.ok(hello.stdout.includes(envs), where(hello));
    const py = await iso.run(["run", "-e", "env.tar.zst", "--", "python", "task.py", "a1"]);
    assert.equal(py.code, 0, where(py));
    assert.match(py.stdout, /hello from pyhello\n/, where(py));
    assert.match(py.stdout, new RegExp(`prefix ${envs}`), where(py));

    // run script.py: analyze, build and run the environment the script needs.
    const auto = await iso.run(["run", "-c", ch.url, "--python", ch.pythonShort, "task.py", "a2"]);
    assert.equal(auto.code, 0, where(auto));
    assert.match(auto.stdout, /hello from pyhello\nprefix .*\nargs \['a2'\]\n/, where(auto));

    // The CCTools name, as a symlink to the file, with CCTools' syntax (no --).
    await Deno.symlink("poncho", `${iso.dir}/poncho_package_run`);
    const cctools = await iso.run(
      ["-e", "env.tar.zst", "python", "task.py", "a3"],
      "poncho_package_run",
    );
    assert.equal(cctools.code, 0, where(cctools));
    assert.match(cctools.stdout, /hello from pyhello\n[^]*args \['a3'\]\n/, where(cctools));

    // Nothing of the way the file started leaks into the commands it runs.
    const env = await iso.run(["run", "-e", "env.tar.zst", "--", "env"]);
    assert.equal(env.code, 0, where(env));
    assert.doesNotMatch(env.stdout, /^(PONCHO_LAUNCHER|PONCHO_PAYLOAD|DENO_DIR)=/m, env.stdout);
    await hooks.afterAll?.(iso, version);
  });
}

/** The files under `dir` (recursively) whose bytes contain `needle`. */
export async function filesMentioning(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  const latin1 = new TextDecoder("latin1");
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile && latin1.decode(await Deno.readFile(p)).includes(needle)) hits.push(p);
    }
  };
  await walk(dir);
  return hits;
}
