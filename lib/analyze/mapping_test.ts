import assert from "node:assert/strict";
import { BUILTIN_MAPPING, parsePkgMapping, resolvePackage, specName } from "./mapping.ts";
import type { InstalledIndex } from "./installed.ts";
import { UsageError } from "../errors.ts";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CONDA_NAME = /^[a-z0-9_][a-z0-9._-]*$/;

Deno.test("mapping: every built-in entry has the right shape", () => {
  const entries = Object.entries(BUILTIN_MAPPING);
  assert.ok(entries.length >= 250, `a few hundred entries (${entries.length})`);
  for (const [module, pkg] of entries) {
    assert.ok(module.split(".").every((p) => IDENT.test(p)), `key ${module} is an import name`);
    assert.match(pkg, CONDA_NAME, `value ${pkg} of ${module} is a conda package name`);
    assert.notEqual(pkg, module.toLowerCase(), `${module} is not an identity entry`);
  }
});

Deno.test("mapping: the JSON data has no duplicate keys", async () => {
  const text = await Deno.readTextFile(new URL("./mapping_data.json", import.meta.url));
  const keys = [...text.matchAll(/^\s*"([^"]+)":/gm)].map((m) => m[1]);
  assert.equal(new Set(keys).size, keys.length);
  assert.equal(keys.length, Object.keys(BUILTIN_MAPPING).length);
});

Deno.test("mapping: well-known import names map to their conda-forge packages", () => {
  const none = new Map<string, string>();
  const expect: Record<string, string> = {
    PIL: "pillow",
    cv2: "opencv",
    sklearn: "scikit-learn",
    yaml: "pyyaml",
    bs4: "beautifulsoup4",
    skimage: "scikit-image",
    attr: "attrs",
    dateutil: "python-dateutil",
  };
  for (const [module, pkg] of Object.entries(expect)) {
    const c = resolvePackage(`${module}.sub`, none);
    assert.deepEqual(c, { package: pkg, manager: "conda", source: "table", spec: pkg });
  }
  assert.equal(resolvePackage("google.protobuf.message", none).package, "protobuf");
  assert.equal(resolvePackage("google.cloud.storage", none).package, "google-cloud-storage");
});

Deno.test("mapping: unknown imports fall back to the (lowercased) import name", () => {
  assert.deepEqual(resolvePackage("numpy.linalg", new Map()), {
    package: "numpy",
    manager: "conda",
    source: "name",
    spec: "numpy",
  });
  assert.equal(resolvePackage("Wikipedia", new Map()).spec, "wikipedia");
});

Deno.test("mapping: --pkg-mapping comes first, then installed metadata, then the table", () => {
  const installed: InstalledIndex = {
    modules: new Map([
      ["yaml", [{ name: "pyyaml", version: "6.0.1", manager: "conda" as const }]],
      ["foo", [{ name: "foo-dist", version: "1.0", manager: "pip" as const }]],
    ]),
    sitePackages: [],
    condaMeta: [],
  };
  const user = new Map([["yaml", "ruamel.yaml"], ["bar", "pip:bar-dist>=2"]]);
  assert.equal(resolvePackage("yaml", user, installed).spec, "ruamel.yaml");
  assert.deepEqual(resolvePackage("bar.x", user, installed), {
    package: "bar-dist",
    manager: "pip",
    source: "user",
    spec: "bar-dist>=2",
  });
  assert.equal(resolvePackage("yaml", new Map(), installed).spec, "pyyaml=6.0.1");
  assert.deepEqual(resolvePackage("foo", new Map(), installed), {
    package: "foo-dist",
    version: "1.0",
    manager: "pip",
    source: "installed",
    spec: "foo-dist==1.0",
  });
  assert.equal(resolvePackage("PIL", new Map(), installed).spec, "pillow");
});

Deno.test("mapping: parsePkgMapping validates IMPORT=NAME", () => {
  assert.deepEqual(parsePkgMapping("yaml=pyyaml"), { module: "yaml", target: "pyyaml" });
  assert.deepEqual(parsePkgMapping("a.b=c=1.0"), { module: "a.b", target: "c=1.0" });
  assert.throws(() => parsePkgMapping("yaml"), UsageError);
  assert.throws(() => parsePkgMapping("=pyyaml"), UsageError);
  assert.throws(() => parsePkgMapping("yaml="), UsageError);
  assert.throws(() => parsePkgMapping("1x=y"), UsageError);
});

Deno.test("mapping: specName takes the name part of a spec", () => {
  assert.equal(specName("numpy=1.26.4"), "numpy");
  assert.equal(specName("requests[socks]>=2; python_version<'3.8'"), "requests");
  assert.equal(specName("python >=3.10"), "python");
});
