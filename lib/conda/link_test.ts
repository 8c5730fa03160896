import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { PonchoError } from "../errors.ts";
import { indexOfBytes } from "../env/prefix.ts";
import { extractPackage } from "./extract.ts";
import { LEGACY_PLACEHOLDER, type PackageInfo, readPackageInfo } from "./package_info.ts";
import { entryPointScript, linkPackage, parseEntryPoint, type PathData } from "./link.ts";
import {
  buildTestChannel,
  PLACEHOLDER_LONG,
  type TestChannel,
} from "../../tests/fixtures/channel.ts";
import { fixtureTools, withTempDir } from "../../tests/util.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const tools = await fixtureTools("link_test: real-package tests");

// Real packages from the fixture channel, extracted once for this file.
let cacheDir: string | undefined;
const extracted = new Map<string, Promise<string>>();
globalThis.addEventListener("unload", () => {
  if (cacheDir) Deno.removeSync(cacheDir, { recursive: true });
});
let channel: TestChannel | undefined;
async function fixture(name: "hello" | "libgreet" | "oldtext" | "pyhello" | "python") {
  channel ??= await buildTestChannel();
  const ch = channel;
  const fn = {
    hello: "linux-64/hello-1.0-h0_poncho.conda",
    libgreet: "linux-64/libgreet-1.0-h0_poncho.conda",
    oldtext: "linux-64/oldtext-0.1-0.tar.bz2",
    pyhello: "noarch/pyhello-1.0-pyh0_poncho.conda",
    python: `linux-64/python-${ch.pythonVersion}-h0_poncho.conda`,
  }[name];
  if (!extracted.has(name)) {
    extracted.set(
      name,
      (async () => {
        cacheDir ??= Deno.makeTempDirSync({ prefix: "poncho-link-pkgs-" });
        const dest = join(cacheDir, name);
        await extractPackage(join(ch.dir, fn), dest);
        return dest;
      })(),
    );
  }
  return await readPackageInfo(await extracted.get(name)!);
}

/** One file of a hand-made extracted package. */
interface HandFile {
  path: string;
  content?: string | Uint8Array;
  link?: string;
  dir?: boolean;
  placeholder?: string;
  mode?: "text" | "binary";
  exec?: boolean;
  noLink?: boolean;
}

/** Writes a real extracted package directory (files + info/) and reads it back. */
async function makePackage(
  dir: string,
  name: string,
  files: HandFile[],
  extra: { noarch?: "python"; entryPoints?: string[]; legacyOnly?: boolean } = {},
): Promise<PackageInfo> {
  const paths: Record<string, unknown>[] = [];
  for (const f of files) {
    const abs = join(dir, f.path);
    if (f.dir) {
      await Deno.mkdir(abs, { recursive: true });
      paths.push({ _path: f.path, path_type: "directory" });
      continue;
    }
    await Deno.mkdir(dirname(abs), { recursive: true });
    if (f.link !== undefined) {
      await Deno.symlink(f.link, abs);
      paths.push({ _path: f.path, path_type: "softlink" });
      continue;
    }
    if (f.content !== undefined) {
      await Deno.writeFile(abs, typeof f.content === "string" ? enc.encode(f.content) : f.content);
      await Deno.chmod(abs, f.exec ? 0o755 : 0o644);
    }
    const e: Record<string, unknown> = { _path: f.path, path_type: "hardlink", size_in_bytes: 1 };
    if (f.placeholder) {
      e.prefix_placeholder = f.placeholder;
      e.file_mode = f.mode ?? "text";
    }
    if (f.noLink) e.no_link = true;
    paths.push(e);
  }
  await Deno.mkdir(join(dir, "info"), { recursive: true });
  const index: Record<string, unknown> = { name, version: "1.0", build: "0" };
  if (extra.noarch) index.noarch = extra.noarch;
  await Deno.writeTextFile(join(dir, "info/index.json"), JSON.stringify(index));
  await Deno.writeTextFile(join(dir, "info/paths.json"), JSON.stringify({ paths }));
  if (extra.noarch) {
    await Deno.writeTextFile(
      join(dir, "info/link.json"),
      JSON.stringify({ noarch: { type: "python", entry_points: extra.entryPoints ?? [] } }),
    );
  }
  return await readPackageInfo(dir);
}

function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("poncho-link-", fn);
}

async function run(
  cmd: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const ino = async (p: string) => (await Deno.stat(p)).ino;

/** A directory whose full path is exactly `length` bytes. */
function pathOfLength(base: string, length: number): string {
  let p = base;
  while (p.length < length) {
    const room = length - p.length - 1; // "/" + name
    p += "/" + "d".repeat(Math.min(room, 200));
  }
  assert.equal(p.length, length);
  return p;
}

Deno.test("parseEntryPoint accepts name = module:func and refuses anything else", () => {
  assert.deepEqual(parseEntryPoint("pip = pip._internal.cli.main:main"), {
    name: "pip",
    module: "pip._internal.cli.main",
    func: "main",
  });
  assert.deepEqual(parseEntryPoint("  tool-x=pkg:Cls.run  "), {
    name: "tool-x",
    module: "pkg",
    func: "Cls.run",
  });
  for (const bad of ["pip", "pip = pip", "a b = m:f", "x = m:f [extra]", "= m:f"]) {
    assert.throws(
      () => parseEntryPoint(bad),
      (e: Error) => e instanceof PonchoError && e.message.includes(`'${bad}'`),
      bad,
    );
  }
  const script = entryPointScript("/env/bin/python3.11", "pkg.cli", "App.main");
  assert.ok(script.startsWith("#!/env/bin/python3.11\n"));
  assert.match(script, /^from pkg\.cli import App$/m);
  assert.match(script, /sys\.exit\(App\.main\(\)\)/);
});

Deno.test("hardlinks regular files, recreates softlinks and empty dirs, records paths_data", async () => {
  await withTemp(async (dir) => {
    const info = await makePackage(join(dir, "pkg"), "demo", [
      { path: "bin/tool", content: "#!/bin/sh\necho tool\n", exec: true },
      { path: "bin/tool-alias", link: "tool" },
      { path: "lib/libdemo.so.1", content: "\x7fELF\0not really" },
      { path: "lib/libdemo.so", link: "libdemo.so.1" },
      { path: "share/demo/empty", dir: true },
    ]);
    const prefix = join(dir, "env");
    const res = await linkPackage(info, { prefix });
    assert.equal(res.linkType, "hardlink");
    assert.deepEqual(res.files, [
      "bin/tool",
      "bin/tool-alias",
      "lib/libdemo.so.1",
      "lib/libdemo.so",
      "share/demo/empty",
    ]);
    assert.deepEqual(res.pathsData.map((p) => [p._path, p.path_type]), [
      ["bin/tool", "hardlink"],
      ["bin/tool-alias", "softlink"],
      ["lib/libdemo.so.1", "hardlink"],
      ["lib/libdemo.so", "softlink"],
      ["share/demo/empty", "directory"],
    ]);
    assert.equal(res.pathsData[0].size_in_bytes, 1); // from paths.json
    for (const f of ["bin/tool", "lib/libdemo.so.1"]) {
      assert.equal(await ino(join(prefix, f)), await ino(join(info.dir, f)), `${f} is a hardlink`);
    }
    assert.equal(await Deno.readLink(join(prefix, "bin/tool-alias")), "tool");
    assert.equal(await Deno.readLink(join(prefix, "lib/libdemo.so")), "libdemo.so.1");
    assert.ok((await Deno.lstat(join(prefix, "share/demo/empty"))).isDirectory);
    assert.deepEqual([...Deno.readDirSync(join(prefix, "share/demo/empty"))], []);
    const ran = await run(join(prefix, "bin/tool-alias"));
    assert.equal(ran.stdout, "tool\n");
  });
});

Deno.test("copies instead of hardlinking when asked, for no_link files, and across devices", async () => {
  await withTemp(async (dir) => {
    const files: HandFile[] = [
      { path: "a.txt", content: "a\n" },
      { path: "b.txt", content: "b\n", noLink: true },
      { path: "c.sh", content: "#!/bin/sh\n", exec: true },
    ];
    const info = await makePackage(join(dir, "pkg"), "demo", files);

    const copied = await linkPackage(info, { prefix: join(dir, "copy"), hardlink: false });
    assert.equal(copied.linkType, "copy");
    for (const f of files) {
      const dst = join(dir, "copy", f.path);
      assert.notEqual(await ino(dst), await ino(join(info.dir, f.path)), f.path);
      assert.equal(await Deno.readTextFile(dst), f.content);
    }
    assert.equal((await Deno.stat(join(dir, "copy", "c.sh"))).mode! & 0o777, 0o755);

    const mixed = await linkPackage(info, { prefix: join(dir, "mixed") });
    // conda records the link type it asked for: no_link and placeholder files are copies anyway.
    assert.equal(mixed.linkType, "hardlink");
    assert.equal(await ino(join(dir, "mixed/a.txt")), await ino(join(info.dir, "a.txt")));
    assert.notEqual(await ino(join(dir, "mixed/b.txt")), await ino(join(info.dir, "b.txt")));
    assert.equal(await ino(join(dir, "mixed/c.sh")), await ino(join(info.dir, "c.sh")));
  });
});

const shm = (() => {
  try {
    const tmp = Deno.statSync(Deno.env.get("TMPDIR") ?? "/tmp");
    const dev = Deno.statSync("/dev/shm");
    return dev.isDirectory && dev.dev !== tmp.dev;
  } catch {
    return false;
  }
})();
if (!shm) console.log("link_test: /dev/shm is not a separate file system; EXDEV test skipped");

Deno.test({
  name: "falls back to copying when the package cache is on another file system (EXDEV)",
  ignore: !shm,
  async fn() {
    const pkgDir = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "poncho-link-" });
    try {
      await withTemp(async (dir) => {
        const info = await makePackage(join(pkgDir, "pkg"), "demo", [
          { path: "one", content: "1" },
          { path: "two", content: "2" },
        ]);
        const res = await linkPackage(info, { prefix: join(dir, "env") });
        assert.equal(res.linkType, "copy");
        assert.equal(await Deno.readTextFile(join(dir, "env/one")), "1");
        assert.equal(await Deno.readTextFile(join(dir, "env/two")), "2");
      });
    } finally {
      await Deno.remove(pkgDir, { recursive: true });
    }
  },
});

Deno.test("text placeholders: copied, every occurrence rewritten, mode kept, long shebang fixed", async () => {
  await withTemp(async (dir) => {
    const ph = "/opt/placeholder_path_for_text_mode";
    const info = await makePackage(join(dir, "pkg"), "demo", [
      {
        path: "bin/show",
        content: `#!${ph}/bin/mysh\necho "prefix=${ph} lib=${ph}/lib"\n`,
        placeholder: ph,
        exec: true,
      },
      { path: "etc/conf", content: `a=${ph}\n`, placeholder: ph, mode: "text" },
      // A shell of the package's own (an absolute link to /bin/sh would be refused).
      { path: "bin/mysh", content: '#!/bin/sh\nexec /bin/sh "$@"\n', exec: true },
    ]);
    // A prefix with a space and long enough that the shebang exceeds 127 bytes.
    const prefix = join(dir, "my env", "x".repeat(120));
    const res = await linkPackage(info, { prefix });
    assert.equal(res.linkType, "hardlink"); // as conda records it: the files are copies all the same
    const show = join(prefix, "bin/show");
    assert.notEqual(await ino(show), await ino(join(info.dir, "bin/show")));
    assert.equal((await Deno.stat(show)).mode! & 0o777, 0o755);
    const text = await Deno.readTextFile(show);
    assert.ok(!text.includes(ph));
    assert.ok(text.startsWith("#!/usr/bin/env mysh\n"), text); // the kernel could not run it
    assert.ok(text.includes(`echo "prefix=${prefix} lib=${prefix}/lib"`));
    assert.equal(await Deno.readTextFile(join(prefix, "etc/conf")), `a=${prefix}\n`);
    // The package cache keeps its pristine copy.
    assert.ok((await Deno.readTextFile(join(info.dir, "bin/show"))).includes(ph));
    const out = await run(show, [], { PATH: `${join(prefix, "bin")}:/usr/bin:/bin` });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, `prefix=${prefix} lib=${prefix}/lib\n`);
    const rec = res.pathsData.find((p) => p._path === "etc/conf")!;
    const placed = await Deno.readFile(join(prefix, "etc/conf"));
    assert.deepEqual(rec, {
      _path: "etc/conf",
      path_type: "hardlink",
      size_in_bytes: 1,
      prefix_placeholder: ph,
      file_mode: "text",
      sha256_in_prefix: createHash("sha256").update(placed).digest("hex"),
      size_in_prefix: placed.length,
    });
  });
});

Deno.test({
  name: "real hello: binary placeholder rewritten NUL-padded and the binary runs from the prefix",
  ignore: !tools.ok,
  async fn() {
    const hello = await fixture("hello");
    const libgreet = await fixture("libgreet");
    await withTemp(async (dir) => {
      const prefix = join(dir, "env with space");
      const lg = await linkPackage(libgreet, { prefix });
      assert.equal(lg.linkType, "hardlink");
      const res = await linkPackage(hello, { prefix });
      assert.equal(res.linkType, "hardlink"); // conda records 1 though placeholder files are copied
      const src = await Deno.readFile(join(hello.dir, "bin/hello"));
      const dst = await Deno.readFile(join(prefix, "bin/hello"));
      assert.equal(dst.length, src.length, "binary replacement keeps the file length");
      assert.ok(dec.decode(src).includes(PLACEHOLDER_LONG), "cache copy is pristine");
      assert.ok(!dec.decode(dst).includes(PLACEHOLDER_LONG));
      const at = indexOfBytes(dst, enc.encode(prefix + "\0"));
      assert.ok(at > 0);
      // The rest of the placeholder's space is NULs.
      assert.ok(dst.subarray(at + prefix.length, at + 255).every((b) => b === 0));
      assert.equal((await Deno.stat(join(prefix, "bin/hello"))).mode! & 0o777, 0o755);

      const out = await run(join(prefix, "bin/hello"));
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout, `prefix: ${prefix}\nHello from the hello package!\n`);
      const viaLink = await run(join(prefix, "bin/hello-link"));
      assert.equal(viaLink.stdout, out.stdout);
      assert.equal(await Deno.readLink(join(prefix, "bin/hello-link")), "hello");

      assert.equal(
        await Deno.readTextFile(join(prefix, "etc/hello.conf")),
        `prefix=${prefix}\ndata=${prefix}/share/hello\n`,
      );
      assert.equal(
        await ino(join(prefix, "share/hello/greeting.txt")),
        await ino(join(hello.dir, "share/hello/greeting.txt")),
      );
      assert.ok((await Deno.stat(join(prefix, "var/hello/empty"))).isDirectory);
      const bin = res.pathsData.find((p) => p._path === "bin/hello")!;
      assert.equal(bin.prefix_placeholder, PLACEHOLDER_LONG);
      assert.equal(bin.file_mode, "binary");
      assert.equal(bin.size_in_bytes, src.length);
      assert.match(bin.sha256!, /^[0-9a-f]{64}$/);
      assert.deepEqual(
        res.pathsData.find((p) => p._path === "var/hello/empty"),
        { _path: "var/hello/empty", path_type: "directory" },
      );
    });
  },
});

Deno.test({
  name: "real hello: a prefix of exactly 255 bytes fits; 256 bytes is a clear error",
  ignore: !tools.ok,
  async fn() {
    const hello = await fixture("hello");
    await withTemp(async (dir) => {
      const fits = pathOfLength(join(dir, "fits"), 255);
      await linkPackage(hello, { prefix: fits });
      const out = await run(join(fits, "bin/hello"));
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout, `prefix: ${fits}\nHello from the hello package!\n`);

      const tooLong = pathOfLength(join(dir, "long"), 256);
      await assert.rejects(
        linkPackage(hello, { prefix: tooLong }),
        (e: Error) =>
          e instanceof PonchoError &&
          e.message.includes("cannot install bin/hello") &&
          e.message.includes("(256 bytes) is longer than the binary placeholder (255 bytes)") &&
          e.message.endsWith("choose a shorter prefix"),
      );
      // Nothing half-written at the binary's place.
      await assert.rejects(Deno.lstat(join(tooLong, "bin/hello")), Deno.errors.NotFound);
    });
  },
});

Deno.test({
  name: "real legacy package: has_prefix text placeholders rewritten, plain files hardlinked",
  ignore: !tools.ok,
  async fn() {
    const old = await fixture("oldtext");
    await withTemp(async (dir) => {
      const prefix = join(dir, "env");
      const res = await linkPackage(old, { prefix });
      assert.equal(
        await Deno.readTextFile(join(prefix, "share/oldtext/config.txt")),
        `home=${prefix}/share/oldtext\n`,
      );
      assert.equal(
        await Deno.readTextFile(join(prefix, "share/oldtext/other.txt")),
        `bin=${prefix}/bin\n`,
      );
      assert.equal(
        await ino(join(prefix, "share/oldtext/plain.txt")),
        await ino(join(old.dir, "share/oldtext/plain.txt")),
      );
      assert.deepEqual(
        res.pathsData.map((p) => p.prefix_placeholder),
        [LEGACY_PLACEHOLDER, LEGACY_PLACEHOLDER, undefined],
      );
    });
  },
});

Deno.test({
  name: "noarch python: remapped paths, python-scripts, entry points that run (long prefix)",
  ignore: !tools.ok,
  async fn() {
    const python = await fixture("python");
    const pyhello = await fixture("pyhello");
    const short = channel!.pythonShort;
    await withTemp(async (dir) => {
      // Spaces and > 127 bytes: every shebang needs the /bin/sh trampoline.
      const prefix = join(dir, "py env", "p".repeat(110));
      await linkPackage(python, { prefix });
      const res = await linkPackage(pyhello, { prefix, pythonVersion: short });
      assert.deepEqual(res.files, [
        `lib/python${short}/site-packages/pyhello/__init__.py`,
        "bin/pyhello",
      ]);
      assert.deepEqual(res.pathsData.at(-1), {
        _path: "bin/pyhello",
        path_type: "unix_python_entry_point",
      });
      assert.equal(
        await ino(join(prefix, `lib/python${short}/site-packages/pyhello/__init__.py`)),
        await ino(join(pyhello.dir, "site-packages/pyhello/__init__.py")),
      );
      assert.equal((await Deno.stat(join(prefix, "bin/pyhello"))).mode! & 0o777, 0o755);
      const script = await Deno.readTextFile(join(prefix, "bin/pyhello"));
      assert.ok(script.startsWith("#!/bin/sh\n"), script);
      assert.ok(script.includes(`"${prefix}/bin/python${short}"`));
      const out = await run(join(prefix, "bin/pyhello"), [], { PATH: "/usr/bin:/bin" });
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout, "hello from pyhello\n");

      // A hand-made noarch package: python-scripts, a dotted entry point, exit codes.
      const ph = "/opt/anaconda1anaconda2anaconda3";
      const hand = await makePackage(join(dir, "hand"), "handpy", [
        {
          path: "site-packages/handpy/__init__.py",
          content: "import sys\nclass App:\n    @staticmethod\n" +
            "    def run():\n        print('args', sys.argv[1:])\n        return 7\n",
        },
        {
          path: "python-scripts/handpy-script",
          content: `#!${ph}/bin/python${short}\nimport sys\nprint(sys.prefix)\n`,
          placeholder: ph,
          exec: true,
        },
        { path: "share/handpy/data.txt", content: "data\n" },
      ], { noarch: "python", entryPoints: ["handpy = handpy:App.run"] });
      const r2 = await linkPackage(hand, { prefix, pythonVersion: short });
      assert.deepEqual(r2.files, [
        `lib/python${short}/site-packages/handpy/__init__.py`,
        "bin/handpy-script",
        "share/handpy/data.txt",
        "bin/handpy",
      ]);
      const ep = await run(join(prefix, "bin/handpy"), ["a", "b c"]);
      assert.equal(ep.code, 7, ep.stderr);
      assert.equal(ep.stdout, "args ['a', 'b c']\n");
      const scr = await run(join(prefix, "bin/handpy-script"));
      assert.equal(scr.code, 0, scr.stderr);
      assert.equal(scr.stdout, `${prefix}\n`);

      // noarch: python needs the environment's Python version.
      await assert.rejects(
        linkPackage(hand, { prefix: join(dir, "nopy") }),
        (e: Error) =>
          e instanceof PonchoError && /handpy-1.0-0 is a noarch: python package/.test(e.message) &&
          /add python to the spec/.test(e.message),
      );
    });
  },
});

Deno.test("a file listed in the metadata but missing from the package is a PonchoError", async () => {
  await withTemp(async (dir) => {
    const base: HandFile[] = [{ path: "present", content: "x" }];
    const plain = await makePackage(join(dir, "a"), "lacking", [...base, { path: "gone" }]);
    const withPh = await makePackage(join(dir, "b"), "lacking", [
      ...base,
      { path: "gone", placeholder: "/opt/ph" },
    ]);
    const softlink = await makePackage(join(dir, "c"), "lacking", [
      ...base,
      { path: "gone", link: "present" },
    ]);
    await Deno.remove(join(dir, "c", "gone"));
    const cases: [string, PackageInfo, boolean][] = [
      ["hardlink", plain, true],
      ["copy", plain, false],
      ["placeholder", withPh, true],
      ["softlink", softlink, true],
    ];
    for (const [what, info, hardlink] of cases) {
      await assert.rejects(
        linkPackage(info, { prefix: join(dir, `env-${what}`), hardlink }),
        (e: Error) =>
          e instanceof PonchoError &&
          e.message === "package lacking-1.0-0 lacks gone listed in its metadata",
        what,
      );
    }
  });
});

Deno.test("linking over an existing file replaces it and never writes through into the cache", async () => {
  await withTemp(async (dir) => {
    const ph = "/opt/placeholder";
    const a = await makePackage(join(dir, "a"), "a", [
      { path: "etc/shared.conf", content: "from a\n" },
      { path: "bin/tool", content: "a tool\n" },
    ]);
    const b = await makePackage(join(dir, "b"), "b", [
      { path: "etc/shared.conf", content: `from b at ${ph}\n`, placeholder: ph },
      { path: "bin/tool", link: "../etc/shared.conf" },
    ]);
    const prefix = join(dir, "env");
    await linkPackage(a, { prefix });
    assert.equal(
      await ino(join(prefix, "etc/shared.conf")),
      await ino(join(a.dir, "etc/shared.conf")),
    );
    await linkPackage(b, { prefix });
    assert.equal(await Deno.readTextFile(join(prefix, "etc/shared.conf")), `from b at ${prefix}\n`);
    assert.equal(await Deno.readLink(join(prefix, "bin/tool")), "../etc/shared.conf");
    // a's package-cache files are untouched.
    assert.equal(await Deno.readTextFile(join(a.dir, "etc/shared.conf")), "from a\n");
    assert.equal(await Deno.readTextFile(join(a.dir, "bin/tool")), "a tool\n");
    // Linking the same package again is idempotent.
    const again = await linkPackage(a, { prefix });
    assert.deepEqual(again.files, ["etc/shared.conf", "bin/tool"]);
    assert.equal(await Deno.readTextFile(join(prefix, "bin/tool")), "a tool\n");
    assert.equal((await Deno.lstat(join(prefix, "bin/tool"))).isSymlink, false);
  });
});

Deno.test("paths_data carries sha256 and size from paths.json", async () => {
  await withTemp(async (dir) => {
    const pkg = join(dir, "pkg");
    await Deno.mkdir(join(pkg, "info"), { recursive: true });
    await Deno.writeTextFile(join(pkg, "f"), "hello");
    await Deno.writeTextFile(
      join(pkg, "info/index.json"),
      '{"name":"s","version":"1","build":"0"}',
    );
    const sha = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    await Deno.writeTextFile(
      join(pkg, "info/paths.json"),
      JSON.stringify({
        paths: [{ _path: "f", path_type: "hardlink", sha256: sha, size_in_bytes: 5 }],
      }),
    );
    const res = await linkPackage(await readPackageInfo(pkg), { prefix: join(dir, "env") });
    const expected: PathData[] = [{
      _path: "f",
      path_type: "hardlink",
      sha256: sha,
      sha256_in_prefix: sha,
      size_in_bytes: 5,
    }];
    assert.deepEqual(res.pathsData, expected);
  });
});
