import assert from "node:assert/strict";
import { MARKER_PATH, readMarker, writeMarker } from "./marker.ts";
import { PonchoError } from "../lib/errors.ts";
import { withTempDir } from "../tests/util.ts";

const marker = (prefix: string) => ({
  format: 1 as const,
  id: "env-1",
  prefix,
  activateScripts: [],
  source: "/a.tar.zst",
  size: 1,
  unpacked: new Date(0).toISOString(),
});

Deno.test("a missing, cut-short or foreign marker means not ready", () =>
  withTempDir("poncho-marker-", async (dir) => {
    assert.equal(readMarker(dir), undefined); // no .poncho/
    await writeMarker(dir, marker(dir));
    assert.equal(readMarker(dir, "env-1")?.id, "env-1");
    assert.equal(readMarker(dir, "env-2"), undefined); // another id
    await Deno.writeTextFile(`${dir}/${MARKER_PATH}`, '{"format": 1, "id": "en');
    assert.equal(readMarker(dir), undefined); // cut short
    await Deno.writeTextFile(`${dir}/${MARKER_PATH}`, "null");
    assert.equal(readMarker(dir), undefined);
    await Deno.remove(`${dir}/.poncho`, { recursive: true });
    await Deno.writeTextFile(`${dir}/.poncho`, "a file where the directory belongs");
    assert.equal(readMarker(dir), undefined); // ENOTDIR: there is no marker
  }));

Deno.test("a marker that cannot be read is an error naming it, not 'not ready'", () =>
  withTempDir("poncho-marker-", async (dir) => {
    // Before, any read error (EISDIR here; EACCES alike) was taken for "not unpacked".
    await Deno.mkdir(`${dir}/${MARKER_PATH}`, { recursive: true });
    assert.throws(() => readMarker(dir), (err: unknown) => {
      assert.ok(err instanceof PonchoError);
      assert.equal(err.exitCode, 3);
      assert.equal(err.path, `${dir}/${MARKER_PATH}`);
      assert.match(err.message, /cannot read the ready marker .*ready\.json: is a directory/);
      return true;
    });
  }));
