import assert from "node:assert/strict";
import { join } from "node:path";
import { buildRepodataIndex, RepodataIndex } from "./repodata_index.ts";
import { withTempDir } from "../../tests/util.ts";

async function* bytesOf(text: string, size = 7): AsyncGenerator<Uint8Array> {
  const b = new TextEncoder().encode(text);
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

const rec = (name: string, version: string) => ({
  name,
  version,
  build: "0",
  depends: [`x-${name}`],
});
const doc = {
  info: { subdir: "linux-64", base_url: "https://mirror/ch/linux-64" },
  packages: { "a-1-0.tar.bz2": rec("a", "1"), "b-1-0.tar.bz2": rec("b", "1") },
  "packages.conda": { "a-2-0.conda": rec("a", "2"), "c.d-1-0.conda": rec("c.d", "1") },
};

Deno.test("buildRepodataIndex groups records by name; RepodataIndex reads one name at a time", async () => {
  await withTempDir("poncho-index-", async (dir) => {
    const dest = join(dir, "idx");
    const stats = await buildRepodataIndex(
      bytesOf(JSON.stringify(doc, null, 1)),
      dest,
      join(dir, "tmp"),
    );
    assert.deepEqual(stats, { records: 4, names: 3 });
    const idx = await RepodataIndex.open(dest);
    assert.deepEqual(idx.info, doc.info);
    assert.equal(idx.records, 4);
    assert.equal(idx.size, 3);
    assert.ok(idx.has("c.d") && !idx.has("x-a") && !idx.has("toString"));
    assert.deepEqual(await idx.read("a"), {
      packages: { "a-1-0.tar.bz2": doc.packages["a-1-0.tar.bz2"] },
      "packages.conda": { "a-2-0.conda": doc["packages.conda"]["a-2-0.conda"] },
    });
    assert.deepEqual(await idx.read("nope"), { packages: {}, "packages.conda": {} });
    await idx.close();
    assert.deepEqual([...Deno.readDirSync(join(dir, "tmp"))], [], "work files are gone");
  });
});

Deno.test("buildRepodataIndex leaves nothing behind for truncated or invalid input", async () => {
  await withTempDir("poncho-index-", async (dir) => {
    const text = JSON.stringify(doc);
    const bad = [
      text.slice(0, text.length - 5),
      text.replace('"version":"2"', '"version":2x'),
      text.replace('"name":"b"', '"nome":"b"'),
    ];
    for (const t of bad) {
      await assert.rejects(buildRepodataIndex(bytesOf(t), join(dir, "idx"), join(dir, "tmp")));
      assert.equal(await Deno.stat(join(dir, "idx")).catch(() => null), null);
      assert.deepEqual([...Deno.readDirSync(join(dir, "tmp"))], []);
    }
  });
});
