import assert from "node:assert/strict";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import { assertNoLinkInParents, pathProblem, resolveInside, safeRelativePath } from "./paths.ts";

Deno.test("safeRelativePath normalises and refuses, one line naming archive and member", () => {
  assert.equal(safeRelativePath("./a//b/./c/", "x.tar"), "a/b/c");
  assert.equal(safeRelativePath(".", "x.tar"), "");
  assert.throws(
    () => safeRelativePath("a/../b", "x.tar"),
    /^PonchoError: x\.tar: refusing member a\/\.\.\/b: path contains '\.\.'$/,
  );
  assert.throws(
    () => safeRelativePath("/etc", "x.tar"),
    /x\.tar: refusing member \/etc: absolute path/,
  );
  assert.throws(
    () => safeRelativePath("a\0\n", "x.tar"),
    /refusing member "a\\u0000\\n": NUL byte/,
  );
  assert.equal(pathProblem("ok/path"), undefined);
});

Deno.test("resolveInside follows links on disk, the link's own parent path included", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(root, "d"));
    await Deno.symlink(".", join(root, "s"));
    await Deno.symlink("..", join(root, "d/up"));
    assert.equal(resolveInside(root, "lib/x", "../bin/y"), "bin/y");
    assert.equal(resolveInside(root, "x", "d/up/d"), "d");
    assert.equal(resolveInside(root, "y", "d/up/.."), undefined);
    // The link's parent path s/s/s is really the root, so four '..' leave it.
    assert.equal(resolveInside(root, "s/s/s/bin", "../../../victim"), undefined);
    assert.equal(resolveInside(root, "a", "/abs"), undefined);
    await Deno.symlink("loop2", join(root, "loop1"));
    await Deno.symlink("loop1", join(root, "loop2"));
    assert.equal(resolveInside(root, "x", "loop1"), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("assertNoLinkInParents refuses a planted link, even one pointing inside", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(root, "sub"));
    assertNoLinkInParents(root, "bin/run_in_env", "env.tar"); // missing: fine
    await Deno.symlink("sub", join(root, "bin"));
    assert.throws(
      () => assertNoLinkInParents(root, "bin/run_in_env", "env.tar"),
      (e: unknown) =>
        e instanceof PonchoError &&
        e.message === "env.tar: refusing member bin: a symlink where poncho writes bin/run_in_env",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
