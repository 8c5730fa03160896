import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { PonchoError } from "../errors.ts";
import { extractPackage } from "./extract.ts";
import {
  LEGACY_PLACEHOLDER,
  legacyPaths,
  readPackageInfo,
  splitHasPrefixLine,
} from "./package_info.ts";
import {
  buildTestChannel,
  PLACEHOLDER_LONG,
  PLACEHOLDER_SHORT,
} from "../../tests/fixtures/channel.ts";
import { fixtureTools, withTempDir } from "../../tests/util.ts";

const tools = await fixtureTools("package_info_test: real-package tests");

/** Writes `files` (path -> text, or {link} for a symlink) under `dir`. */
async function writeTree(
  dir: string,
  files: Record<string, string | { link: string }>,
): Promise<void> {
  for (const [rel, body] of Object.entries(files)) {
    const abs = join(dir, rel);
    await Deno.mkdir(dirname(abs), { recursive: true });
    if (typeof body === "string") await Deno.writeTextFile(abs, body);
    else await Deno.symlink(body.link, abs);
  }
}

function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("poncho-pkginfo-", fn);
}

const INDEX = JSON.stringify({
  name: "demo",
  version: "1.2",
  build: "h1_0",
  build_number: 0,
  depends: ["libx >=1"],
  subdir: "linux-64",
  license: "MIT",
});

Deno.test("splitHasPrefixLine honours double and single quotes", () => {
  assert.deepEqual(splitHasPrefixLine("bin/tool"), ["bin/tool"]);
  assert.deepEqual(splitHasPrefixLine("/opt/ph text bin/tool"), ["/opt/ph", "text", "bin/tool"]);
  assert.deepEqual(
    splitHasPrefixLine(`"/opt/a b" binary 'lib/with space.so'`),
    ["/opt/a b", "binary", "lib/with space.so"],
  );
  assert.deepEqual(splitHasPrefixLine("  spaced   out  "), ["spaced", "out"]);
  assert.deepEqual(splitHasPrefixLine(""), []);
});

Deno.test("legacyPaths: one-token has_prefix lines use the legacy placeholder in text mode", () => {
  const files = "bin/a\r\nbin/b\n\nshare/c d.txt\nshare/plain\nlib/nolink.so\n";
  const hasPrefix = [
    "bin/a",
    `/opt/custom binary bin/b`,
    `"/opt/q x" text "share/c d.txt"`,
    "not/listed/in/files",
    "", // blank lines ignored
  ].join("\n");
  const entries = legacyPaths(files, hasPrefix, "lib/nolink.so\n\n");
  assert.deepEqual(entries, [
    { path: "bin/a", type: "hardlink", placeholder: LEGACY_PLACEHOLDER, fileMode: "text" },
    { path: "bin/b", type: "hardlink", placeholder: "/opt/custom", fileMode: "binary" },
    { path: "share/c d.txt", type: "hardlink", placeholder: "/opt/q x", fileMode: "text" },
    { path: "share/plain", type: "hardlink" },
    { path: "lib/nolink.so", type: "hardlink", noLink: true },
  ]);
  assert.equal(LEGACY_PLACEHOLDER, PLACEHOLDER_SHORT);
  // An unquoted path with spaces in a 3-token line is joined back together.
  assert.deepEqual(legacyPaths("a b c\n", "/ph text a b c\n"), [
    { path: "a b c", type: "hardlink", placeholder: "/ph", fileMode: "text" },
  ]);
  assert.deepEqual(legacyPaths(""), []);
});

Deno.test("readPackageInfo reads paths.json with every field, in order", async () => {
  await withTemp(async (dir) => {
    const paths = [
      { _path: "bin/tool", path_type: "hardlink", sha256: "ab".repeat(32), size_in_bytes: 12 },
      {
        _path: "bin/compiled",
        path_type: "hardlink",
        prefix_placeholder: "/ph/long",
        file_mode: "binary",
        size_in_bytes: 4,
      },
      { _path: "etc/conf", path_type: "hardlink", prefix_placeholder: "/ph/long" }, // no mode
      { _path: "lib/link.so", path_type: "softlink" },
      { _path: "share/empty", path_type: "directory" },
      { _path: "share/copied", path_type: "hardlink", no_link: true },
      { _path: "share/untyped" }, // path_type missing: a regular file
    ];
    await writeTree(dir, {
      "info/index.json": INDEX,
      "info/paths.json": JSON.stringify({ paths, paths_version: 1 }),
      // Legacy files present too: paths.json wins.
      "info/files": "ignored/file\n",
      "info/has_prefix": "ignored/file\n",
    });
    const info = await readPackageInfo(dir);
    assert.equal(info.dir, dir);
    assert.equal(info.index.name, "demo");
    assert.equal(info.index.version, "1.2");
    assert.equal(info.index.build, "h1_0");
    assert.deepEqual(info.index.depends, ["libx >=1"]);
    assert.equal(info.index.license, "MIT"); // other fields kept
    assert.equal(info.noarch, undefined);
    assert.deepEqual(info.entryPoints, []);
    assert.deepEqual(info.paths, [
      { path: "bin/tool", type: "hardlink", sha256: "ab".repeat(32), size: 12 },
      {
        path: "bin/compiled",
        type: "hardlink",
        size: 4,
        placeholder: "/ph/long",
        fileMode: "binary",
      },
      { path: "etc/conf", type: "hardlink", placeholder: "/ph/long", fileMode: "text" },
      { path: "lib/link.so", type: "softlink" },
      { path: "share/empty", type: "directory" },
      { path: "share/copied", type: "hardlink", noLink: true },
      { path: "share/untyped", type: "hardlink" },
    ]);
  });
});

Deno.test("readPackageInfo: legacy metadata, symlinks detected on disk", async () => {
  await withTemp(async (dir) => {
    await writeTree(dir, {
      "info/index.json": INDEX,
      "info/files": "bin/real\nbin/alias\nshare/data.txt\n",
      "info/has_prefix": `share/data.txt\n'/opt/other' binary bin/real\n`,
      "info/no_link": "share/data.txt\n",
      "bin/real": "x",
      "bin/alias": { link: "real" },
      "share/data.txt": `home=${LEGACY_PLACEHOLDER}\n`,
    });
    const info = await readPackageInfo(dir);
    assert.deepEqual(info.paths, [
      { path: "bin/real", type: "hardlink", placeholder: "/opt/other", fileMode: "binary" },
      { path: "bin/alias", type: "softlink" },
      {
        path: "share/data.txt",
        type: "hardlink",
        placeholder: LEGACY_PLACEHOLDER,
        fileMode: "text",
        noLink: true,
      },
    ]);
  });
});

Deno.test("readPackageInfo: a package with neither paths.json nor info/files has no paths", async () => {
  await withTemp(async (dir) => {
    await writeTree(dir, { "info/index.json": INDEX });
    assert.deepEqual((await readPackageInfo(dir)).paths, []);
  });
});

Deno.test("readPackageInfo: noarch from link.json or from index.json", async () => {
  await withTemp(async (dir) => {
    const index = (extra: Record<string, unknown>) =>
      JSON.stringify({ name: "n", version: "1", build: "0", ...extra });
    await writeTree(dir, {
      "a/info/index.json": index({ noarch: "python" }),
      "a/info/link.json": JSON.stringify({
        noarch: { type: "python", entry_points: ["a = a.cli:main", "b = b:run"] },
        package_metadata_version: 1,
      }),
      "b/info/index.json": index({ noarch: "python" }), // no link.json
      "c/info/index.json": index({ noarch: "generic" }),
      "d/info/index.json": index({}),
      "d/info/link.json": JSON.stringify({ noarch: { type: "python" } }), // index lacks noarch
      "e/info/index.json": index({ noarch: "something-else" }),
    });
    const a = await readPackageInfo(join(dir, "a"));
    assert.equal(a.noarch, "python");
    assert.deepEqual(a.entryPoints, ["a = a.cli:main", "b = b:run"]);
    const b = await readPackageInfo(join(dir, "b"));
    assert.equal(b.noarch, "python");
    assert.deepEqual(b.entryPoints, []);
    assert.equal((await readPackageInfo(join(dir, "c"))).noarch, "generic");
    const d = await readPackageInfo(join(dir, "d"));
    assert.equal(d.noarch, "python");
    assert.deepEqual(d.entryPoints, []);
    assert.equal((await readPackageInfo(join(dir, "e"))).noarch, undefined);
  });
});

Deno.test("readPackageInfo: missing or malformed metadata is a PonchoError naming the file", async () => {
  await withTemp(async (dir) => {
    await Deno.mkdir(join(dir, "none"));
    await assert.rejects(
      readPackageInfo(join(dir, "none")),
      (e: Error) =>
        e instanceof PonchoError && /no info\/index\.json: not a conda package/.test(e.message),
    );
    await assert.rejects(
      readPackageInfo(join(dir, "does-not-exist")),
      (e: Error) => e instanceof PonchoError && /no info\/index\.json/.test(e.message),
    );
    await writeTree(dir, {
      "badindex/info/index.json": "{ not json",
      "badpaths/info/index.json": INDEX,
      "badpaths/info/paths.json": '{"paths": [',
      "badlink/info/index.json": INDEX,
      "badlink/info/link.json": "noarch: python",
    });
    await assert.rejects(
      readPackageInfo(join(dir, "badindex")),
      (e: Error) => e instanceof PonchoError && e.message.includes("badindex/info/index.json"),
    );
    await assert.rejects(
      readPackageInfo(join(dir, "badpaths")),
      (e: Error) => e instanceof PonchoError && e.message.includes("badpaths/info/paths.json"),
    );
    await assert.rejects(
      readPackageInfo(join(dir, "badlink")),
      (e: Error) => e instanceof PonchoError && e.message.includes("badlink/info/link.json"),
    );
  });
});

Deno.test({
  name: "readPackageInfo on real packages: .conda with paths.json, legacy .tar.bz2, noarch python",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withTemp(async (dir) => {
      await extractPackage(join(ch.dir, "linux-64", "hello-1.0-h0_poncho.conda"), join(dir, "h"));
      await extractPackage(join(ch.dir, "linux-64", "oldtext-0.1-0.tar.bz2"), join(dir, "o"));
      await extractPackage(join(ch.dir, "noarch", "pyhello-1.0-pyh0_poncho.conda"), join(dir, "p"));

      const hello = await readPackageInfo(join(dir, "h"));
      assert.equal(hello.index.name, "hello");
      assert.deepEqual(hello.index.depends, ["libgreet >=1.0,<2"]);
      assert.equal(hello.noarch, undefined);
      const byPath = new Map(hello.paths.map((p) => [p.path, p]));
      assert.deepEqual([...byPath.keys()].sort(), [
        "bin/hello",
        "bin/hello-link",
        "etc/hello.conf",
        "share/hello/greeting.txt",
        "var/hello/empty",
      ]);
      const bin = byPath.get("bin/hello")!;
      assert.equal(bin.type, "hardlink");
      assert.equal(bin.placeholder, PLACEHOLDER_LONG);
      assert.equal(bin.placeholder!.length, 255);
      assert.equal(bin.fileMode, "binary");
      assert.equal(bin.size, (await Deno.stat(join(dir, "h", "bin/hello"))).size);
      assert.match(bin.sha256!, /^[0-9a-f]{64}$/);
      assert.deepEqual(
        {
          placeholder: byPath.get("etc/hello.conf")!.placeholder,
          mode: byPath.get("etc/hello.conf")!.fileMode,
        },
        { placeholder: PLACEHOLDER_LONG, mode: "text" },
      );
      assert.equal(byPath.get("bin/hello-link")!.type, "softlink");
      assert.equal(byPath.get("var/hello/empty")!.type, "directory");
      assert.equal(byPath.get("share/hello/greeting.txt")!.placeholder, undefined);

      const old = await readPackageInfo(join(dir, "o"));
      assert.deepEqual(old.paths, [
        {
          path: "share/oldtext/config.txt",
          type: "hardlink",
          placeholder: PLACEHOLDER_SHORT,
          fileMode: "text",
        },
        {
          path: "share/oldtext/other.txt",
          type: "hardlink",
          placeholder: PLACEHOLDER_SHORT,
          fileMode: "text",
        },
        { path: "share/oldtext/plain.txt", type: "hardlink" },
      ]);

      const py = await readPackageInfo(join(dir, "p"));
      assert.equal(py.noarch, "python");
      assert.deepEqual(py.entryPoints, ["pyhello = pyhello:main"]);
      assert.deepEqual(py.paths.map((p) => p.path), ["site-packages/pyhello/__init__.py"]);
    });
  },
});
