import assert from "node:assert/strict";
import { tempTree } from "../tests/util.ts";
import { join } from "node:path";
import { resolveAutoSpec } from "./auto.ts";
import type { AutoSpecOptions } from "./auto_types.ts";
import { NotFoundError, UsageError } from "./errors.ts";
import { buildImportMap } from "./index/import_map.ts";

const tree = (files: Record<string, string>) => tempTree(files, "poncho-auto-");

/** resolveAutoSpec with a private store and no $PYTHONPATH. */
function resolve(dir: string, opts: Partial<AutoSpecOptions>) {
  return resolveAutoSpec({ store: join(dir, ".store"), platform: "linux-64", env: {}, ...opts });
}

Deno.test("auto: the analysis follows the local closure (the analyze function) and is cached", async () => {
  const dir = await tree({
    "main.py": "import helper\nfrom tools import thing\nimport os\n",
    "helper.py": "import deep\nimport pyfiglet\n",
    "deep.py": "import emoji\n",
    "tools/__init__.py": "from .thing import x\n",
    "tools/thing.py": "import xkcdpass\n",
    "unused.py": "import zz_never\n",
  });
  try {
    const auto = await resolve(dir, { script: join(dir, "main.py") });
    assert.equal(auto.cached, false);
    assert.deepEqual(
      auto.files.map((f) => f.slice(dir.length + 1)),
      ["deep.py", "helper.py", "main.py", "tools/__init__.py", "tools/thing.py"],
    );
    // python is left to the solver: nothing of this host is in the spec.
    // (real conda-forge Python packages: unknown names are not guessed)
    assert.deepEqual(auto.spec.conda, ["python", "emoji", "pyfiglet", "xkcdpass"]);
    assert.match(auto.hash, /^[0-9a-f]{64}$/);

    const warm = await resolve(dir, { script: join(dir, "main.py") });
    assert.equal(warm.cached, true);
    assert.equal(warm.hash, auto.hash);
    assert.deepEqual(warm.files, auto.files);

    // A changed file of the closure invalidates it...
    await Deno.writeTextFile(join(dir, "deep.py"), "import emoji\nimport tabulate\n");
    const changed = await resolve(dir, { script: join(dir, "main.py") });
    assert.equal(changed.cached, false);
    assert.ok(changed.spec.conda.includes("tabulate"), changed.spec.conda.join(" "));
    // ...and so does a new local module that shadows an inferred name.
    await Deno.writeTextFile(join(dir, "pyfiglet.py"), "import colorama\n");
    const shadowed = await resolve(dir, { script: join(dir, "main.py") });
    assert.equal(shadowed.cached, false);
    assert.ok(!shadowed.spec.conda.includes("pyfiglet"));
    assert.ok(shadowed.spec.conda.includes("colorama"), shadowed.spec.conda.join(" "));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auto: the hash covers python, channels, platform and mappings, not file order", async () => {
  const dir = await tree({
    "a.py": "import pyfiglet\nimport emoji\n",
    "b.py": "import emoji\nimport pyfiglet\n",
  });
  try {
    const h = async (script: string, opts: Partial<AutoSpecOptions> = {}) =>
      (await resolve(dir, { script: join(dir, script), ...opts })).hash;
    const base = await h("a.py");
    assert.equal(await h("b.py"), base);
    assert.notEqual(await h("a.py", { python: "3.12" }), base);
    assert.notEqual(await h("a.py", { channels: ["file:///somewhere"] }), base);
    assert.notEqual(await h("a.py", { platform: "osx-arm64" }), base);
    const mapped = await resolve(dir, {
      script: join(dir, "a.py"),
      pkgMappings: ["emoji=pip:one"],
    });
    assert.deepEqual(mapped.spec.pip, ["one"]);
    assert.ok(mapped.spec.conda.includes("pip"));
    const extra = await resolve(dir, { script: join(dir, "a.py"), extraPkgs: ["zz_extra>=2"] });
    assert.ok(extra.spec.conda.includes("zz_extra>=2"));
    assert.notEqual(extra.hash, base);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auto: two different host Pythons (or none) give the same hash; --pin-local does not", async () => {
  const dir = await tree({ "job.py": "import numpy\nimport yaml\n" });
  const host = async (name: string, version: string, numpy: string) => {
    const prefix = join(dir, name);
    const sp = join(prefix, "lib", `python${version}`, "site-packages");
    await Deno.mkdir(join(prefix, "bin"), { recursive: true });
    // An ELF executable named python3 under a prefix with lib/pythonX.Y: the analyzer's
    // file-only lookup takes it for that Python without running it.
    await Deno.copyFile("/bin/true", join(prefix, "bin", "python3"));
    await Deno.chmod(join(prefix, "bin", "python3"), 0o755);
    await Deno.mkdir(join(sp, `numpy-${numpy}.dist-info`), { recursive: true });
    await Deno.writeTextFile(
      join(sp, `numpy-${numpy}.dist-info`, "METADATA"),
      `Name: numpy\nVersion: ${numpy}\n`,
    );
    await Deno.writeTextFile(join(sp, `numpy-${numpy}.dist-info`, "top_level.txt"), "numpy\n");
    return { PATH: join(prefix, "bin") };
  };
  try {
    const a = await host("hostA", "3.10", "1.26.4");
    const b = await host("hostB", "3.12", "2.0.0");
    const none = { PATH: join(dir, "nowhere") };
    const run = (env: Record<string, string>, pinLocal = false) =>
      resolve(dir, { script: join(dir, "job.py"), env, pinLocal });
    const [ha, hb, hn] = await Promise.all([run(a), run(b), run(none)]);
    assert.equal(ha.hash, hb.hash);
    assert.equal(ha.hash, hn.hash);
    assert.deepEqual(ha.spec.conda, ["python", "numpy", "pyyaml"]);
    // Opting into local pins makes the identity host-dependent, as it says.
    const [pa, pb] = [await run(a, true), await run(b, true)];
    // pip-installed on that host; conda-forge has it, so a conda pin (as analyze does)
    assert.ok(pa.spec.conda.includes("numpy=1.26.4"), pa.spec.conda.join(" "));
    assert.ok(pa.spec.conda.includes("python=3.10"), pa.spec.conda.join(" "));
    assert.ok(pb.spec.conda.includes("python=3.12"), pb.spec.conda.join(" "));
    assert.notEqual(pa.hash, pb.hash);
    assert.equal(pa.cached, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auto: a PEP 723 dependency overrides an inferred name", async () => {
  const dir = await tree({
    "tool.py": [
      "# /// script",
      '# requires-python = ">=3.10"',
      '# dependencies = ["opencv-python-headless==4.9.0.80"]',
      "# ///",
      "import cv2",
    ].join("\n"),
  });
  try {
    const auto = await resolve(dir, { script: join(dir, "tool.py") });
    assert.deepEqual(auto.spec.conda, ["python>=3.10", "pip"]);
    assert.deepEqual(auto.spec.pip, ["opencv-python-headless==4.9.0.80"]);
    assert.ok(!auto.spec.conda.some((s) => s.startsWith("opencv")), "the inferred name is gone");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auto: -m finds a module or package (cwd, then $PYTHONPATH); --spec reads a spec", async () => {
  const dir = await tree({
    "app/__init__.py": "",
    "app/__main__.py": "import emoji\nimport onpath\n",
    "lib/onpath.py": "import pyfiglet\n",
    "s.json":
      '{"conda": {"channels": ["c"], "dependencies": ["python=3.11", {"pip": ["foo==1"]}]}}',
  });
  try {
    const m = await resolve(dir, { module: "app", cwd: dir, env: { PYTHONPATH: "lib" } });
    assert.ok(m.spec.conda.includes("emoji"));
    assert.ok(m.spec.conda.includes("pyfiglet"), m.spec.conda.join(" ")); // followed on the path
    const s = await resolve(dir, { specFile: join(dir, "s.json"), extraPkgs: ["zz_more"] });
    assert.deepEqual(s.spec.conda, ["python=3.11", "zz_more", "pip"]);
    assert.deepEqual(s.spec.pip, ["foo==1"]);
    const py = await resolve(dir, { specFile: join(dir, "s.json"), python: "3.12" });
    assert.deepEqual(py.spec.conda, ["python=3.12", "pip"]);
    await assert.rejects(() => resolve(dir, { module: "nope", cwd: dir }), NotFoundError);
    await assert.rejects(() => resolve(dir, { script: join(dir, "x.py") }), NotFoundError);
    await assert.rejects(() => resolve(dir, {}), UsageError);
    await assert.rejects(
      () => resolve(dir, { specFile: join(dir, "s.json"), pkgMappings: ["a=b"] }),
      UsageError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auto: a -c channel's import map names packages; channels key the cache; a new map invalidates it", async () => {
  const dir = await tree({ "job.py": "import widgets\nimport emoji\n" });
  const ch = join(dir, "ch");
  const writeMap = async (pkg: string) => {
    await Deno.mkdir(join(ch, "linux-64"), { recursive: true });
    await Deno.writeTextFile(
      join(ch, "linux-64", "import-map.json"),
      JSON.stringify(buildImportMap("linux-64", [{ name: pkg, modules: ["widgets"] }])),
    );
  };
  try {
    await writeMap("corp-widgets");
    const script = join(dir, "job.py");
    const plain = await resolve(dir, { script });
    assert.ok(!plain.spec.conda.includes("corp-widgets"), plain.spec.conda.join(" "));
    const withCh = await resolve(dir, { script, channels: [ch, "conda-forge"] });
    assert.equal(withCh.cached, false); // not the plain run's cached analysis
    assert.deepEqual(withCh.spec.conda, ["python", "corp-widgets", "emoji"]);
    assert.equal((await resolve(dir, { script, channels: [ch, "conda-forge"] })).cached, true);
    // Another platform reads that platform's map (there is none): another analysis.
    const mac = await resolve(dir, {
      script,
      channels: [ch, "conda-forge"],
      platform: "osx-arm64",
    });
    assert.equal(mac.cached, false);
    assert.ok(!mac.spec.conda.includes("corp-widgets"));
    // The channel re-indexed: the cached analysis is not used.
    await writeMap("widgets-ng");
    const again = await resolve(dir, { script, channels: [ch, "conda-forge"] });
    assert.equal(again.cached, false);
    assert.deepEqual(again.spec.conda, ["python", "emoji", "widgets-ng"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
