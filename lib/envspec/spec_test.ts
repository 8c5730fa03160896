import assert from "node:assert/strict";
import { checkMatchSpec, parseJsonc, parseSpec } from "./parse.ts";
import { canonicalMatchSpec, canonicalSpec, specHash, specToJson } from "./canonical.ts";
import { UsageError } from "../errors.ts";

Deno.test("parses the current poncho JSON form", async () => {
  const s = await parseSpec(
    JSON.stringify({
      conda: {
        channels: ["conda-forge", "bioconda"],
        dependencies: ["python=3.11", "numpy=1.26.4", { pip: ["foo==1.0"] }],
      },
      git: { DATA: { remote: "https://example.org/r.git", ref: "v1" } },
      http: { DB: { type: "tar", url: "https://example.org/db.tar.gz", compression: "gzip" } },
    }),
    "spec.json",
  );
  assert.deepEqual(s.channels, ["conda-forge", "bioconda"]);
  assert.deepEqual(s.conda, ["python=3.11", "numpy=1.26.4"]);
  assert.deepEqual(s.pip, ["foo==1.0"]);
  assert.equal(s.git.DATA.ref, "v1");
  assert.equal(s.http.DB.type, "tar");
});

Deno.test("parses the legacy form (conda.packages + top-level pip)", async () => {
  const s = await parseSpec(
    '{"conda": {"channels": ["defaults"], "packages": ["python=3.8"]}, "pip": ["requests"]}',
    "old.json",
  );
  assert.deepEqual(s.conda, ["python=3.8"]);
  assert.deepEqual(s.pip, ["requests"]);
  assert.deepEqual(s.channels, ["defaults"]);
});

Deno.test("parses JSONC with comments and trailing commas", async () => {
  const text = `{
    // the channels
    "conda": {"channels": ["c", /* inline */], "dependencies": ["a // not a comment",],},
  }`;
  assert.equal(
    ((await parseJsonc('{"u": "http://x//y",}', "u.json")) as { u: string }).u,
    "http://x//y",
  );
  await assert.rejects(() => parseSpec(text, "x.jsonc"), /a \/\/ not a comment/);
  const ok = await parseSpec(`{"conda": {"dependencies": ["zlib", ], } // end\n}`, "y.jsonc");
  assert.deepEqual(ok.conda, ["zlib"]);
});

Deno.test("a JSONC syntax error names the file, line and column", async () => {
  const text = '{\n  "conda": {\n    "dependencies": ["numpy",, ]\n  }\n}\n';
  await assert.rejects(
    () => parseSpec(text, "spec.json"),
    /^UsageError: spec\.json:3:30: not valid JSON \(value expected\)/,
  );
});

Deno.test("parses a conda environment.yml", async () => {
  const s = await parseSpec(
    "name: demo\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - numpy\n  - pip:\n    - foo==1.0\n",
    "environment.yml",
  );
  assert.equal(s.name, "demo");
  assert.deepEqual(s.conda, ["python=3.11", "numpy"]);
  assert.deepEqual(s.pip, ["foo==1.0"]);
});

Deno.test("errors name the file, the field path and the value", async () => {
  const cases: [string, RegExp][] = [
    ['{"conda": {"dependencies": [42]}}', /f\.json: field 'conda\.dependencies\[0\]'.*42/],
    ['{"conda": {"dependencies": ["numpy"]}, "colour": 1}', /field 'colour' is not a known key/],
    [
      '{"conda": {"channels": "x", "dependencies": ["a"]}}',
      /field 'conda\.channels' must be a list.*"x"/,
    ],
    ['{"conda": {"dependencies": ["numpy >="]}}', /conda\.dependencies\[0\].*'numpy >='/],
    [
      '{"conda": {"dependencies": ["a", {"pip": ["b c d"]}]}}',
      /conda\.dependencies\[1\]\.pip\[0\]/,
    ],
    ['{"conda": {"dependencies": []}}', /lists no packages/],
    [
      '{"conda": {"dependencies": ["a"]}, "http": {"X": {"type": "zip", "url": "u"}}}',
      /http\.X\.type/,
    ],
    ["{not json", /f\.json:\d+:\d+: not valid JSON/],
  ];
  for (const [text, re] of cases) {
    await assert.rejects(() => parseSpec(text, "f.json"), (e: Error) => {
      assert.ok(e instanceof UsageError, `${text}: ${e}`);
      assert.match(e.message, re);
      assert.ok(!e.message.includes("\n"), "one line");
      return true;
    });
  }
});

Deno.test("match specs: valid forms accepted, names returned", () => {
  for (
    const [s, name] of [
      ["numpy", "numpy"],
      ["NumPy=1.26", "numpy"],
      ["numpy >=1.2,<2", "numpy"],
      ["python=3.11.0=he550d4f_1_cpython", "python"],
      ["conda-forge::numpy", "numpy"],
      ["numpy[version='>=1.2']", "numpy"],
      ["python>=3.10", "python"],
      ["libgcc-ng 12.*", "libgcc-ng"],
    ]
  ) assert.equal(checkMatchSpec(s, "t"), name);
  for (const bad of ["", "=1.0", "numpy >=", "num py  py", "python=>>3.11", "numpy>>1", "a >=1,"]) {
    assert.throws(() => checkMatchSpec(bad, "t"), UsageError, bad);
  }
});

Deno.test("canonical hash: order of deps irrelevant, channel order and platform matter", async () => {
  const a = await parseSpec(
    '{"conda": {"channels": ["a", "b"], "dependencies": ["x", "Y=1"]}}',
    "a",
  );
  const b = await parseSpec(
    '{"conda": {"channels": ["a", "b"], "dependencies": ["y=1", " x "]}}',
    "b",
  );
  const c = await parseSpec(
    '{"conda": {"channels": ["b", "a"], "dependencies": ["x", "y=1"]}}',
    "c",
  );
  const h = (s: typeof a, p = "linux-64") => specHash(canonicalSpec(s, p));
  assert.equal(h(a), h(b));
  assert.notEqual(h(a), h(c));
  assert.notEqual(h(a), h(a, "osx-arm64"));
  assert.match(h(a), /^[0-9a-f]{64}$/);
});

Deno.test("specToJson round-trips", async () => {
  const s = await parseSpec(
    '{"conda": {"channels": ["c"], "dependencies": ["a", {"pip": ["b==1"]}]}}',
    "s.json",
  );
  const again = await parseSpec(specToJson(s), "again.json");
  assert.deepEqual(again, s);
});

Deno.test("the explain report of poncho analyze (imports) is accepted and ignored", async () => {
  const json = await parseSpec(
    '{"conda": {"dependencies": ["numpy"]}, "imports": [{"module": "numpy"}]}',
    "explained.json",
  );
  assert.deepEqual(json.conda, ["numpy"]);
  const yml = await parseSpec("dependencies:\n  - numpy\nimports:\n  - module: numpy\n", "e.yml");
  assert.deepEqual(yml.conda, ["numpy"]);
});

Deno.test("canonical match specs: one spelling per meaning", () => {
  const same = [
    ["numpy>=1.2", "numpy >=1.2", "NumPy >= 1.2", "  numpy>=1.2  "],
    ["numpy>=1.2,<2", "numpy >=1.2, <2", "numpy >= 1.2 , < 2"],
    ["conda-forge::numpy=1.26", "conda-forge::NumPy =1.26"],
    ["numpy 1.26.4 py311_0", "numpy  1.26.4   py311_0"],
    ["numpy[build=py311*]", "numpy [ build=py311* ]"],
    ["python 3.11.*|3.12.*", "python 3.11.* | 3.12.*"],
  ];
  for (const group of same) {
    assert.deepEqual(group.map(canonicalMatchSpec), group.map(() => group[0]), group.join(" / "));
  }
  // Different meanings stay apart: fuzzy `=1.2` against exact `1.2`.
  assert.notEqual(canonicalMatchSpec("numpy=1.2"), canonicalMatchSpec("numpy 1.2"));
  const spec = (d: string) => ({
    channels: ["c"],
    conda: [d],
    pip: [],
    git: {},
    http: {},
  });
  assert.equal(
    specHash(canonicalSpec(spec("numpy>=1.2"), "linux-64")),
    specHash(canonicalSpec(spec("numpy >=1.2"), "linux-64")),
  );
});
