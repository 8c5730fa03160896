import assert from "node:assert/strict";
import { cachedSourceId, cacheSourceId, readIndex, sourcePath, writeIndex } from "./index.ts";
import { PonchoError } from "../lib/errors.ts";
import { withTempLayout } from "../tests/util.ts";

Deno.test("a damaged index record is listed apart, not dropped as if missing", () =>
  withTempLayout(async (layout) => {
    await writeIndex(layout, { id: "good", source: "/a", created: "t", size: 3 });
    await Deno.writeTextFile(`${layout.index}/cut.json`, '{"id": "cut", "sou');
    await Deno.writeTextFile(`${layout.index}/fields.json`, '{"id": "fields"}');
    const listing = await readIndex(layout);
    assert.deepEqual(listing.entries.map((e) => e.id), ["good"]);
    assert.deepEqual(
      listing.damaged.sort(),
      [`${layout.index}/cut.json`, `${layout.index}/fields.json`],
    );
  }));

Deno.test("the identity cache: a damaged record is a miss, an unreadable one an error", () =>
  withTempLayout(async (layout) => {
    const archive = `${layout.root}/env.tar.zst`;
    await Deno.writeTextFile(archive, "x");
    const info = await Deno.stat(archive);
    assert.equal(await cachedSourceId(layout, archive, info), undefined); // none yet
    await cacheSourceId(layout, archive, info, "env-1");
    assert.equal(await cachedSourceId(layout, archive, info), "env-1");
    const record = await sourcePath(layout, archive);
    await Deno.writeTextFile(record, "{ not json");
    assert.equal(await cachedSourceId(layout, archive, info), undefined); // read again
    // Before, a record that cannot be read (EISDIR here, EACCES alike) was a silent miss.
    await Deno.remove(record);
    await Deno.mkdir(record);
    await assert.rejects(() => cachedSourceId(layout, archive, info), (err: unknown) => {
      assert.ok(err instanceof PonchoError);
      assert.equal(err.path, record);
      assert.match(err.message, /identity cache record .*: is a directory/);
      return true;
    });
  }));
