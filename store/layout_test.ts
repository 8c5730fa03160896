import assert from "node:assert/strict";
import { posix } from "node:path";
import { homedir } from "node:os";
import {
  BUCKET_FORMATS,
  bucketDirName,
  defaultStoreRoot,
  resolveStoreRoot,
  storeLayout,
} from "./layout.ts";
import { UsageError } from "../lib/errors.ts";

Deno.test("defaultStoreRoot: PONCHO_STORE, XDG_CACHE_HOME, HOME, then the passwd entry", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(defaultStoreRoot(env({ PONCHO_STORE: "/s", HOME: "/h" })), "/s", "explicit");
  assert.equal(defaultStoreRoot(env({ XDG_CACHE_HOME: "/x/", HOME: "/h" })), "/x/poncho", "xdg");
  assert.equal(defaultStoreRoot(env({ HOME: "/h" })), "/h/.cache/poncho", "home");
  assert.equal(defaultStoreRoot(env({})), posix.join(homedir(), ".cache", "poncho"), "passwd");
});

Deno.test("defaultStoreRoot is absolute: relative PONCHO_STORE resolved once, empty HOME an error", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  const cwd = () => "/work/here";
  assert.equal(defaultStoreRoot(env({ PONCHO_STORE: "./cache" }), cwd), "/work/here/cache");
  assert.equal(defaultStoreRoot(env({ PONCHO_STORE: "../c/" }), cwd), "/work/c/");
  // A relative XDG_CACHE_HOME is ignored, as the XDG specification says.
  assert.equal(
    defaultStoreRoot(env({ XDG_CACHE_HOME: "rel", HOME: "/h" }), cwd),
    "/h/.cache/poncho",
  );
  for (const home of ["", "relative/home"]) {
    assert.throws(
      () => defaultStoreRoot(env({ HOME: home }), cwd),
      (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.match(err.message, /^HOME is (empty|'relative\/home', not an absolute path);/);
        assert.match(err.message, /PONCHO_STORE or --store/);
        return true;
      },
    );
  }
  assert.throws(() => resolveStoreRoot(""), UsageError);
  assert.equal(resolveStoreRoot("/abs/s/"), "/abs/s/");
  assert.equal(resolveStoreRoot("rr"), posix.join(Deno.cwd(), "rr"));
});

Deno.test("storeLayout normalizes the root like node:path and makes it absolute", () => {
  for (const root of ["/s", "/s/", "s", "./s/../t", "/"]) {
    const layout = storeLayout(root);
    const abs = posix.resolve(root) + (root.endsWith("/") && root !== "/" ? "/" : "");
    assert.equal(layout.base, posix.join(abs, "v1"), `base of ${root}`);
    assert.equal(layout.envs, posix.join(abs, "v1", "envs"), `envs of ${root}`);
    assert.equal(layout.root, posix.join(abs), `root of ${root}`);
    assert.ok(layout.tmp.startsWith("/"));
  }
});

Deno.test("each bucket has its own format version; format 1 keeps the bare name", () => {
  const layout = storeLayout("/s");
  for (const [name, version] of Object.entries(BUCKET_FORMATS)) {
    const dir = (layout as unknown as Record<string, string>)[name];
    assert.equal(dir, version === 1 ? `/s/v1/${name}` : `/s/v1/${name}.v${version}`, name);
    assert.equal(bucketDirName(name as keyof typeof BUCKET_FORMATS), dir.slice("/s/v1/".length));
  }
});
