import assert from "node:assert/strict";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import { isAbsent, statOrNull, statOrNullSync } from "./stat.ts";
import { withTempDir } from "../../tests/util.ts";

Deno.test("statOrNull: nothing there is null; a link loop is an error naming the path, not absence", async () => {
  await withTempDir("poncho-stat-", async (dir) => {
    await Deno.writeTextFile(join(dir, "file"), "x");
    await Deno.symlink("loop", join(dir, "loop"));
    await Deno.symlink("file", join(dir, "link"));
    for (const path of [join(dir, "missing"), join(dir, "file", "below")]) {
      assert.equal(await statOrNull(path), null, path);
      assert.equal(statOrNullSync(path), null, path);
    }
    assert.ok((await statOrNull(join(dir, "link")))?.isFile);
    assert.ok(statOrNullSync(join(dir, "link"), { follow: false })?.isSymlink);
    assert.ok((await statOrNull(join(dir, "loop"), { follow: false }))?.isSymlink);
    const loop = join(dir, "loop");
    for (const role of ["store", "input", "output"] as const) {
      const err = await statOrNull(loop, { what: "cannot read", role }).then(() => null, (e) => e);
      assert.ok(err instanceof PonchoError, String(err));
      assert.equal(err.path, loop);
      assert.match(err.message, /^cannot read .*loop: too many levels of symbolic links$/);
      assert.equal(err.kind, { store: "build", input: "not-found", output: "usage" }[role]);
      assert.throws(() => statOrNullSync(loop, { role }), PonchoError);
    }
    assert.ok(isAbsent(new Deno.errors.NotFound("x")));
    assert.ok(!isAbsent(new Deno.errors.PermissionDenied("x")));
  });
});
