import assert from "node:assert/strict";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import {
  isFreeThreaded,
  noarchPythonPath,
  parseNoarchMetadata,
  pythonExecutable,
  pythonLayout,
  readNoarchMetadata,
} from "./noarch.ts";
import { withTempDir } from "../../tests/util.ts";

Deno.test("noarchPythonPath remaps site-packages and python-scripts only", () => {
  const py = pythonLayout({ version: "3.11.7" });
  assert.equal(
    noarchPythonPath("site-packages/pkg/__init__.py", py),
    "lib/python3.11/site-packages/pkg/__init__.py",
  );
  assert.equal(noarchPythonPath("python-scripts/tool", py), "bin/tool");
  assert.equal(noarchPythonPath("share/doc/x.txt", py), "share/doc/x.txt");
  assert.equal(noarchPythonPath("lib/site-packages/x", py), "lib/site-packages/x");
});

Deno.test("pythonLayout: python_site_packages_path wins, free-threaded builds get 3.13t", () => {
  // The fields of conda-forge's python-3.13.2-hfd29fff_1_cp313t record and of conda's
  // test package python-3.99.99-0 (../shared/realpkgs).
  const ft = { version: "3.13.2", build: "hfd29fff_1_cp313t", track_features: "py_freethreading" };
  assert.ok(isFreeThreaded(ft));
  assert.equal(pythonLayout(ft).sitePackages, "lib/python3.13t/site-packages");
  assert.equal(
    pythonLayout({ ...ft, python_site_packages_path: "lib/python3.13t/site-packages" })
      .sitePackages,
    "lib/python3.13t/site-packages",
  );
  const fake = {
    version: "3.99.99",
    build: "0",
    python_site_packages_path: "lib/python3.99t/site-packages",
  };
  assert.equal(pythonLayout(fake).sitePackages, "lib/python3.99t/site-packages");
  assert.equal(
    noarchPythonPath("site-packages/sample.py", pythonLayout(fake)),
    "lib/python3.99t/site-packages/sample.py",
  );
  assert.equal(
    pythonLayout({ version: "3.12.1", build: "h1_cpython" }).sitePackages,
    "lib/python3.12/site-packages",
  );
  assert.throws(
    () => pythonLayout({ version: "3.12.1", python_site_packages_path: "../x" }),
    PonchoError,
  );
  assert.throws(
    () => pythonLayout({ version: "3.12.1", python_site_packages_path: "/abs" }),
    PonchoError,
  );
});

Deno.test("pythonExecutable prefers the free-threaded interpreter the environment has", async () => {
  await withTempDir("poncho-noarch-", async (dir) => {
    await Deno.mkdir(join(dir, "bin"));
    const ft = pythonLayout({ version: "3.13.2", build: "h_cp313t" });
    assert.equal(pythonExecutable(dir, ft), "bin/python3.13");
    await Deno.writeTextFile(join(dir, "bin/python3"), "");
    assert.equal(pythonExecutable(dir, ft), "bin/python3");
    await Deno.writeTextFile(join(dir, "bin/python3.13t"), "");
    assert.equal(pythonExecutable(dir, ft), "bin/python3.13t");
  });
});

Deno.test("noarch metadata: link.json first, else the old package_metadata.json", async () => {
  await withTempDir("poncho-noarch-", async (dir) => {
    await Deno.mkdir(join(dir, "info"));
    assert.deepEqual(await readNoarchMetadata(dir), { entryPoints: [] });
    const old = {
      noarch: { type: "python", entry_points: ["a = a:main"] },
      package_metadata_version: 1,
    };
    await Deno.writeTextFile(join(dir, "info/package_metadata.json"), JSON.stringify(old));
    assert.deepEqual(await readNoarchMetadata(dir), {
      type: "python",
      entryPoints: ["a = a:main"],
      file: "info/package_metadata.json",
    });
    await Deno.writeTextFile(join(dir, "info/link.json"), '{"noarch": {"type": "generic"}}');
    assert.equal((await readNoarchMetadata(dir)).type, "generic");
    assert.throws(() => parseNoarchMetadata("{", "x/info/link.json"), /x\/info\/link.json/);
  });
});
