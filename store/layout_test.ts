import assert from "node:assert/strict";
import { posix } from "node:path";
import { homedir } from "node:os";
import { defaultStoreRoot, joinPath, storeLayout } from "./layout.ts";

Deno.test("joinPath matches node:path posix.join", () => {
  const parts = [
    "",
    "/",
    "//",
    ".",
    "..",
    "a",
    "a/",
    "/a",
    "a//b",
    "./a",
    "../a",
    "a/..",
    "a/./b/",
  ];
  for (const x of parts) {
    assert.equal(joinPath(x), posix.join(x), `join(${x})`);
    for (const y of parts) {
      assert.equal(joinPath(x, y), posix.join(x, y), `join(${x}, ${y})`);
      for (const z of ["", "..", "c", "c/", "/c/../.."]) {
        assert.equal(joinPath(x, y, z), posix.join(x, y, z), `join(${x}, ${y}, ${z})`);
      }
    }
  }
  assert.equal(joinPath(), posix.join(), "join()");
});

Deno.test("defaultStoreRoot: PONCHO_STORE, XDG_CACHE_HOME, HOME, then the passwd entry", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(defaultStoreRoot(env({ PONCHO_STORE: "/s", HOME: "/h" })), "/s", "explicit");
  assert.equal(defaultStoreRoot(env({ XDG_CACHE_HOME: "/x/", HOME: "/h" })), "/x/poncho", "xdg");
  assert.equal(defaultStoreRoot(env({ HOME: "/h" })), "/h/.cache/poncho", "home");
  assert.equal(defaultStoreRoot(env({ HOME: "" })), ".cache/poncho", "empty home");
  assert.equal(defaultStoreRoot(env({})), posix.join(homedir(), ".cache", "poncho"), "passwd");
});

Deno.test("storeLayout normalizes the root like node:path", () => {
  for (const root of ["/s", "/s/", "s", "./s/../t", "/"]) {
    const layout = storeLayout(root);
    assert.equal(layout.base, posix.join(root, "v1"), `base of ${root}`);
    assert.equal(layout.envs, posix.join(root, "v1", "envs"), `envs of ${root}`);
    assert.equal(layout.root, root, `root of ${root}`);
  }
});
