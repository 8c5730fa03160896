import assert from "node:assert/strict";
import { BUILTIN_MAPPING, parsePkgMapping, specName } from "./mapping.ts";
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
