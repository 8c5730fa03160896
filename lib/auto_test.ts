import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveAutoSpec } from "./auto.ts";
import type { AutoSpecOptions } from "./auto_types.ts";
import { NotFoundError, UsageError } from "./errors.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "poncho-auto-" });
  for (const [rel, text] of Object.entries(files)) {
    await Deno.mkdir(join(dir, rel, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, rel), text);
  }
  return dir;
}

/** resolveAutoSpec with a private store and no $PYTHONPATH. */
function resolve(dir: string, opts: Partial<AutoSpecOptions>) {
  return resolveAutoSpec({ store: join(dir, ".store"), platform: "linux-64", env: {}, ...opts });
}

Deno.test("auto: the analysis follows the local closure (the analyze function) and is cached", async () => {
  const dir = await tree({
    "main.py": "import helper\nfrom tools import thing\nimport os\n",
    "helper.py": "import deep\nimport zz_helper_dep\n",
    "deep.py": "import zz_deep_dep\n",
    "tools/__init__.py": "from .thing import x\n",
    "tools/thing.py": "import zz_tools_dep\n",
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
    assert.deepEqual(auto.spec.conda, ["python", "zz_deep_dep", "zz_helper_dep", "zz_tools_dep"]);
    assert.match(auto.hash, /^[0-9a-f]{64}$/);

    const warm = await resolve(dir, { script: join(dir, "main.py") });
    assert.equal(warm.cached, true);
    assert.equal(warm.hash, auto.hash);
    assert.deepEqual(warm.files, auto.files);

    // A changed file of the closure invalidates it...
    await Deno.writeTextFile(join(dir, "deep.py"), "import zz_deep_dep\nimport zz_new_dep\n");
    const changed = await resolve(dir, { script: join(dir, "main.py") });
    assert.equal(changed.cached, false);
    assert.ok(changed.spec.conda.includes("zz_new_dep"));
    // ...and so does a new local module that shadows an inferred name.
    await Deno.writeTextFile(join(dir, "zz_helper_dep.py"), "import zz_shadowed\n");
    const shadowed = await resolve(dir, { script: join(dir, "main.py") });
    assert.equal(shadowed.cached, false);
    assert.ok(!shadowed.spec.conda.includes("zz_helper_dep"));
    assert.ok(shadowed.spec.conda.includes("zz_shadowed"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("auto: the hash covers python, channels, platform and mappings, not file order", async () => {
  const dir = await tree({
    "a.py": "import zz_one\nimport zz_two\n",
    "b.py": "import zz_two\nimport zz_one\n",
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
      pkgMappings: ["zz_one=pip:one"],
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
    assert.deepEqual(pa.spec.pip, ["numpy==1.26.4"]); // pip-installed on that host
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
    "app/__main__.py": "import zz_app_dep\nimport onpath\n",
    "lib/onpath.py": "import zz_path_dep\n",
    "s.json":
      '{"conda": {"channels": ["c"], "dependencies": ["python=3.11", {"pip": ["foo==1"]}]}}',
  });
  try {
    const m = await resolve(dir, { module: "app", cwd: dir, env: { PYTHONPATH: "lib" } });
    assert.ok(m.spec.conda.includes("zz_app_dep"));
    assert.ok(m.spec.conda.includes("zz_path_dep"), m.spec.conda.join(" ")); // followed on the path
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
