import assert from "node:assert/strict";
import { withTempDir } from "../tests/util.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "../lib/deps/yaml.ts";

const CLI = fileURLToPath(new URL("./analyze.ts", import.meta.url));
const FIXTURES = fileURLToPath(new URL("../tests/fixtures/analyze/", import.meta.url));

async function poncho(args: string[], stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, ...args],
    cwd: FIXTURES,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const empty = await Deno.makeTempDir(); // an environment with nothing installed
globalThis.addEventListener("unload", () => Deno.removeSync(empty, { recursive: true }));
const FIXED = ["--python", "3.11", "--prefix", empty];

Deno.test("cli analyze: --help", async () => {
  const r = await poncho(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: poncho analyze \[options\] <source \.\.\.> <out>/);
});

Deno.test("cli analyze: stdin to stdout, JSON with 2-space indent and a trailing newline", async () => {
  const r = await poncho([...FIXED, "-", "-"], "import yaml\nimport os\n");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    '{\n  "conda": {\n    "channels": [\n      "conda-forge"\n    ],\n    "dependencies": [\n' +
      '      "python=3.11",\n      "pyyaml"\n    ]\n  }\n}\n',
  );
  assert.equal(r.stderr, "");
});

Deno.test("cli analyze: warnings on stderr, spec alone on stdout", async () => {
  const r = await poncho(["--python", "3.13", "--prefix", empty, "conditional/app.py", "-"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^warning: conditional\/app\.py:21: telnetlib was removed/m);
  assert.ok(JSON.parse(r.stdout).conda.dependencies.includes("numpy"));
});

Deno.test("cli analyze: --format yaml writes a conda environment.yml atomically", () =>
  withTempDir("poncho-test-", async (dir) => {
    const out = join(dir, "environment.yml");
    const r = await poncho([
      ...FIXED,
      "--format",
      "yaml",
      "--extra-pkg",
      "pip:tqdm==4.66.0",
      "--pkg-mapping",
      "requests=requests>=2",
      "shadow/main.py",
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const text = await Deno.readTextFile(out);
    assert.deepEqual(parse(text), {
      channels: ["conda-forge"],
      dependencies: [
        "python=3.11",
        "numpy",
        "pip",
        "requests>=2",
        "wikipedia", // through the local wikipedia.py that main.py imports
        { pip: ["tqdm==4.66.0"] },
      ],
    });
    assert.match(text, /^channels:\n {2}- conda-forge\ndependencies:\n/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["environment.yml"]);
  }));

Deno.test("cli analyze: --explain writes imports records", async () => {
  const r = await poncho([...FIXED, "--explain", "--toplevel", "pkgtree/rich/console.py", "-"]);
  assert.equal(r.code, 0, r.stderr);
  const spec = JSON.parse(r.stdout);
  assert.deepEqual(spec.imports.find((i: { module: string }) => i.module === "PIL"), {
    module: "PIL",
    kind: "third-party",
    package: "pillow",
    optional: false,
    locations: ["pkgtree/rich/console.py:5"],
  });
});

Deno.test("cli analyze: exit codes and one-line errors", async () => {
  const cases: [string[], number, RegExp][] = [
    [["shadow/main.py"], 1, /expected <source \.\.\.> <out>/],
    [["--bogus", "a.py", "-"], 1, /unknown option --bogus/],
    [["--prefix", "/nonexistent-prefix", "a.py", "-"], 2, /--prefix \/nonexistent-prefix/],
    [["--format", "toml", "shadow", "-"], 1, /--format toml/],
    [["--extra-pkg", "numpy>>1", "shadow", "-"], 1, /--extra-pkg numpy>>1/],
    [[...FIXED, "--function", "nope", "conditional/app.py", "-"], 1, /--function nope/],
    [[...FIXED, "--pkg-mapping", "oops", "shadow", "-"], 1, /--pkg-mapping oops/],
    [["--python", "x.y", "shadow", "-"], 1, /--python x\.y/],
    [[...FIXED, "missing.py", "-"], 2, /source missing\.py: no such file/],
    [[...FIXED, "shadow", "/nonexistent-dir/out.json"], 1, /out \/nonexistent-dir\/out\.json/],
  ];
  for (const [args, code, message] of cases) {
    const r = await poncho(args);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^poncho analyze: (?!poncho)/, r.stderr); // named once
    assert.equal(r.stdout, "");
  }
});

Deno.test("cli analyze: an out that could be input is refused, exit 1, the file unchanged", async () => {
  const dir = await Deno.makeTempDir();
  const abs = (f: string) => join(dir, f);
  try {
    const files: Record<string, string> = {
      "a.py": "import numpy\n",
      "b.py": "import yaml\n",
      "stub.pyi": "def f() -> int: ...\n",
      "nb.ipynb": '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n',
      "job": "#!/usr/bin/env python3\nimport numpy\n",
      "notes.txt": "keep me\n",
      "spec.json": '{"conda": {"channels": ["conda-forge"], "dependencies": ["python=3.11"]}}\n',
    };
    for (const [f, text] of Object.entries(files)) await Deno.writeTextFile(abs(f), text);
    const cases: [string[], RegExp][] = [
      [[abs("a.py"), abs("b.py")], /out .*b\.py is named like a Python source/], // analyze *.py
      [[abs("spec.json"), abs("a.py")], /out .*a\.py is named like a Python source/],
      [[abs("a.py"), abs("nb.ipynb")], /named like a Python source/],
      [[abs("a.py"), abs("stub.pyi")], /named like a Python source/],
      [[abs("a.py"), abs("new.py")], /named like a Python source/], // not even created
      [[abs("job"), abs("job")], /out .*job is also a source/],
      [[abs("a.py"), abs("notes.txt")], /out .*notes\.txt exists and is not an environment spec/],
    ];
    for (const [args, message] of cases) {
      const r = await poncho([...FIXED, ...args]);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      for (const [f, text] of Object.entries(files)) {
        assert.equal(await Deno.readTextFile(abs(f)), text, `${f} changed by ${args.join(" ")}`);
      }
      assert.ok(!(await Deno.stat(abs("new.py")).catch(() => null)));
      assert.deepEqual(
        [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
        Object.keys(files).sort(),
      );
    }
    // Real outputs keep working: an existing spec, an empty file, a new .json.
    await Deno.writeTextFile(abs("empty.json"), "");
    for (const out of ["spec.json", "empty.json", "fresh.json"]) {
      const r = await poncho([...FIXED, abs("a.py"), abs("job"), abs(out)]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(JSON.parse(await Deno.readTextFile(abs(out))).conda.dependencies.includes("numpy"));
    }
    // A named source that is not Python is a warning naming it.
    const w = await poncho([...FIXED, abs("notes.txt"), "-"]);
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stderr, /^warning: .*notes\.txt: not a Python source/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli analyze: -c/--channel repeatable, into the spec; unresolved imports warn on stderr", async () => {
  const r = await poncho(
    [...FIXED, "-c", "conda-forge", "--channel", "./no-such-channel", "-", "-"],
    "import numpy\nimport surely_not_a_package_xyz\n",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).conda, {
    channels: ["conda-forge", "./no-such-channel"],
    dependencies: ["python=3.11", "numpy"],
  });
  assert.match(r.stderr, /^warning: -:2: import surely_not_a_package_xyz: .*--pkg-mapping/m);
});

Deno.test("cli analyze: a project file that is there but unreadable is exit 2 naming it, not 'absent'", () =>
  withTempDir("poncho-test-", async (dir) => {
    await Deno.writeTextFile(join(dir, "main.py"), "import requests\n");
    await Deno.writeTextFile(join(dir, "setup.py"), "");
    // without pyproject.toml the analysis succeeds; with a directory in its place it names it
    const ok = await poncho([...FIXED, join(dir, "main.py"), "-"]);
    assert.equal(ok.code, 0, ok.stderr);
    await Deno.mkdir(join(dir, "pyproject.toml"));
    const r = await poncho([...FIXED, join(dir, "main.py"), "-"]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`${join(dir, "pyproject.toml")}: is a directory`));
  }));
