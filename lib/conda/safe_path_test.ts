import assert from "node:assert/strict";
import { withTempDir } from "../../tests/util.ts";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import {
  checkEntryPointName,
  checkLinkTarget,
  checkPackagePath,
  checkPathType,
  PrefixGuard,
} from "./safe_path.ts";

const refused = (re: RegExp) => (e: unknown) =>
  e instanceof PonchoError && e.exitCode === 3 && re.test(e.message) && !e.message.includes("\n");

Deno.test("checkPackagePath accepts relative paths and refuses '..', absolute, NUL, empty parts", () => {
  assert.equal(
    checkPackagePath("p", "lib/python3.11/site-packages/x.py", "f"),
    "lib/python3.11/site-packages/x.py",
  );
  assert.equal(checkPackagePath("p", "bin/a b", "f"), "bin/a b");
  const bad: [unknown, RegExp][] = [
    ["../x", /refusing path \.\.\/x: info\/files names a path with '\.\.'/],
    ["a/../../x", /'\.\.'/],
    ["/etc/passwd", /absolute path/],
    ["a\0b", /refusing path "a\\u0000b": .*NUL byte/],
    ["a//b", /empty or '\.' component/],
    ["a/./b", /empty or '\.' component/],
    ["a/", /empty or '\.' component/],
    ["", /empty or non-string/],
    [42, /empty or non-string/],
  ];
  for (const [path, re] of bad) {
    assert.throws(() => checkPackagePath("pkg-1-0", path, "info/files"), refused(re), String(path));
  }
  assert.throws(
    () => checkPackagePath("pkg-1-0", "../x", "info/files"),
    /^PonchoError: package pkg-1-0: /,
  );
});

Deno.test("checkPathType knows hardlink, softlink, directory only", () => {
  for (const t of ["hardlink", "softlink", "directory"]) {
    assert.equal(checkPathType("p", "x", t), t);
  }
  assert.throws(
    () => checkPathType("p", "x", "pyc_file"),
    refused(/refusing path x: .*path_type "pyc_file"/),
  );
});

Deno.test("checkEntryPointName: one safe component", () => {
  assert.equal(checkEntryPointName("p", "my-tool"), "my-tool");
  assert.throws(
    () => checkEntryPointName("p", "../../x"),
    refused(/entry point names a path with '\.\.'/),
  );
  assert.throws(() => checkEntryPointName("p", "/tmp/x"), refused(/absolute/));
  assert.throws(() => checkEntryPointName("p", "sub/x"), refused(/contains '\/'/));
});

Deno.test("checkLinkTarget: relative, normal form, resolving inside through the prefix's links", () =>
  withTempDir("poncho-test-", async (prefix) => {
    await Deno.mkdir(join(prefix, "lib/d"), { recursive: true });
    await Deno.symlink("..", join(prefix, "lib/d/up")); // -> lib
    await Deno.symlink("../../..", join(prefix, "lib/d/out")); // -> the prefix's parent
    checkLinkTarget("p", prefix, "lib/libx.so", "libx.so.1");
    checkLinkTarget("p", prefix, "bin/x", "../lib/d");
    checkLinkTarget("p", prefix, "a", "lib/d/up/d/up");
    assert.throws(() => checkLinkTarget("p", prefix, "a", "/bin/sh"), refused(/is absolute/));
    assert.throws(() => checkLinkTarget("p", prefix, "a/b", "../../x"), refused(/points outside/));
    assert.throws(
      () => checkLinkTarget("p", prefix, "a", "lib/d/out/x"),
      refused(/points outside/),
    );
    assert.throws(() => checkLinkTarget("p", prefix, "x", "d/y/.."), refused(/after a name/));
    assert.throws(() => checkLinkTarget("p", prefix, "x", ""), refused(/empty or invalid/));
  }));

Deno.test("PrefixGuard.mkdirp never makes a directory through a link leading out", () =>
  withTempDir("poncho-test-", async (dir) => {
    const prefix = join(dir, "env");
    await Deno.mkdir(join(dir, "victim"));
    const guard = new PrefixGuard("p", prefix);
    guard.mkdirp(join(prefix, "lib/python/site-packages"));
    assert.ok(Deno.statSync(join(prefix, "lib/python/site-packages")).isDirectory);
    await Deno.symlink("lib", join(prefix, "lib64"));
    guard.mkdirp(join(prefix, "lib64/inside")); // a link leading inside is fine
    await Deno.symlink("../victim", join(prefix, "out"));
    await Deno.symlink("../nowhere", join(prefix, "dangling"));
    assert.throws(
      () => guard.mkdirp(join(prefix, "out/a/b")),
      refused(/refusing path out: leads outside/),
    );
    assert.throws(() => guard.mkdirp(join(prefix, "dangling/a")), refused(/dangling/));
    assert.deepEqual(await Array.fromAsync(Deno.readDir(join(dir, "victim"))), []);
    await assert.rejects(Deno.lstat(join(dir, "nowhere")), Deno.errors.NotFound);
  }));
