import assert from "node:assert/strict";
import { join } from "node:path";
import { NotFoundError } from "../errors.ts";
import { canDropFileCapabilities, runUnprivileged } from "../../tests/util.ts";
import {
  listDirIfPresent,
  lstatIfPresent,
  readTextIfPresent,
  statIfPresent,
  statSyncIfPresent,
} from "./probe.ts";

Deno.test("fs probe: missing paths and paths under a regular file are absent (null)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "file"), "x");
    for (const p of [join(dir, "missing"), join(dir, "file/below")]) {
      assert.equal(await statIfPresent(p), null, p);
      assert.equal(await lstatIfPresent(p), null, p);
      assert.equal(statSyncIfPresent(p), null, p);
      assert.equal(await readTextIfPresent(p), null, p);
      assert.equal(await listDirIfPresent(p), null, p);
    }
    await Deno.symlink(join(dir, "nowhere"), join(dir, "dangling"));
    assert.equal(await statIfPresent(join(dir, "dangling")), null);
    assert.ok((await lstatIfPresent(join(dir, "dangling")))?.isSymlink);
    assert.equal(await readTextIfPresent(join(dir, "file")), "x");
    assert.deepEqual((await listDirIfPresent(dir))?.map((e) => e.name), ["dangling", "file"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fs probe: what is there but cannot be read is an error naming the path, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // a directory where a file is read (EISDIR): once indistinguishable from a missing file
    const err = await readTextIfPresent(dir).then(() => null, (e) => e);
    assert.ok(err instanceof NotFoundError, String(err));
    assert.equal(err.path, dir);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /is a directory/);
    // a symlink loop (ELOOP) is not absence either
    await Deno.symlink(join(dir, "loop"), join(dir, "loop"));
    const loop = await statIfPresent(join(dir, "loop")).then(() => null, (e) => e);
    assert.ok(loop instanceof NotFoundError, String(loop));
    assert.match(loop.message, /too many levels of symbolic links/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "fs probe: an unreadable file is a permission error naming it (exit 2), never absent",
  ignore: !canDropFileCapabilities,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(join(dir, "secret"), "x");
      await Deno.chmod(join(dir, "secret"), 0o000);
      const text = await runUnprivileged(
        `import { readTextIfPresent } from ${
          JSON.stringify(new URL("./probe.ts", import.meta.url).href)
        };
try {
  console.log(JSON.stringify({ text: await readTextIfPresent(Deno.args[0]) }));
} catch (e) {
  console.log(JSON.stringify({ kind: e.kind, exit: e.exitCode, path: e.path }));
}
`,
        [join(dir, "secret")],
      );
      assert.deepEqual(JSON.parse(text), {
        kind: "permission",
        exit: 2,
        path: join(dir, "secret"),
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
