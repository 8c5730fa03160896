import assert from "node:assert/strict";
import { posix } from "node:path";
import { absolutePath, joinPath, normalizePath } from "./path.ts";

const PARTS = ["", "/", "//", ".", "..", "a", "a/", "/a", "a//b", "./a", "../a", "a/..", "a/./b/"];

Deno.test("joinPath matches node:path posix.join", () => {
  for (const x of PARTS) {
    assert.equal(joinPath(x), posix.join(x), `join(${x})`);
    for (const y of PARTS) {
      assert.equal(joinPath(x, y), posix.join(x, y), `join(${x}, ${y})`);
      for (const z of ["", "..", "c", "c/", "/c/../.."]) {
        assert.equal(joinPath(x, y, z), posix.join(x, y, z), `join(${x}, ${y}, ${z})`);
      }
    }
  }
  assert.equal(joinPath(), posix.join(), "join()");
});

Deno.test("normalizePath matches node:path posix.normalize", () => {
  for (const x of PARTS) {
    for (const y of PARTS) {
      const p = `${x}${y}`;
      assert.equal(normalizePath(p), posix.normalize(p), `normalize(${p})`);
    }
  }
});

Deno.test("absolutePath: against cwd, normalised, no trailing slash, never above /", () => {
  assert.equal(absolutePath("x/../y/", "/w/d"), "/w/d/y");
  assert.equal(absolutePath("/a//b/./c/"), "/a/b/c");
  assert.equal(absolutePath("../../../..", "/w"), "/");
  assert.equal(absolutePath("/"), "/");
  assert.equal(absolutePath("."), posix.resolve("."));
  assert.equal(absolutePath("sub/f.txt"), posix.resolve("sub/f.txt"));
});
