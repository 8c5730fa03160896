import assert from "node:assert/strict";
import { join } from "node:path";
import { loadChannelModules, targetsCondaForge } from "./channel_maps.ts";
import { buildImportMap } from "../index/import_map.ts";
import { serveChannel } from "../../tests/fixtures/channel.ts";
import { withTempDir } from "../../tests/util.ts";

Deno.test("channel maps: conda-forge by name or URL", () => {
  assert.ok(targetsCondaForge(["conda-forge"]));
  assert.ok(targetsCondaForge(["./local", "https://conda.anaconda.org/conda-forge/"]));
  assert.ok(!targetsCondaForge(["bioconda", "file:///x/my-conda-forge-mirror"]));
});

Deno.test("channel maps: remote maps are cached, revalidated, and used when the server is gone", () =>
  withTempDir("poncho-maps-", async (dir) => {
    const ch = join(dir, "ch");
    await Deno.mkdir(join(ch, "noarch"), { recursive: true });
    await Deno.writeTextFile(
      join(ch, "noarch", "import-map.json"),
      JSON.stringify(buildImportMap("noarch", [{ name: "corp-widgets", modules: ["widgets"] }])),
    );
    const cache = join(dir, "cache");
    const server = serveChannel(ch);
    const warnings: string[] = [];
    let closed = false;
    try {
      const first = await loadChannelModules([server.url], warnings, dir, "linux-64", cache);
      assert.deepEqual(first.get("widgets"), ["corp-widgets"]);
      assert.equal(server.statuses.get(200), 1);
      assert.equal(server.statuses.get(404), 1); // no linux-64 map: remembered as missing
      const second = await loadChannelModules([server.url], warnings, dir, "linux-64", cache);
      assert.deepEqual(second.get("widgets"), ["corp-widgets"]);
      assert.equal(server.statuses.get(304), 1);
      assert.deepEqual(warnings, []);
      await server.close();
      closed = true;
      const offline = await loadChannelModules([server.url], warnings, dir, "linux-64", cache);
      assert.deepEqual(offline.get("widgets"), ["corp-widgets"]);
      assert.ok(
        warnings.length >= 1 && warnings.every((w) => /using the cached import map/.test(w)),
      );
    } finally {
      if (!closed) await server.close();
    }
  }));

Deno.test("channel maps: an unreachable channel without a cache is a warning, not an error", () =>
  withTempDir("poncho-maps-", async (dir) => {
    const warnings: string[] = [];
    const mods = await loadChannelModules(["http://127.0.0.1:9/"], warnings, dir, "linux-64");
    assert.equal(mods.size, 0);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /^http:\/\/127\.0\.0\.1:9\/linux-64\/import-map\.json: cannot read/);
  }));
