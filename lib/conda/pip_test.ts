import assert from "node:assert/strict";
import { fixtureTools, withTempDir } from "../../tests/util.ts";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import { extractPackage } from "./extract.ts";
import { readPackageInfo } from "./package_info.ts";
import { linkPackage } from "./link.ts";
import { pipInstall } from "./pip.ts";
import { buildTestChannel, type TestChannel } from "../../tests/fixtures/channel.ts";

const PIP_MODULE = new URL("./pip.ts", import.meta.url).href;
const dec = new TextDecoder();

const tools = await fixtureTools("pip_test: tests with a real python");

// python and pip from the fixture channel, extracted once for this file.
let cacheDir: string | undefined;
globalThis.addEventListener("unload", () => {
  if (cacheDir) Deno.removeSync(cacheDir, { recursive: true });
});
let packages: Promise<{ ch: TestChannel; python: string; pip: string }> | undefined;
function fixturePackages() {
  packages ??= (async () => {
    const ch = await buildTestChannel();
    cacheDir = await Deno.makeTempDir({ prefix: "poncho-pip-pkgs-" });
    const python = join(cacheDir, "python");
    const pip = join(cacheDir, "pip");
    await extractPackage(
      join(ch.dir, "linux-64", `python-${ch.pythonVersion}-h0_poncho.conda`),
      python,
    );
    await extractPackage(join(ch.dir, "noarch", `pip-${ch.pipVersion}-pyh0_poncho.conda`), pip);
    return { ch, python, pip };
  })();
  return packages;
}

/** A real environment at `prefix`: the fixture's python, and pip unless `withPip` is false. */
async function makeEnv(prefix: string, withPip = true): Promise<TestChannel> {
  const { ch, python, pip } = await fixturePackages();
  await linkPackage(await readPackageInfo(python), { prefix });
  if (withPip) {
    await linkPackage(await readPackageInfo(pip), { prefix, pythonVersion: ch.pythonShort });
  }
  return ch;
}

// One python + pip environment shared by the tests that run pip: pip's first
// run writes its bytecode there, so the later runs are quick.
let shared: Promise<{ ch: TestChannel; prefix: string }> | undefined;
function sharedEnv() {
  shared ??= (async () => {
    await fixturePackages();
    const prefix = join(cacheDir!, "env");
    return { ch: await makeEnv(prefix), prefix };
  })();
  return shared;
}

function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("poncho-pip-", fn);
}

interface Outcome {
  /** `ok`, or the error's class and message. */
  result: { ok: true } | { ok: false; name: string; message: string };
  /** What the process wrote besides the result line. */
  stdout: string;
  stderr: string;
}

/**
 * Runs pipInstall in a child Deno process (so its stdout and stderr can be
 * seen) with exactly `env`; the result is the last line of stdout.
 */
async function pipInChild(
  prefix: string,
  requirements: string[],
  quiet: boolean,
  env: Record<string, string>,
): Promise<Outcome> {
  const code = `
import { pipInstall } from ${JSON.stringify(PIP_MODULE)};
let result;
try {
  await pipInstall(${JSON.stringify(prefix)}, ${JSON.stringify(requirements)}, { quiet: ${quiet} });
  result = { ok: true };
} catch (e) {
  result = { ok: false, name: e.constructor.name, message: e.message };
}
console.log("\\n" + JSON.stringify(result));
`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", "--no-check", code],
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", NO_COLOR: "1", ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = dec.decode(out.stdout);
  const lines = stdout.trimEnd().split("\n");
  return {
    result: JSON.parse(lines.at(-1)!),
    stdout: lines.slice(0, -1).join("\n").trim(),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test("no requirements: nothing is run, even without an environment", async () => {
  await pipInstall("/nonexistent/prefix/for/poncho/tests", []);
});

Deno.test("an environment without bin/python is a clear PonchoError", async () => {
  await withTemp(async (dir) => {
    await assert.rejects(
      pipInstall(dir, ["anything"], { quiet: true }),
      (e: Error) =>
        e instanceof PonchoError &&
        e.message.includes("no bin/python: add python and pip to the conda dependencies"),
    );
  });
});

Deno.test({
  name: "installs a local wheel with PIP_* settings; PYTHONPATH ignored; no .pyc; stdout clean",
  ignore: !tools.ok,
  async fn() {
    const { ch, prefix } = await sharedEnv();
    await withTemp(async (dir) => {
      // A poisoned PYTHONPATH: a `pip` module that would break `python -m pip`.
      const poison = join(dir, "poison");
      await Deno.mkdir(join(poison, "pip"), { recursive: true });
      await Deno.writeTextFile(
        join(poison, "pip", "__init__.py"),
        "raise SystemExit('poisoned')\n",
      );
      await Deno.writeTextFile(
        join(poison, "pip", "__main__.py"),
        "raise SystemExit('poisoned')\n",
      );

      const res = await pipInChild(prefix, ["greetwheel==0.1"], false, {
        PIP_NO_INDEX: "1",
        PIP_FIND_LINKS: ch.wheelDir,
        PYTHONPATH: poison,
        PYTHONHOME: join(dir, "nowhere"),
      });
      assert.deepEqual(res.result, { ok: true }, res.stderr);
      assert.equal(res.stdout, "", "pip's output must not go to stdout");
      assert.match(res.stderr, /Successfully installed greetwheel-0\.1/);

      const site = join(prefix, "lib", `python${ch.pythonShort}`, "site-packages");
      assert.equal(
        await Deno.readTextFile(join(site, "greetwheel", "__init__.py")),
        'def greet():\n    return "hello from greetwheel"\n',
      );
      assert.equal(
        (await Deno.readTextFile(join(site, "greetwheel-0.1.dist-info", "INSTALLER"))).trim(),
        "pip",
      );
      // --no-compile: no bytecode holding the build prefix.
      await assert.rejects(
        Deno.stat(join(site, "greetwheel", "__pycache__")),
        Deno.errors.NotFound,
      );

      const run = await new Deno.Command(join(prefix, "bin", "python"), {
        args: [
          "-c",
          "import greetwheel, sys; print(greetwheel.greet(), greetwheel.__file__.startswith(sys.prefix))",
        ],
        env: { PYTHONDONTWRITEBYTECODE: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(dec.decode(run.stdout), "hello from greetwheel True\n", dec.decode(run.stderr));

      // quiet: nothing at all on success.
      const again = await pipInChild(prefix, ["greetwheel==0.1"], true, {
        PIP_NO_INDEX: "1",
        PIP_FIND_LINKS: ch.wheelDir,
      });
      assert.deepEqual(again.result, { ok: true }, again.stderr);
      assert.equal(again.stdout, "");
      assert.equal(again.stderr, "");
    });
  },
});

Deno.test({
  name: "a failing pip is a BuildError; quiet mode shows pip's output only then",
  ignore: !tools.ok,
  async fn() {
    const { ch, prefix } = await sharedEnv();
    const res = await pipInChild(prefix, ["doesnotexist-poncho==9"], true, { PIP_NO_INDEX: "1" });
    assert.deepEqual(res.result, {
      ok: false,
      name: "BuildError",
      message: "pip install doesnotexist-poncho==9 failed (exit 1); see pip's output above",
    });
    assert.equal(res.stdout, "");
    assert.match(res.stderr, /No matching distribution found for doesnotexist-poncho==9/);
    // Nothing was installed.
    const site = join(prefix, "lib", `python${ch.pythonShort}`, "site-packages");
    assert.ok(![...Deno.readDirSync(site)].some((e) => e.name.startsWith("doesnotexist")));
  },
});

Deno.test({
  name: "an environment with python but no pip says to add pip (quiet or not)",
  ignore: !tools.ok,
  async fn() {
    await withTemp(async (dir) => {
      const prefix = join(dir, "env");
      await makeEnv(prefix, false);
      for (const quiet of [true, false]) {
        const res = await pipInChild(prefix, ["greetwheel"], quiet, { PIP_NO_INDEX: "1" });
        assert.deepEqual(res.result, {
          ok: false,
          name: "BuildError",
          message:
            "the spec has pip requirements but the environment has no pip: add pip to the conda dependencies",
        }, `quiet=${quiet}`);
        assert.match(res.stderr, /No module named pip/); // python's own message is shown
      }
    });
  },
});
