import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { analyze, type AnalyzeOptions } from "./analyze.ts";
import type { ExplainRecord } from "./spec_out.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import { canDropFileCapabilities, runUnprivileged, tempTree } from "../../tests/util.ts";

const FIXTURES = fileURLToPath(new URL("../../tests/fixtures/analyze/", import.meta.url));

function run(options: Partial<AnalyzeOptions> & { sources: string[] }) {
  return analyze({ cwd: FIXTURES, python: "3.11", useInstalled: false, ...options });
}

function record(imports: ExplainRecord[], module: string): ExplainRecord {
  const r = imports.find((i) => i.module === module);
  assert.ok(r, `no record for ${module}: ${JSON.stringify(imports.map((i) => i.module))}`);
  return r;
}

Deno.test("analyze: the poncho JSON spec, sorted, python first", async () => {
  const r = await run({ sources: ["shadow/main.py"] });
  assert.deepEqual(r.spec, {
    conda: {
      channels: ["conda-forge"],
      // wikipedia: main.py imports the local wikipedia.py, which imports the package
      dependencies: ["python=3.11", "numpy", "requests", "wikipedia"],
    },
  });
  assert.deepEqual(r.warnings, []);
});

Deno.test("analyze: local modules beside the script shadow PyPI names, but not the script itself", async () => {
  const r = await run({ sources: ["shadow"], explain: true });
  assert.deepEqual(record(r.imports, "yaml"), {
    module: "yaml",
    kind: "local",
    package: null,
    optional: false,
    locations: ["shadow/main.py:1"],
  });
  // main.py's `import wikipedia` finds wikipedia.py (local); wikipedia.py's own import does not
  const wiki = r.imports.filter((i) => i.module === "wikipedia");
  assert.deepEqual(wiki.map((w) => [w.kind, w.package, w.locations]), [
    ["local", null, ["shadow/main.py:2"]],
    ["third-party", "wikipedia", ["shadow/wikipedia.py:2"]],
  ]);
  assert.deepEqual(r.spec.conda.dependencies, ["python=3.11", "numpy", "requests", "wikipedia"]);
  assert.equal(record(r.imports, "os").kind, "stdlib");
  assert.deepEqual(r.spec.imports, r.imports);
});

Deno.test("analyze: relative imports are local; a file inside a package does not shadow stdlib", async () => {
  const r = await run({ sources: ["pkgtree/rich/console.py"], explain: true });
  assert.equal(record(r.imports, "abc").kind, "stdlib");
  assert.equal(record(r.imports, ".").kind, "local");
  assert.equal(record(r.imports, ".abc").kind, "local");
  assert.equal(record(r.imports, "rich").kind, "local"); // the package root's parent is searched
  assert.deepEqual(record(r.imports, "PIL"), {
    module: "PIL",
    kind: "third-party",
    package: "pillow",
    optional: false,
    locations: ["pkgtree/rich/console.py:5"],
  });
  assert.deepEqual(r.spec.conda.dependencies, ["python=3.11", "pillow"]);
});

Deno.test("analyze: conditional imports are kept, marked optional; dynamic imports found", async () => {
  const r = await run({ sources: ["conditional/app.py"], explain: true });
  for (const m of ["ujson", "tomli", "colorama"]) {
    const rec = record(r.imports, m);
    assert.equal(rec.kind, "third-party");
    assert.equal(rec.optional, true, m);
  }
  // `if TYPE_CHECKING:` imports are for type checkers only: explained, not dependencies
  assert.deepEqual(record(r.imports, "pandas"), {
    module: "pandas",
    kind: "typing",
    package: null,
    optional: true,
    locations: ["conditional/app.py:10"],
  });
  assert.equal(record(r.imports, "numpy").optional, false);
  assert.equal(record(r.imports, "scipy").package, "scipy");
  assert.equal(record(r.imports, "sklearn").package, "scikit-learn");
  assert.deepEqual(r.spec.conda.dependencies, [
    "python=3.11",
    "aiohttp",
    "colorama",
    "numpy",
    "requests",
    "scikit-learn",
    "scipy",
    "tomli",
    "ujson",
  ]);
});

Deno.test("analyze: a module the target version lacks gives a warning with file and line", async () => {
  const r = await run({ sources: ["conditional/app.py"], python: "3.13" });
  const telnet = r.warnings.filter((w) => w.includes("telnetlib"));
  assert.equal(telnet.length, 1);
  assert.match(telnet[0], /^conditional\/app\.py:21: telnetlib was removed .* 3\.13/);
  assert.equal(r.spec.conda.dependencies[0], "python=3.13");
  const ok = await run({ sources: ["conditional/app.py"], python: "3.12" });
  assert.equal(ok.warnings.filter((w) => w.includes("telnetlib")).length, 0);
});

Deno.test("analyze: --toplevel and --function (async too; unknown name is a usage error)", async () => {
  const top = await run({ sources: ["conditional/app.py"], toplevel: true });
  const topDeps = top.spec.conda.dependencies;
  assert.ok(
    topDeps.includes("numpy") && !topDeps.includes("aiohttp") && !topDeps.includes("scipy"),
  );
  const fn = await run({ sources: ["conditional/app.py"], function: "fetch" });
  assert.deepEqual(fn.spec.conda.dependencies, ["python=3.11", "aiohttp"]);
  const load = await run({ sources: ["conditional/app.py"], function: "load" });
  assert.deepEqual(load.spec.conda.dependencies, ["python=3.11", "scikit-learn", "scipy"]);
  const method = await run({ sources: ["conditional/app.py"], function: "run" });
  assert.deepEqual(method.spec.conda.dependencies, ["python=3.11", "requests"]);
  await assert.rejects(
    run({ sources: ["conditional/app.py"], function: "nope" }),
    (e) => e instanceof UsageError && /--function nope/.test(e.message),
  );
});

Deno.test("analyze: --pkg-mapping first, --extra-pkg added as given", async () => {
  const r = await run({
    sources: ["shadow/main.py"],
    pkgMappings: ["requests=pip:requests==2.31.0", "numpy=numpy>=1.20"],
    extraPkgs: ["curl", "pip:tqdm", "wikipedia=1.4"],
  });
  assert.deepEqual(r.spec.conda.dependencies, [
    "python=3.11",
    "curl",
    "numpy>=1.20",
    "pip",
    "wikipedia=1.4",
    { pip: ["requests==2.31.0", "tqdm"] },
  ]);
  await assert.rejects(run({ sources: ["shadow"], pkgMappings: ["bad"] }), UsageError);
});

Deno.test("analyze: installed metadata pins conda and pip packages exactly", async () => {
  const sp = "lib/python3.10/site-packages";
  const env = await tempTree({
    [`conda-meta/numpy-1.26.4-0.json`]: JSON.stringify({
      name: "numpy",
      version: "1.26.4",
      files: [`${sp}/numpy/__init__.py`],
    }),
    [`${sp}/requests-2.31.0.dist-info/METADATA`]: "Name: requests\nVersion: 2.31.0\n",
    [`${sp}/requests-2.31.0.dist-info/top_level.txt`]: "requests\n",
  });
  try {
    const r = await analyze({
      sources: ["shadow/main.py"],
      cwd: FIXTURES,
      prefix: env,
      explain: true,
    });
    assert.equal(r.python, "3.10"); // from the prefix's lib/python3.10
    // requests was installed by pip, but conda-forge has it: a conda pin, not pip over conda
    assert.deepEqual(r.spec.conda.dependencies, [
      "python=3.10",
      "numpy=1.26.4",
      "requests=2.31.0",
      "wikipedia", // through the local wikipedia.py that main.py imports
    ]);
    assert.equal(record(r.imports, "numpy").version, "1.26.4");
  } finally {
    await Deno.remove(env, { recursive: true });
  }
});

Deno.test("analyze: Python 2 stdlib names are never third-party", async () => {
  const dir = await tempTree({
    "legacy.py": 'import urllib2, ConfigParser\nprint "hi"\nexec "x = 1"\nimport simplejson\n',
  });
  try {
    const r = await analyze({ sources: [dir], python: "3.11", useInstalled: false });
    assert.deepEqual(r.spec.conda.dependencies, ["python=3.11", "simplejson"]);
    assert.equal(r.warnings.filter((w) => /urllib2|ConfigParser/.test(w)).length, 2);
    const r2 = await analyze({ sources: [dir], python: "2.7", useInstalled: false });
    assert.deepEqual(r2.spec.conda.dependencies, ["python=2.7", "simplejson"]);
    assert.deepEqual(r2.warnings, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze: BOM, coding cookie, CRLF and new syntax never lose a file", async () => {
  const latin1 = new Uint8Array([
    ...new TextEncoder().encode("# -*- coding: latin-1 -*-\ns = '"),
    0xe9,
    ...new TextEncoder().encode("'\nimport lxml\n"),
  ]);
  const dir = await tempTree({
    "bom.py": new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("import attr\n")]),
    "latin.py": latin1,
    "crlf.py": "import os\r\nimport bs4\r\n",
    "new.py":
      'type Point = tuple[float, float]\nmatch x:\n    case 1:\n        import toolz\nprint(f"{"a"}")\nimport yaml\n',
  });
  try {
    const r = await analyze({ sources: [dir], python: "3.11", useInstalled: false });
    assert.deepEqual(r.spec.conda.dependencies, [
      "python=3.11",
      "attrs",
      "beautifulsoup4",
      "lxml",
      "pyyaml",
      "toolz",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "analyze: unreadable files and directories in a tree are warnings with their path and reason",
  ignore: !canDropFileCapabilities,
  async fn() {
    const dir = await tempTree({
      "a.py": "import numpy\n",
      "b.py": "import scipy\n",
      "sub/c.py": "import pandas\n",
    });
    try {
      await Deno.chmod(join(dir, "b.py"), 0o000);
      await Deno.chmod(join(dir, "sub"), 0o000);
      const text = await runUnprivileged(
        `import { analyze } from ${JSON.stringify(new URL("./analyze.ts", import.meta.url).href)};
const r = await analyze({ sources: [Deno.args[0]], python: "3.11", useInstalled: false, store: null });
console.log(JSON.stringify({ deps: r.spec.conda.dependencies, warnings: r.warnings }));
`,
        [dir],
      );
      await Deno.chmod(join(dir, "sub"), 0o755);
      const r = JSON.parse(text);
      assert.deepEqual(r.deps, ["python=3.11", "numpy"]);
      assert.equal(r.warnings.length, 2, text);
      assert.match(r.warnings[0], /b\.py: cannot read, skipped \(Permission denied/);
      // the directory's own reason, where it once read "not a regular file (a device, ...)"
      assert.match(r.warnings[1], /sub: cannot read, skipped \(.*permission denied/i);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("analyze: a broken notebook is a warning; a missing source is exit 2", async () => {
  const dir = await tempTree({ "a.py": "import numpy\n", "broken.ipynb": "{not json" });
  try {
    await assert.rejects(
      analyze({ sources: [join(dir, "missing.py")], useInstalled: false, python: "3.11" }),
      (e) => e instanceof NotFoundError && e.exitCode === 2 && /missing\.py/.test(e.message),
    );
    const nb = await analyze({ sources: [dir], python: "3.11", useInstalled: false });
    assert.ok(nb.warnings.some((w) => /broken\.ipynb: not a readable notebook/.test(w)));
    assert.deepEqual(nb.spec.conda.dependencies, ["python=3.11", "numpy"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze: notebooks (magics, %%bash, %%time, %%writefile, !pip install)", async () => {
  const r = await run({ sources: ["notebook/analysis.ipynb"], explain: true });
  assert.equal(record(r.imports, "helpers").kind, "local");
  assert.deepEqual(record(r.imports, "pandas").locations, ["notebook/analysis.ipynb[4]:2"]);
  assert.deepEqual(record(r.imports, "requests").locations, ["notebook/analysis.ipynb[5]:2"]);
  assert.equal(r.imports.some((i) => /notpython|notthis/.test(i.module)), false);
  assert.deepEqual(r.spec.conda.dependencies, [
    "python=3.11",
    "matplotlib-base",
    "numpy",
    "pandas",
    "pip",
    "requests",
    { pip: ["seaborn==0.13.2"] },
  ]);
  assert.ok(
    r.warnings.some((w) => /analysis\.ipynb\[2\]:2: .*pip install seaborn==0\.13\.2/.test(w)),
  );
});

Deno.test("analyze: PEP 723 dependencies and requires-python are used as given", async () => {
  const dir = await tempTree({
    "tool.py": [
      "# /// script",
      '# requires-python = ">=3.10"',
      '# dependencies = ["requests<3", "PyYAML>=6"]',
      "# ///",
      "import requests, yaml, numpy",
    ].join("\n"),
  });
  try {
    const r = await analyze({ sources: [dir], python: "3.11", useInstalled: false, explain: true });
    // The declared list is the script's own word: numpy, imported but not declared, is not
    // inferred (a warning says so).
    assert.deepEqual(r.spec.conda.dependencies, [
      "python>=3.10",
      "pip",
      { pip: ["PyYAML>=6", "requests<3"] },
    ]);
    assert.equal(record(r.imports, "yaml").package, "PyYAML");
    assert.equal(record(r.imports, "numpy").package, null);
    assert.deepEqual(r.warnings.map((w) => w.replace(/^.*tool\.py:/, "")), [
      "5: numpy is not among the script's declared dependencies (PEP 723); not added " +
      "(declare it, or use --pkg-mapping/--extra-pkg)",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze: a PEP 723 dependency overrides an inferred name, in followed modules too", async () => {
  const dir = await tempTree({
    "job.py": [
      "# /// script",
      '# dependencies = ["opencv-python-headless==4.9.0.80"]',
      "# ///",
      "import cv2",
      "import helper",
    ].join("\n"),
    "helper.py": "import cv2.data\n",
    "plain.py": "import cv2\n",
  });
  try {
    const r = await analyze({
      sources: [join(dir, "job.py")],
      python: "3.11",
      useInstalled: false,
    });
    assert.deepEqual(r.spec.conda.dependencies, [
      "python=3.11",
      "pip",
      { pip: ["opencv-python-headless==4.9.0.80"] },
    ]);
    // Without a block, the name is inferred from the import.
    const p = await analyze({
      sources: [join(dir, "plain.py")],
      python: "3.11",
      useInstalled: false,
    });
    assert.deepEqual(p.spec.conda.dependencies, ["python=3.11", "opencv"]);
    // --pkg-mapping is the user's word and still applies.
    const m = await analyze({
      sources: [join(dir, "job.py")],
      python: "3.11",
      useInstalled: false,
      pkgMappings: ["cv2=foo-utils-conda"],
    });
    assert.ok(m.spec.conda.dependencies.includes("foo-utils-conda"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze: directories skip VCS, caches, virtualenvs, node_modules and build dirs", async () => {
  const dir = await tempTree({
    "src/app.py": "import numpy\n",
    ".git/hook.py": "import gitstuff\n",
    "__pycache__/x.py": "import cached\n",
    "node_modules/pkg/y.py": "import nodestuff\n",
    "build/lib/z.py": "import builtstuff\n",
    "myenv/pyvenv.cfg": "home = /usr/bin\n",
    "myenv/lib/python3.11/site-packages/w.py": "import venvstuff\n",
    "condaenv/conda-meta/history": "",
    "condaenv/v.py": "import condastuff\n",
    "notes.txt": "import textstuff\n",
  });
  try {
    const r = await analyze({ sources: [dir], python: "3.11", useInstalled: false });
    assert.deepEqual(r.spec.conda.dependencies, ["python=3.11", "numpy"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze: stdin source", async () => {
  const r = await analyze({
    sources: ["-"],
    stdin: "import sklearn\nimport json\n",
    python: "3.11",
    useInstalled: false,
  });
  assert.deepEqual(r.spec.conda.dependencies, ["python=3.11", "scikit-learn"]);
});

Deno.test("analyze: output is deterministic regardless of source order", async () => {
  const a = await run({ sources: ["shadow", "conditional", "notebook"], explain: true });
  const b = await run({ sources: ["notebook", "conditional", "shadow"], explain: true });
  assert.deepEqual(a.spec, b.spec);
});

Deno.test("analyze: --python is validated", async () => {
  await assert.rejects(run({ sources: ["shadow"], python: "three" }), UsageError);
  await assert.rejects(run({ sources: ["shadow"], python: "4.0" }), UsageError);
  const r = await run({ sources: ["shadow"], python: "3.15" });
  assert.match(r.warnings[0], /3\.15.*3\.14/);
});

Deno.test("analyze: a dangling b.py symlink in a tree is a warning with its path, the rest goes on", async () => {
  const dir = await tempTree({ "a.py": "import numpy\n" });
  try {
    await Deno.symlink(`${dir}/missing-target.py`, `${dir}/b.py`);
    const r = await analyze({ sources: [dir], python: "3.11", useInstalled: false });
    assert.ok(r.spec.conda.dependencies.includes("numpy"));
    assert.ok(r.warnings.some((w) => w.includes("b.py")), r.warnings.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze: follows local modules and packages, recursively, and lists the files read", async () => {
  const dir = await tempTree({
    "task.py": "import helpers\nfrom tools import thing\nimport os\n",
    "helpers/__init__.py": "from .core import go\n",
    "helpers/core.py": "import pyfiglet\nimport deep\n",
    "deep.py": "import emoji\n",
    "tools/__init__.py": "",
    "tools/thing.py": "import xkcdpass\n",
    "unused.py": "import zz_never\n",
  });
  try {
    const r = await analyze({
      sources: ["task.py"],
      cwd: dir,
      python: "3.11",
      useInstalled: false,
      explain: true,
      env: {},
    });
    assert.deepEqual(r.spec.conda.dependencies, [
      "python=3.11",
      "emoji",
      "pyfiglet",
      "xkcdpass",
    ]);
    assert.deepEqual(r.spec.files, [
      "deep.py",
      "helpers/__init__.py",
      "helpers/core.py",
      "task.py",
      "tools/__init__.py",
      "tools/thing.py",
    ]);
    assert.deepEqual(r.files, r.spec.files!.map((f) => join(dir, f)));
    assert.deepEqual(record(r.imports, "pyfiglet").locations, ["helpers/core.py:1"]);
    const only = await analyze({
      sources: ["task.py"],
      cwd: dir,
      python: "3.11",
      useInstalled: false,
      follow: false,
      env: {},
    });
    assert.deepEqual(only.spec.conda.dependencies, ["python=3.11"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze: local modules on $PYTHONPATH and in the project root are followed", async () => {
  const dir = await tempTree({
    "proj/pyproject.toml": "[project]\nname = 'p'\n",
    "proj/shared_util.py": "import tabulate\n",
    "proj/jobs/run.py": "import shared_util\nimport onpath\n",
    "libs/onpath/__init__.py": "import emoji\n",
  });
  try {
    const r = await analyze({
      sources: ["proj/jobs/run.py"],
      cwd: dir,
      python: "3.11",
      useInstalled: false,
      env: { PYTHONPATH: "libs" },
    });
    assert.deepEqual(r.spec.conda.dependencies, ["python=3.11", "emoji", "tabulate"]);
    assert.equal(record(r.imports, "onpath").kind, "local");
    assert.equal(record(r.imports, "shared_util").kind, "local");
    const noPath = await analyze({
      sources: ["proj/jobs/run.py"],
      cwd: dir,
      python: "3.11",
      useInstalled: false,
      env: {},
    });
    // Off the path, onpath is not local, and no package is known to provide it.
    assert.deepEqual(noPath.spec.conda.dependencies, ["python=3.11", "tabulate"]);
    assert.equal(record(noPath.imports, "onpath").kind, "unresolved");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze: a named source that is not Python is a warning naming it", async () => {
  const dir = await tempTree({
    "notes.txt": "import numpy\n",
    "job": "#!/usr/bin/env python3\nimport emoji\n",
  });
  try {
    const r = await analyze({
      sources: ["notes.txt", "job"],
      cwd: dir,
      python: "3.11",
      useInstalled: false,
      env: {},
    });
    assert.equal(r.warnings.length, 1, r.warnings.join("\n"));
    assert.match(r.warnings[0], /^notes\.txt: not a Python source/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze: an unknown import is unresolved: a warning at file:line, explained, left out", async () => {
  const dir = await tempTree({
    "app.py": "import numpy\nimport surely_not_a_package_xyz.sub\nimport hdf5\n",
  });
  try {
    const r = await analyze({
      sources: [dir],
      cwd: dir,
      python: "3.11",
      useInstalled: false,
      explain: true,
    });
    assert.deepEqual(r.spec.conda.dependencies, ["python=3.11", "numpy"]);
    const rec = record(r.imports, "surely_not_a_package_xyz.sub");
    assert.equal(rec.kind, "unresolved");
    assert.equal(rec.package, null);
    // hdf5 is a conda-forge package, but not a Python one: no guess
    assert.equal(record(r.imports, "hdf5").kind, "unresolved");
    const w = r.warnings.find((x) => x.includes("surely_not_a_package_xyz"));
    assert.ok(w?.startsWith(`${join(dir, "app.py")}:2: `), w);
    assert.match(w!, /--pkg-mapping surely_not_a_package_xyz=PACKAGE/);
    assert.equal(r.warnings.length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze: TYPE_CHECKING-only and typeshed-only imports are kind typing, not dependencies", async () => {
  const dir = await tempTree({
    "t.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from _typeshed import X\n" +
      "    import pandas\nelse:\n    import numpy\nfrom _typeshed import Y\n",
  });
  try {
    const r = await analyze({ sources: [dir], cwd: dir, python: "3.11", useInstalled: false });
    assert.deepEqual(r.spec.conda.dependencies, ["python=3.11", "numpy"]);
    assert.equal(record(r.imports, "pandas").kind, "typing");
    assert.deepEqual(record(r.imports, "_typeshed").locations.length, 2);
    assert.equal(record(r.imports, "_typeshed").kind, "typing");
    assert.deepEqual(r.warnings, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze: declared requirements at the project root name and pin what they cover", async () => {
  const dir = await tempTree({
    "pyproject.toml": '[project]\nname = "site"\nrequires-python = ">=3.10"\n' +
      'dependencies = ["django-taggit>=5", "internal-only==1.2", "unused-dep"]\n',
    "requirements-dev.txt": "dj-database-url==2.1.0\n",
    "site/__init__.py": "",
    "tools/manage.py":
      "import taggit\nimport dj_database_url\nimport internal_only\nimport site\n" +
      "import yaml\n",
  });
  try {
    const r = await analyze({
      sources: [join(dir, "tools")],
      cwd: dir,
      useInstalled: false,
      explain: true,
    });
    assert.deepEqual(r.spec.conda.dependencies, [
      "python>=3.10", // requires-python, in place of the detected version
      "dj-database-url ==2.1.0",
      "django-taggit >=5",
      "pip",
      "pyyaml",
      { pip: ["internal-only==1.2"] },
    ]);
    // the project's own package, imported from tools/, is local (not the stdlib's site either)
    assert.equal(record(r.imports, "site").kind, "local");
    // an explicit --python wins over requires-python
    const pinned = await analyze({
      sources: [join(dir, "tools")],
      cwd: dir,
      python: "3.12",
      useInstalled: false,
    });
    assert.equal(pinned.spec.conda.dependencies[0], "python=3.12");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze: a plain google.py beside a script does not provide google.colab", async () => {
  const dir = await tempTree({ "nb.py": "import google.colab\nimport google\n", "google.py": "" });
  try {
    const r = await analyze({
      sources: [join(dir, "nb.py")],
      cwd: dir,
      python: "3.11",
      useInstalled: false,
      explain: true,
    });
    assert.deepEqual(r.spec.conda.dependencies, ["python=3.11", "google-colab"]);
    assert.equal(r.imports.find((i) => i.module === "google")?.kind, "local");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze: -c channels go into the spec and their import maps name packages", async () => {
  const { buildImportMap } = await import("../index/import_map.ts");
  const dir = await tempTree({
    "ch/noarch/import-map.json": JSON.stringify(
      buildImportMap("noarch", [{ name: "corp-widgets", modules: ["widgets"] }]),
    ),
    "ch/linux-64/import-map.json": "{ not json",
    "app.py": "import widgets\nimport numpy\n",
  });
  try {
    const ch = `file://${dir}/ch`;
    const only = await analyze({
      sources: [join(dir, "app.py")],
      cwd: dir,
      python: "3.11",
      useInstalled: false,
      channels: [ch],
      platform: "linux-64",
    });
    assert.deepEqual(only.spec.conda, {
      channels: [ch],
      dependencies: ["python=3.11", "corp-widgets"], // numpy: not known to be in this channel
    });
    assert.ok(
      only.warnings.some((w) => w.includes("linux-64/import-map.json") && /not used/.test(w)),
    );
    assert.ok(only.warnings.some((w) => w.includes("import numpy")));
    const both = await analyze({
      sources: [join(dir, "app.py")],
      cwd: dir,
      python: "3.11",
      useInstalled: false,
      channels: [ch, "conda-forge"],
      platform: "osx-arm64",
    });
    assert.deepEqual(both.spec.conda, {
      channels: [ch, "conda-forge"],
      dependencies: ["python=3.11", "corp-widgets", "numpy"],
    });
    assert.deepEqual(both.warnings, []); // no osx-arm64 map: nothing to warn about
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
