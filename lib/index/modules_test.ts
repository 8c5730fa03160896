import assert from "node:assert/strict";
import { moduleOfFile, packageModules, pthDirs, siteRootOf } from "./modules.ts";

Deno.test("site roots: versioned, free-threaded 3.13t, lib64, Windows, noarch, CEP 17", () => {
  assert.equal(siteRootOf("lib/python3.11/site-packages/a.py"), "lib/python3.11/site-packages/");
  assert.equal(siteRootOf("lib/python3.13t/site-packages/a.py"), "lib/python3.13t/site-packages/");
  assert.equal(siteRootOf("lib64/python3.9/site-packages/a.py"), "lib64/python3.9/site-packages/");
  assert.equal(siteRootOf("Lib/site-packages/a.py"), "Lib/site-packages/");
  assert.equal(siteRootOf("site-packages/a.py"), "site-packages/");
  assert.equal(siteRootOf("lib/python3.11/a.py"), null); // the stdlib is not site-packages
  assert.equal(siteRootOf("share/site-packages/a.py"), null);
  assert.equal(siteRootOf("py/sp/a.py", "py/sp"), "py/sp/");
});

Deno.test("module files: .py, extension modules of every tag, not stubs or data", () => {
  assert.equal(moduleOfFile("six.py"), "six");
  assert.equal(moduleOfFile("_cffi_backend.cpython-312-x86_64-linux-gnu.so"), "_cffi_backend");
  assert.equal(moduleOfFile("_rust.abi3.so"), "_rust");
  assert.equal(moduleOfFile("fast.so"), "fast");
  assert.equal(moduleOfFile("win.cp311-win_amd64.pyd"), "win");
  assert.equal(moduleOfFile("six.pyi"), null);
  assert.equal(moduleOfFile("README.txt"), null);
  assert.equal(moduleOfFile("libfoo.so.1"), null);
  assert.equal(moduleOfFile("my-mod.py"), null);
});

Deno.test("a regular package and a single-file module are top-level names", () => {
  const mods = packageModules({
    paths: [
      "lib/python3.12/site-packages/yaml/__init__.py",
      "lib/python3.12/site-packages/yaml/loader.py",
      "lib/python3.12/site-packages/_yaml.cpython-312-x86_64-linux-gnu.so",
      "lib/python3.12/site-packages/six.py",
      "lib/python3.12/site-packages/PyYAML-6.0.dist-info/RECORD",
      "lib/python3.12/site-packages/PyYAML-6.0.dist-info/top_level.txt",
      "lib/python3.12/site-packages/__pycache__/six.cpython-312.pyc",
      "bin/pyyaml-tool",
      "lib/libyaml.so",
    ],
  });
  assert.deepEqual(mods, ["_yaml", "six", "yaml"]);
});

Deno.test("namespace packages give namespace-qualified names down to the first regular package", () => {
  const mods = packageModules({
    paths: [
      "site-packages/google/cloud/storage/__init__.py",
      "site-packages/google/cloud/storage/blob.py",
      "site-packages/google/cloud/_helpers.py",
      "site-packages/google_cloud_storage-2.0.dist-info/METADATA",
    ],
  });
  assert.deepEqual(mods, ["google.cloud._helpers", "google.cloud.storage"]);
});

Deno.test("a namespace directory with an extension module", () => {
  const mods = packageModules({
    paths: [
      "lib/python3.11/site-packages/zope/interface/__init__.py",
      "lib/python3.11/site-packages/zope/interface/_opt.cpython-311-x86_64-linux-gnu.so",
      "lib/python3.11/site-packages/zope/_speedups.abi3.so",
    ],
  });
  assert.deepEqual(mods, ["zope._speedups", "zope.interface"]);
});

Deno.test("skipped: tests, -stubs, __pycache__, metadata dirs, .pyi-only dirs, non-identifiers", () => {
  const mods = packageModules({
    paths: [
      "site-packages/tests/test_a.py",
      "site-packages/test/__init__.py",
      "site-packages/foo-stubs/__init__.pyi",
      "site-packages/foo/__init__.py",
      "site-packages/foo/tests/__init__.py",
      "site-packages/__pycache__/x.cpython-311.pyc",
      "site-packages/foo-1.0.dist-info/METADATA",
      "site-packages/foo-1.0.egg-info/PKG-INFO",
      "site-packages/foo-1.0.data/scripts/foo.py",
      "site-packages/typed/__init__.pyi",
      "site-packages/my-dir/a.py",
      "site-packages/nsroot/tests/test_x.py",
    ],
  });
  assert.deepEqual(mods, ["foo"]);
});

Deno.test("free-threaded 3.13t and CEP-17 python_site_packages_path", () => {
  assert.deepEqual(
    packageModules({ paths: ["lib/python3.13t/site-packages/ftmod/__init__.py"] }),
    ["ftmod"],
  );
  assert.deepEqual(
    packageModules({
      paths: ["lib/python3.99/site-packages/a/__init__.py", "py/sp/b.py"],
      sitePackagesPath: "py/sp",
    }),
    ["a", "b"],
  );
});

Deno.test(".pth files: relative directories become roots, import lines and absolute paths do not", () => {
  assert.deepEqual(pthDirs("# comment\nsrc\nimport os; os.x()\n/abs/path\n./lib/extra\n../up\n"), [
    "src/",
    "lib/extra/",
  ]);
  const mods = packageModules({
    paths: [
      "lib/python3.12/site-packages/proj.pth",
      "lib/python3.12/site-packages/src/projpkg/__init__.py",
      "lib/python3.12/site-packages/src/projmod.py",
    ],
    pth: { "lib/python3.12/site-packages/proj.pth": "src\n" },
  });
  assert.deepEqual(mods, ["projmod", "projpkg"]);
});
