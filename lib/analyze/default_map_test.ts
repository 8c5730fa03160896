import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { condaForgeNameOf, loadDefaultMap, parseDefaultMap } from "./default_map.ts";
import {
  DEFAULT_MAP_FILE,
  generateDefaultMap,
  serializeDefaultMap,
  SOURCES,
} from "./default_map_gen.ts";

const DATA = fileURLToPath(new URL("../../../shared/importmap/", import.meta.url));
const haveData = await Deno.stat(DATA).then(() => true, () => false);

Deno.test("default map: carries its provenance and its three sections", async () => {
  const map = await loadDefaultMap();
  for (const s of SOURCES) assert.ok(map.provenance.some((p) => p.includes(s.source)), s.file);
  assert.ok(map.modules.size > 2000);
  assert.ok(map.python.size > 20000);
  assert.ok(map.python.has("numpy") && !map.python.has("hdf5") && !map.python.has("ffmpeg"));
  assert.equal(condaForgeNameOf(map, "GitPython"), "gitpython");
  assert.equal(condaForgeNameOf(map, "docker"), "docker-py");
  assert.equal(condaForgeNameOf(map, "torch"), "pytorch");
  assert.equal(condaForgeNameOf(map, "no-such-project-xyz"), null);
});

Deno.test("default map: parses the line format", () => {
  const m = parseDefaultMap(
    "# from x\n[modules]\nyaml pyyaml\ngoogle\n[python]\npyyaml\n[pypi]\ntorch pytorch\n",
  );
  assert.deepEqual(m.provenance, ["from x"]);
  assert.deepEqual(m.modules.get("yaml"), ["pyyaml"]);
  assert.deepEqual(m.modules.get("google"), []);
  assert.ok(m.python.has("pyyaml"));
  assert.equal(m.pypi.get("torch"), "pytorch");
});

Deno.test({
  name: "default map: the shipped file is what the generator makes from ../shared/importmap",
  ignore: !haveData,
  fn: async () => {
    const bytes = serializeDefaultMap(await generateDefaultMap(DATA));
    assert.deepEqual(
      new Uint8Array(bytes),
      await Deno.readFile(DEFAULT_MAP_FILE),
      "re-run default_map_gen.ts",
    );
  },
});

Deno.test({
  name: "default map: each override's recorded public winner is what the public table says",
  ignore: !haveData,
  fn: async () => {
    const { OVERRIDES } = await import("./default_map_overrides.ts");
    const crm = JSON.parse(
      await Deno.readTextFile(`${DATA}/crm_import_to_package_names_map_2024-10-25.json`),
    );
    for (const o of OVERRIDES) {
      const ranked: string[] | undefined = crm[o.module];
      assert.equal(ranked ? ranked[ranked.length - 1] : null, o.publicWinner, o.module);
    }
  },
});
