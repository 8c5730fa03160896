import assert from "node:assert/strict";
import { tempTree } from "../../tests/util.ts";
import { join } from "node:path";
import { LocalResolver, moduleOfWrittenFile } from "./local.ts";

/** A temp dir holding the empty files `files`. */
function tree(files: string[]): Promise<string> {
  return tempTree(Object.fromEntries(files.map((f) => [f, ""])));
}

Deno.test("local: modules, packages, namespace dirs and extensions beside a script", async () => {
  const dir = await tree([
    "main.py",
    "yaml.py",
    "pkg/__init__.py",
    "ns/mod.py",
    "data/readme.txt",
    "fast.cpython-311-x86_64-linux-gnu.so",
  ]);
  try {
    const r = new LocalResolver();
    const main = join(dir, "main.py");
    assert.deepEqual(await r.roots(main), [dir]);
    for (const m of ["yaml", "pkg", "ns", "fast"]) assert.ok(await r.isLocal(m, main), m);
    for (const m of ["data", "numpy", "main"]) assert.ok(!(await r.isLocal(m, main)), m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local: files inside a package search the package root's parent", async () => {
  const dir = await tree(["top/app/__init__.py", "top/app/sub/__init__.py", "top/app/sub/abc.py"]);
  try {
    const r = new LocalResolver();
    const file = join(dir, "top/app/sub/abc.py");
    assert.deepEqual(await r.roots(file), [join(dir, "top")]);
    assert.ok(await r.isLocal("app", file));
    assert.ok(!(await r.isLocal("abc", join(dir, "top/app/sub/__init__.py"))));
    const py2 = new LocalResolver(true);
    assert.deepEqual(await py2.roots(file), [join(dir, "top/app/sub"), join(dir, "top")]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local: declared modules (%%writefile) and their names", async () => {
  const r = new LocalResolver();
  r.addModule("/nowhere", "helpers");
  assert.ok(await r.isLocal("helpers", "/nowhere/nb.ipynb"));
  assert.equal(moduleOfWrittenFile("helpers.py"), "helpers");
  assert.equal(moduleOfWrittenFile("./pkg/mod.py"), "pkg");
  assert.equal(moduleOfWrittenFile("notes.txt"), null);
});

Deno.test("local: a namespace dir with Python files only in subfolders is local", async () => {
  const dir = await tree(["main.py", "corp/tools/util/helpers.py", "assets/img/logo.png"]);
  try {
    const r = new LocalResolver();
    const main = join(dir, "main.py");
    assert.ok(await r.isLocal("corp", main));
    assert.ok(await r.isLocal("corp.tools.util", main));
    assert.ok(!(await r.isLocal("assets", main)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local: a plain module does not provide name.sub imports", async () => {
  const dir = await tree(["main.py", "google.py", "pkg/__init__.py"]);
  try {
    const r = new LocalResolver();
    const main = join(dir, "main.py");
    assert.ok(await r.isLocal("google", main));
    assert.ok(!(await r.isLocal("google.colab", main)));
    assert.ok(await r.isLocal("pkg.sub", main));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local: project-root modules and src/ packages are local for every file under the root", async () => {
  const dir = await tree([
    "mylib/__init__.py",
    "src/srcpkg/__init__.py",
    "helpers.py",
    "examples/demo.py",
    "tests/test_x.py",
    "docs/conf/deep/build.py",
  ]);
  try {
    const plain = new LocalResolver();
    const r = new LocalResolver(false, [dir, join(dir, "src")]);
    for (const f of ["examples/demo.py", "tests/test_x.py", "docs/conf/deep/build.py"]) {
      const file = join(dir, f);
      assert.ok(!(await plain.isLocal("mylib", file)), "not found by Python's own search");
      for (const m of ["mylib", "srcpkg", "helpers"]) {
        assert.ok(await r.isLocal(m, file), `${m} ${f}`);
      }
      assert.ok(!(await r.isLocal("numpy", file)));
    }
    // where: for following the project's own modules from any file under the root
    const demo = join(dir, "examples/demo.py");
    assert.equal(await r.locate("mylib.sub", demo), join(dir, "mylib"));
    assert.equal(await r.locate("srcpkg", demo), join(dir, "src/srcpkg"));
    assert.equal(await r.locate("helpers", demo), join(dir, "helpers.py"));
    assert.equal(await r.locate("numpy", demo), null);
    // the importing file itself is excluded: helpers.py importing helpers still needs a package
    assert.ok(!(await r.isLocal("helpers", join(dir, "helpers.py"))));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
