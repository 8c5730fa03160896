import assert from "node:assert/strict";
import { parse } from "../deps/yaml.ts";
import { buildSpec, normalizeSpecs, renderSpec } from "./spec_out.ts";

Deno.test("spec_out: dependencies sorted and de-duplicated, python first, pip last", () => {
  const spec = buildSpec(
    "python=3.11",
    ["scipy", "Numpy", "numpy=1.26.4", "numpy", "attrs", "scipy", "python"],
    ["zz==1", "aa", "aa"],
  );
  assert.deepEqual(spec, {
    conda: {
      channels: ["conda-forge"],
      dependencies: [
        "python=3.11",
        "attrs",
        "numpy=1.26.4",
        "pip",
        "scipy",
        { pip: ["aa", "zz==1"] },
      ],
    },
  });
  assert.deepEqual(buildSpec("python>=3.10", [], []).conda.dependencies, ["python>=3.10"]);
});

Deno.test("spec_out: a bare name is dropped when a constrained spec names the same package", () => {
  assert.deepEqual(normalizeSpecs(["numpy", "numpy>=1.2", "pandas"]), ["numpy>=1.2", "pandas"]);
});

Deno.test("spec_out: JSON and environment.yml rendering", async () => {
  const spec = buildSpec("python=3.11", ["numpy"], ["foo==1.0"]);
  const json = await renderSpec(spec, "json");
  assert.ok(json.endsWith("}\n"));
  assert.deepEqual(JSON.parse(json), spec);
  assert.match(json, /^\{\n {2}"conda": \{\n {4}"channels"/);
  const yml = await renderSpec(spec, "yaml");
  assert.equal(
    yml,
    "channels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - numpy\n  - pip\n  - pip:\n" +
      "      - foo==1.0\n",
  );
  const explained = buildSpec("python=3.11", [], [], [
    { module: "os", kind: "stdlib", package: null, optional: false, locations: ["a.py:1"] },
  ]);
  assert.deepEqual(parse(await renderSpec(explained, "yaml")).imports, explained.imports);
});
