import assert from "node:assert/strict";
import {
  isLegacyDeps,
  legacyToPonchoDocument,
  readLegacyDeps,
  renderLegacyDeps,
} from "./format.ts";
import { parseSpec } from "../envspec/parse.ts";
import { withChannels } from "../create.ts";
import { UsageError } from "../errors.ts";

Deno.test("legacy deps: rendered exactly as the first-generation analyzer wrote them", () => {
  assert.equal(
    renderLegacyDeps({ python: "3.7.3", modules: ["antigravity", "matplotlib"] }),
    '{"python": "3.7.3", "modules": ["antigravity", "matplotlib"]}\n',
  );
  assert.equal(
    renderLegacyDeps({ python: "3.11.7", modules: [] }),
    '{"python": "3.11.7", "modules": []}\n',
  );
});

Deno.test("legacy deps: recognised only by their own keys", () => {
  assert.ok(isLegacyDeps({ python: "3.7.3", modules: [] }));
  assert.ok(isLegacyDeps({ modules: ["numpy"] }));
  assert.ok(!isLegacyDeps({ conda: { dependencies: ["python"] } }));
  assert.ok(!isLegacyDeps({ python: "3.7", modules: [], conda: {} }));
  assert.ok(!isLegacyDeps({ dependencies: ["python"] }));
  assert.ok(!isLegacyDeps({}));
  assert.ok(!isLegacyDeps(["python"]));
});

Deno.test("legacy deps: bad fields are usage errors naming file and field", () => {
  assert.throws(
    () => readLegacyDeps({ python: 3.7, modules: [] }, "d.json"),
    (e: Error) => e instanceof UsageError && /d\.json: field 'python'/.test(e.message),
  );
  assert.throws(
    () => readLegacyDeps({ python: "3.7.3", modules: "numpy" }, "d.json"),
    (e: Error) => e instanceof UsageError && /field 'modules' must be a list/.test(e.message),
  );
  assert.throws(
    () => readLegacyDeps({ modules: ["ok", "not a module"] }, "d.json"),
    (e: Error) => e instanceof UsageError && /field 'modules\[1\]'/.test(e.message),
  );
});

Deno.test("legacy deps: modules become packages, python is pinned", () => {
  const deps = readLegacyDeps({ python: "3.7.3", modules: ["yaml", "sklearn", "numpy"] }, "d");
  assert.deepEqual(legacyToPonchoDocument(deps), {
    conda: { dependencies: ["python=3.7.3", "numpy", "pyyaml", "scikit-learn"] },
  });
  assert.deepEqual(legacyToPonchoDocument({ python: "", modules: [] }), {
    conda: { dependencies: ["python"] },
  });
});

Deno.test("legacy deps: the spec reader accepts them; -c channels replace the implied default", async () => {
  const spec = await parseSpec('{"python": "3.11.7", "modules": ["pyhello"]}', "deps.json");
  assert.deepEqual(spec.conda, ["python=3.11.7", "pyhello"]);
  assert.deepEqual(spec.channels, ["conda-forge"]);
  assert.deepEqual(withChannels(spec, ["file:///ch"]).channels, ["file:///ch"]);
  assert.deepEqual(withChannels(spec).channels, ["conda-forge"]);
  // A poncho spec keeps its own channels after the command line's.
  const own = await parseSpec('{"conda": {"dependencies": ["python"]}}', "s.json");
  assert.deepEqual(withChannels(own, ["file:///ch"]).channels, ["file:///ch", "conda-forge"]);
});
