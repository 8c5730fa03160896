import assert from "node:assert/strict";
import { join } from "node:path";
import { NotFoundError, PonchoError } from "../errors.ts";
import { canDropFileCapabilities, runUnprivileged, withTempDir } from "../../tests/util.ts";
import { isAbsent, listDirOrNull, readTextOrNull, statOrNull, statOrNullSync } from "./probe.ts";

Deno.test("fs probe: missing paths and paths under a regular file are absent (null)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "file"), "x");
    for (const p of [join(dir, "missing"), join(dir, "file/below")]) {
      assert.equal(await statOrNull(p), null, p);
      assert.equal(await statOrNull(p, { follow: false }), null, p);
      assert.equal(statOrNullSync(p), null, p);
      assert.equal(await readTextOrNull(p), null, p);
      assert.equal(await listDirOrNull(p), null, p);
    }
    await Deno.symlink(join(dir, "nowhere"), join(dir, "dangling"));
    assert.equal(await statOrNull(join(dir, "dangling")), null);
    assert.ok((await statOrNull(join(dir, "dangling"), { follow: false }))?.isSymlink);
    assert.equal(await readTextOrNull(join(dir, "file")), "x");
    assert.deepEqual((await listDirOrNull(dir))?.map((e) => e.name), ["dangling", "file"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fs probe: what is there but cannot be read is an error naming the path, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // a directory where a file is read (EISDIR): once indistinguishable from a missing file
    const err = await readTextOrNull(dir).then(() => null, (e) => e);
    assert.ok(err instanceof NotFoundError, String(err));
    assert.equal(err.path, dir);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /is a directory/);
    // a symlink loop (ELOOP) is not absence either
    await Deno.symlink(join(dir, "loop"), join(dir, "loop"));
    const loop = await statOrNull(join(dir, "loop")).then(() => null, (e) => e);
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
        `import { readTextOrNull } from ${
          JSON.stringify(new URL("./probe.ts", import.meta.url).href)
        };
try {
  console.log(JSON.stringify({ text: await readTextOrNull(Deno.args[0]) }));
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

Deno.test("statOrNull: links followed or not; a link loop is an error of the role's kind naming the path", async () => {
  await withTempDir("poncho-stat-", async (dir) => {
    await Deno.writeTextFile(join(dir, "file"), "x");
    await Deno.symlink("loop", join(dir, "loop"));
    await Deno.symlink("file", join(dir, "link"));
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
    // without a role a probe's path is an input
    assert.equal((await statOrNull(loop).then(() => null, (e) => e))?.kind, "not-found");
    assert.ok(isAbsent(new Deno.errors.NotFound("x")));
    assert.ok(isAbsent(new Deno.errors.NotADirectory("x")));
    assert.ok(!isAbsent(new Deno.errors.PermissionDenied("x")));
  });
});
