import assert from "node:assert/strict";
import { join } from "node:path";
import { NotFoundError } from "../errors.ts";
import { canDropFileCapabilities, runUnprivileged, tempTree } from "../../tests/util.ts";
import { condaSpecFromPep508, readDeclared } from "./declared.ts";
import { findProjectRoot } from "./project_root.ts";
import { projectRootsOf } from "./resolve_context.ts";
import { discoverSources } from "./sources.ts";

const tree = (files: Record<string, string>) => tempTree(files);

const names = (d: { requirements: { name: string }[] }) => d.requirements.map((r) => r.name);

Deno.test("declared: pyproject.toml [project] dependencies and requires-python", async () => {
  const dir = await tree({
    "pyproject.toml": `[build-system]
requires = ["setuptools"]

[project]
name = "demo"
requires-python = ">=3.10"
dependencies = [
  "django-taggit>=3", # tags
  'PyYAML',
  "requests[socks] ; python_version >= '3.8'",
]

[project.optional-dependencies]
dev = ["pytest"]
`,
  });
  try {
    const d = await readDeclared(dir);
    assert.deepEqual(names(d), ["django-taggit", "pyyaml", "requests"]);
    assert.equal(d.requiresPython, ">=3.10");
    assert.equal(d.requirements[0].location, "pyproject.toml:7");
    assert.ok(d.requirements.every((r) => r.kind === "pypi"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("declared: requirements*.txt with -r includes, options and URLs skipped", async () => {
  const dir = await tree({
    "requirements.txt":
      "# core\nnumpy==1.26.4\n-r requirements-extra.txt\n--index-url https://x\n" +
      "-e .\nhttps://host/pkg.whl\nscikit-learn>=1.3 \\\n  ,<2\n",
    "requirements-extra.txt": "dj-database-url\n",
    "requirements-dev.txt": "pytest\n",
  });
  try {
    const d = await readDeclared(dir);
    assert.deepEqual(names(d), ["pytest", "dj-database-url", "numpy", "scikit-learn"]); // files in name order, each once
    const sk = d.requirements.find((r) => r.name === "scikit-learn")!;
    assert.equal(sk.text, "scikit-learn>=1.3 ,<2");
    assert.equal(sk.location, "requirements.txt:7");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("declared: environment.yml conda specs and pip list; setup.cfg install_requires", async () => {
  const dir = await tree({
    "environment.yml": "channels: [conda-forge]\ndependencies:\n  - python=3.11\n" +
      "  - conda-forge::numpy>=1.26\n  - pip\n  - pip:\n    - special-pkg==2.0\n",
    "setup.cfg": "[metadata]\nname = x\n\n[options]\npython_requires = >=3.9\n" +
      "install_requires =\n    attrs>=23\n    click\n",
  });
  try {
    const d = await readDeclared(dir);
    assert.deepEqual(
      d.requirements.map((r) => [r.name, r.kind]),
      [["numpy", "conda"], ["pip", "conda"], ["special-pkg", "pypi"], ["attrs", "pypi"], [
        "click",
        "pypi",
      ]],
    );
    assert.equal(d.requiresPython, ">=3.9");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("declared: PEP 508 constraints become conda match specs", () => {
  assert.equal(condaSpecFromPep508("Django-Taggit>=3,<4", "django-taggit"), "django-taggit >=3,<4");
  assert.equal(condaSpecFromPep508("PyYAML~=6.0", "pyyaml"), "pyyaml >=6.0,==6.*");
  assert.equal(
    condaSpecFromPep508("requests[socks]==2.31; os_name=='nt'", "requests"),
    "requests ==2.31",
  );
  assert.equal(condaSpecFromPep508("foo @ https://x/y.whl", "foo"), "foo");
  assert.equal(condaSpecFromPep508("bar", "bar"), "bar");
});

Deno.test("project root: nearest marker upwards, else the analysed dir; never inside a package", async () => {
  const dir = await tree({
    "proj/pyproject.toml": "",
    "proj/examples/demo.py": "",
    "loose/tools/run.py": "",
    "loose/pkg/__init__.py": "",
    "loose/pkg/mod.py": "",
  });
  try {
    assert.equal(await findProjectRoot(join(dir, "proj/examples")), join(dir, "proj"));
    const given = [join(dir, "proj/examples"), join(dir, "loose")];
    const files = await discoverSources(given);
    assert.deepEqual(await projectRootsOf(files, given), [join(dir, "loose"), join(dir, "proj")]);
    const single = await discoverSources([join(dir, "loose/pkg/mod.py")]);
    assert.deepEqual(await projectRootsOf(single, [join(dir, "loose/pkg/mod.py")]), [
      join(dir, "loose"),
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("declared: an absent file declares nothing; a directory in its place is an error naming it", async () => {
  const dir = await tree({ "requirements.txt": "-r missing.txt\nrequests\n" });
  try {
    // absent pyproject.toml, environment.yml, setup.cfg and -r include: no error
    assert.deepEqual(names(await readDeclared(dir)), ["requests"]);
    // a directory named pyproject.toml was once read as "no pyproject.toml"
    await Deno.mkdir(join(dir, "pyproject.toml"));
    const err = await readDeclared(dir).then(() => null, (e) => e);
    assert.ok(err instanceof NotFoundError, String(err));
    assert.equal(err.path, join(dir, "pyproject.toml"));
    assert.match(err.message, /pyproject\.toml: is a directory/);
    assert.equal(err.exitCode, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "declared: an unreadable pyproject.toml is a permission error naming it, not 'absent'",
  ignore: !canDropFileCapabilities,
  fn: async () => {
    const dir = await tree({ "pyproject.toml": '[project]\ndependencies = ["requests"]\n' });
    try {
      await Deno.chmod(join(dir, "pyproject.toml"), 0o000);
      const text = await runUnprivileged(
        `import { readDeclared } from ${
          JSON.stringify(new URL("./declared.ts", import.meta.url).href)
        };
try {
  console.log(JSON.stringify({ names: (await readDeclared(Deno.args[0])).requirements.length }));
} catch (e) {
  console.log(JSON.stringify({ kind: e.kind, exit: e.exitCode, path: e.path }));
}
`,
        [dir],
      );
      // Before, the read failure was swallowed: the project declared nothing.
      assert.deepEqual(JSON.parse(text), {
        kind: "permission",
        exit: 2,
        path: join(dir, "pyproject.toml"),
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
