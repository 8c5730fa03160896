import assert from "node:assert/strict";
import zlib from "node:zlib";
import { dirname, join } from "node:path";
import { PonchoError, UsageError } from "../errors.ts";
import { readTar } from "../archive/tar.ts";
import { openDecompressed } from "../archive/compress.ts";
import { extractPackage } from "../conda/extract.ts";
import { readPackageInfo } from "../conda/package_info.ts";
import { linkPackage } from "../conda/link.ts";
import { writeMetaRecord } from "../conda/meta.ts";
import { type EnvManifest, MANIFEST_FORMAT, MANIFEST_PATH } from "./manifest.ts";
import {
  packPrefix,
  type PackResult,
  prefixManifest,
  type PristineFile,
  walkPrefix,
} from "./pack.ts";
import { relocateBytes } from "./relocate.ts";
import { unpackArchive } from "./unpack.ts";
import { zstdFrames } from "../archive/zstd_frame.ts";
import { ZSTD_FRAME_SIZE } from "../archive/zstd_compress.ts";
import {
  buildTestChannel,
  fixtureToolsAvailable,
  PLACEHOLDER_LONG,
  PLACEHOLDER_SHORT,
} from "../../tests/fixtures/channel.ts";
import { collectBytes, hasCommand, randomBytes, withTempDir } from "../../tests/util.ts";
import { planTarFrames, tarFrameJob } from "../archive/tar_frames.ts";
import type { TarWriteEntry } from "../archive/tar_writer.ts";

const enc = new TextEncoder();

async function* toAsync(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}
const dec = new TextDecoder();

const tools = await fixtureToolsAvailable();
if (!tools.ok) {
  console.log(`pack_test: missing ${tools.missing.join(", ")}; real-package test skipped`);
}
const mkfifo = hasCommand("mkfifo");
if (!mkfifo) console.log("pack_test: mkfifo not found; FIFO test skipped");
const gnuTar = hasCommand("tar");
if (!gnuTar) console.log("pack_test: tar not found; GNU tar cross-check skipped");
const zstdCli = hasCommand("zstd");
if (!zstdCli) console.log("pack_test: zstd not found; multi-frame cross-check skipped");

const BASE_MANIFEST = {
  format: MANIFEST_FORMAT,
  id: "test-env-id",
  platform: "linux-64",
  created: "2024-05-06T07:08:09.000Z",
  poncho: "0.0.0-test",
};

interface Member {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  linkname: string;
  body?: Uint8Array;
}

/** Reads an archive back with our own reader, bodies included. */
async function readArchive(path: string): Promise<Member[]> {
  const out: Member[] = [];
  for await (const e of readTar(openDecompressed(path), { name: path })) {
    const m: Member = {
      path: e.path,
      type: e.type,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      uname: e.uname,
      gname: e.gname,
      mtime: e.mtime,
      linkname: e.linkname,
    };
    if (e.type === "file") m.body = new Uint8Array(await e.bytes()); // a plain copy (the reader may give Buffers)
    out.push(m);
  }
  return out;
}

async function write(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeFile(path, typeof data === "string" ? enc.encode(data) : data);
  await Deno.chmod(path, mode);
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

/** A hand-made installed prefix with every kind of member; returns the pristine map. */
async function makePrefix(prefix: string, cache: string): Promise<Map<string, PristineFile>> {
  await write(join(prefix, "bin/tool"), `#!${prefix}/bin/python3\nprint("hi")\n`, 0o755);
  await Deno.symlink("tool", join(prefix, "bin/tool-link"));
  await write(join(prefix, "bin/suid"), "s", 0o4755);
  await write(
    join(prefix, "lib/libx.so"),
    new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, ...enc.encode(`${prefix}/lib`), 0, 1, 2]),
  );
  await write(
    join(prefix, "lib/python3.11/__pycache__/m.cpython-311.pyc"),
    new Uint8Array([0xa7, 0x0d, 0x0d, 0x0a, 0, ...enc.encode(`${prefix}/lib/python3.11/m.py`)]),
  );
  await write(join(prefix, "share/plain.txt"), "no prefix here\n");
  await Deno.utime(join(prefix, "share/plain.txt"), 1_000_000_000, 1_234_567_890);
  await Deno.mkdir(join(prefix, "var/empty"), { recursive: true });
  // Installed copy (rewritten) and its pristine package-cache copy.
  await write(join(prefix, "etc/app.conf"), `root=${prefix}\n`);
  await write(join(cache, "etc/app.conf"), `root=${PLACEHOLDER_LONG}\n`);
  // Local state of an unpacked copy is never archived; other .poncho files are.
  await write(join(prefix, MANIFEST_PATH), '{"stale": true}');
  await write(join(prefix, ".poncho/ready.json"), "{}");
  await write(join(prefix, ".poncho/keep.txt"), "kept\n");
  return new Map([
    ["etc/app.conf", {
      source: join(cache, "etc/app.conf"),
      placeholder: PLACEHOLDER_LONG,
      mode: "text",
    }],
  ]);
}

Deno.test("walkPrefix lists in sorted order, parents first, without local state", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const prefix = join(dir, "env");
    await makePrefix(prefix, join(dir, "cache"));
    const walked = walkPrefix(prefix);
    assert.deepEqual(walked.map((w) => [w.rel, w.kind]), [
      [".poncho", "directory"],
      [".poncho/keep.txt", "file"],
      ["bin", "directory"],
      ["bin/suid", "file"],
      ["bin/tool", "file"],
      ["bin/tool-link", "symlink"],
      ["etc", "directory"],
      ["etc/app.conf", "file"],
      ["lib", "directory"],
      ["lib/libx.so", "file"],
      ["lib/python3.11", "directory"],
      ["lib/python3.11/__pycache__", "directory"],
      ["lib/python3.11/__pycache__/m.cpython-311.pyc", "file"],
      ["share", "directory"],
      ["share/plain.txt", "file"],
      ["var", "directory"],
      ["var/empty", "directory"],
    ]);
    assert.equal(walked[0].abs, join(prefix, ".poncho"));
  });
});

Deno.test("packPrefix: manifest first, sorted members, owners normalised, relocation records", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const prefix = join(dir, "build env");
    const pristine = await makePrefix(prefix, join(dir, "cache"));
    const output = join(dir, "out", "env.tar.zst");
    await Deno.mkdir(dirname(output));
    const res = await packPrefix({ prefix, output, manifest: BASE_MANIFEST, pristine });

    assert.deepEqual(names(dirname(output)), ["env.tar.zst"]); // no temp file left
    assert.equal(res.bytes, (await Deno.stat(output)).size);
    const members = await readArchive(output);
    assert.equal(res.members, members.length);

    // The manifest is the first member, exactly as returned.
    assert.equal(members[0].path, MANIFEST_PATH);
    assert.equal(members[0].type, "file");
    assert.equal(members[0].mode, 0o644);
    assert.equal(members[0].mtime, Date.parse(BASE_MANIFEST.created) / 1000);
    const manifest: EnvManifest = JSON.parse(dec.decode(members[0].body));
    assert.deepEqual(manifest, res.manifest);
    assert.deepEqual(manifest, {
      ...BASE_MANIFEST,
      buildPrefix: prefix,
      relocations: [
        { path: "bin/tool", placeholder: prefix, mode: "text" },
        { path: "etc/app.conf", placeholder: PLACEHOLDER_LONG, mode: "text" },
        { path: "lib/libx.so", placeholder: prefix, mode: "binary" },
      ],
    });

    // Then the rest in walk order; the stale manifest and ready.json are not archived,
    // and no `.poncho` directory entry comes before the manifest.
    assert.deepEqual(
      members.slice(1).map((m) => m.path),
      walkPrefix(prefix).map((w) => w.rel).filter((p) => p !== ".poncho"),
    );
    assert.equal(members.filter((m) => m.path === MANIFEST_PATH).length, 1);
    for (const m of members) {
      assert.deepEqual([m.uid, m.gid, m.uname, m.gname], [0, 0, "", ""], m.path);
    }
    const by = new Map(members.map((m) => [m.path, m]));
    // Bodies: pristine file from the cache, everything else from the prefix.
    assert.equal(dec.decode(by.get("etc/app.conf")!.body), `root=${PLACEHOLDER_LONG}\n`);
    assert.equal(dec.decode(by.get("bin/tool")!.body), `#!${prefix}/bin/python3\nprint("hi")\n`);
    assert.deepEqual(by.get("lib/libx.so")!.body, await Deno.readFile(join(prefix, "lib/libx.so")));
    assert.equal(dec.decode(by.get(".poncho/keep.txt")!.body), "kept\n");
    // Modes, links, directories, mtimes.
    assert.equal(by.get("bin/tool")!.mode, 0o755);
    assert.equal(by.get("bin/suid")!.mode, 0o4755);
    assert.equal(by.get("share/plain.txt")!.mode, 0o644);
    assert.equal(by.get("share/plain.txt")!.mtime, 1_234_567_890);
    assert.deepEqual([by.get("bin/tool-link")!.type, by.get("bin/tool-link")!.linkname], [
      "symlink",
      "tool",
    ]);
    assert.equal(by.get("var/empty")!.type, "directory");
    // The .pyc holds the build prefix but is never a relocation.
    assert.ok(
      dec.decode(by.get("lib/python3.11/__pycache__/m.cpython-311.pyc")!.body).includes(prefix),
    );
  });
});

Deno.test("packPrefix writes .tar.zst, .tar.gz, .tgz and .tar with the same members", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const prefix = join(dir, "env");
    const pristine = await makePrefix(prefix, join(dir, "cache"));
    const listings: string[][] = [];
    for (const name of ["e.tar.zst", "e.tar.gz", "e.tgz", "e.tar"]) {
      const output = join(dir, name);
      await packPrefix({ prefix, output, manifest: BASE_MANIFEST, pristine, level: 3 });
      const members = await readArchive(output);
      // Only the plain .tar's manifest records per-file digests (it has no checksum of its own).
      const manifest = JSON.parse(new TextDecoder().decode(members[0].body));
      assert.equal(manifest.digests !== undefined, name === "e.tar", name);
      if (manifest.digests) {
        assert.equal(manifest.digests["bin/suid"], await sha256File(join(prefix, "bin/suid")));
      }
      listings.push(
        members.map((m) =>
          `${m.type} ${m.path} ${m.path === MANIFEST_PATH ? "" : m.body?.length ?? ""}`
        ),
      );
    }
    for (const l of listings.slice(1)) assert.deepEqual(l, listings[0]);
    const head = await Deno.readFile(join(dir, "e.tar.gz"));
    assert.deepEqual([head[0], head[1]], [0x1f, 0x8b]);
    const zst = await Deno.readFile(join(dir, "e.tar.zst"));
    assert.deepEqual([...zst.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
    if (gnuTar) {
      // GNU tar agrees: manifest first, symlink kept.
      const out = await new Deno.Command("tar", {
        args: ["-tvzf", join(dir, "e.tgz")],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, dec.decode(out.stderr));
      const lines = dec.decode(out.stdout).trim().split("\n");
      assert.ok(lines[0].endsWith(MANIFEST_PATH), lines[0]);
      assert.ok(
        lines.some((l) => l.startsWith("lrwxrwxrwx") && l.endsWith("bin/tool-link -> tool")),
      );
      assert.ok(lines.every((l) => l.includes(" 0/0 ")), lines.join("\n"));
    }
  });
});

Deno.test("packPrefix refuses .tar.bz2 and unknown extensions without writing anything", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const prefix = join(dir, "env");
    await makePrefix(prefix, join(dir, "cache"));
    const out = join(dir, "out");
    await Deno.mkdir(out);
    await assert.rejects(
      packPrefix({ prefix, output: join(out, "e.tar.bz2"), manifest: BASE_MANIFEST }),
      (e: Error) =>
        e instanceof PonchoError && /\.tar\.bz2 is not written; use \.tar\.zst/.test(e.message),
    );
    await assert.rejects(
      packPrefix({ prefix, output: join(out, "e.zip"), manifest: BASE_MANIFEST }),
      (e: Error) => e instanceof UsageError && e.message.includes("e.zip"),
    );
    assert.deepEqual(names(out), []);
  });
});

Deno.test("a failed pack leaves no temp file and keeps the previous archive", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const prefix = join(dir, "env");
    await makePrefix(prefix, join(dir, "cache"));
    const out = join(dir, "out");
    await Deno.mkdir(out);
    const output = join(out, "env.tar.gz");
    await Deno.writeTextFile(output, "previous archive");
    // The pristine source vanished from the cache: the body cannot be read mid-write.
    const broken = new Map<string, PristineFile>([
      ["etc/app.conf", { source: join(dir, "cache", "gone"), placeholder: "/x", mode: "text" }],
    ]);
    await assert.rejects(packPrefix({ prefix, output, manifest: BASE_MANIFEST, pristine: broken }));
    assert.deepEqual(names(out), ["env.tar.gz"]);
    assert.equal(await Deno.readTextFile(output), "previous archive");
    // The output's directory does not exist.
    await assert.rejects(
      packPrefix({ prefix, output: join(dir, "missing", "e.tar"), manifest: BASE_MANIFEST }),
    );
    assert.ok(!names(dir).includes("missing"));
  });
});

Deno.test({
  name: "walkPrefix and packPrefix refuse a FIFO in the prefix",
  ignore: !mkfifo,
  async fn() {
    await withTempDir("poncho-test-", async (dir) => {
      const prefix = join(dir, "env");
      await write(join(prefix, "a.txt"), "a");
      await Deno.mkdir(join(prefix, "run"));
      const made = await new Deno.Command("mkfifo", { args: [join(prefix, "run", "pipe")] })
        .output();
      assert.ok(made.success);
      assert.throws(
        () => walkPrefix(prefix),
        (e: Error) =>
          e instanceof PonchoError &&
          e.message ===
            `cannot pack ${join(prefix, "run", "pipe")}: not a file, directory or symlink`,
      );
      await assert.rejects(
        packPrefix({ prefix, output: join(dir, "e.tar"), manifest: BASE_MANIFEST }),
        PonchoError,
      );
      assert.deepEqual(names(dir), ["env"]);
    });
  },
});

/** Writes an archive's members under `root` relocated for `root`, as an unpacker would. */
async function unpackRelocated(archive: string, root: string): Promise<void> {
  const members = await readArchive(archive);
  const manifest: EnvManifest = JSON.parse(dec.decode(members[0].body));
  const records = new Map(manifest.relocations.map((r) => [r.path, r]));
  for (const m of members) {
    const abs = join(root, m.path);
    if (m.type === "directory") await Deno.mkdir(abs, { recursive: true });
    else if (m.type === "symlink") await Deno.symlink(m.linkname, abs);
    else {
      const rec = records.get(m.path);
      await write(abs, rec ? relocateBytes(m.body!, rec, root) : m.body!, m.mode);
    }
  }
}

Deno.test({
  name: "real packages: pristine placeholder files and build-prefix files relocate and run",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withTempDir("poncho-test-", async (dir) => {
      const build = join(dir, "build");
      const pristine = new Map<string, PristineFile>();
      for (
        const fn of [
          "linux-64/libgreet-1.0-h0_poncho.conda",
          "linux-64/hello-1.0-h0_poncho.conda",
          "linux-64/oldtext-0.1-0.tar.bz2",
        ]
      ) {
        const pkg = join(dir, "pkgs", fn.split("/")[1]);
        await extractPackage(join(ch.dir, fn), pkg);
        const info = await readPackageInfo(pkg);
        const linked = await linkPackage(info, { prefix: build });
        await writeMetaRecord(build, {
          record: info.index,
          channel: ch.url,
          url: `${ch.url}/${fn}`,
          fn: fn.split("/")[1],
          source: pkg,
          linkType: linked.linkType,
          files: linked.files,
          pathsData: linked.pathsData,
        });
        for (const p of linked.pathsData) {
          if (p.prefix_placeholder) {
            pristine.set(p._path, {
              source: join(pkg, p._path),
              placeholder: p.prefix_placeholder,
              mode: p.file_mode === "binary" ? "binary" : "text",
            });
          }
        }
      }
      // A file generated at build time (like an entry point or a pip script).
      await write(join(build, "etc/generated.sh"), `#!/bin/sh\necho "${build}/share"\n`, 0o755);
      const output = join(dir, "env.tar.zst");
      const res = await packPrefix({ prefix: build, output, manifest: BASE_MANIFEST, pristine });
      // Exactly the placeholder files (pristine) and the file written at build time.
      assert.deepEqual(res.manifest.relocations, [
        { path: "bin/hello", placeholder: PLACEHOLDER_LONG, mode: "binary" },
        { path: "etc/generated.sh", placeholder: build, mode: "text" },
        { path: "etc/hello.conf", placeholder: PLACEHOLDER_LONG, mode: "text" },
        { path: "share/oldtext/config.txt", placeholder: PLACEHOLDER_SHORT, mode: "text" },
        { path: "share/oldtext/other.txt", placeholder: PLACEHOLDER_SHORT, mode: "text" },
      ]);
      const members = await readArchive(output);
      const hello = members.find((m) => m.path === "bin/hello")!;
      const conf = members.find((m) => m.path === "etc/hello.conf")!;
      assert.equal(
        dec.decode(conf.body),
        `prefix=${PLACEHOLDER_LONG}\ndata=${PLACEHOLDER_LONG}/share/hello\n`,
      );
      assert.deepEqual(
        hello.body,
        await Deno.readFile(join(dir, "pkgs/hello-1.0-h0_poncho.conda/bin/hello")),
      );

      // Relocated to a new place, the compiled-in prefix is the new one.
      const target = join(dir, "elsewhere", "deeper path");
      await unpackRelocated(output, target);
      const run = await new Deno.Command(join(target, "bin/hello"), {
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      assert.equal(
        dec.decode(run.stdout),
        `prefix: ${target}\nHello from the hello package!\n`,
        dec.decode(run.stderr),
      );
      assert.equal(
        await Deno.readTextFile(join(target, "share/oldtext/config.txt")),
        `home=${target}/share/oldtext\n`,
      );
      assert.equal(await Deno.readLink(join(target, "bin/hello-link")), "hello");
      const gen = await new Deno.Command(join(target, "etc/generated.sh"), { stdout: "piped" })
        .output();
      assert.equal(dec.decode(gen.stdout), `${target}/share\n`);
    });
  },
});

Deno.test("absolute symlinks into the prefix are packed as relative links", async () => {
  const root = await Deno.makeTempDir({ prefix: "poncho-pack-abs-" });
  try {
    const prefix = join(root, "env");
    await Deno.mkdir(join(prefix, "bin"), { recursive: true });
    await Deno.mkdir(join(prefix, "lib"), { recursive: true });
    await Deno.writeTextFile(join(prefix, "lib", "real.txt"), "x");
    await Deno.symlink(join(prefix, "lib", "real.txt"), join(prefix, "bin", "abs-link"));
    await Deno.symlink("/etc/hostname", join(prefix, "bin", "outside"));
    const out = join(root, "a.tar");
    await packPrefix({ prefix, output: out, manifest: BASE_MANIFEST });
    const links = new Map<string, string>();
    for await (const e of readTar(openDecompressed(out))) {
      if (e.type === "symlink") links.set(e.path, e.linkname);
    }
    assert.equal(links.get("bin/abs-link"), "../lib/real.txt");
    assert.equal(links.get("bin/outside"), "/etc/hostname"); // not ours to change
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("prefixManifest records files holding the prefix as they are on disk, skipping unchanged ones", async () => {
  const prefix = await Deno.makeTempDir({ prefix: "poncho-inplace-" });
  try {
    const enc = new TextEncoder();
    await Deno.mkdir(join(prefix, "bin"));
    await Deno.mkdir(join(prefix, "lib"));
    await Deno.writeTextFile(join(prefix, "bin", "tool"), `#!${prefix}/bin/python\n`);
    await Deno.writeFile(join(prefix, "lib", "bin.so"), enc.encode(`\0\x01${prefix}/lib\0\0`));
    await Deno.writeTextFile(join(prefix, "lib", "linked.txt"), "no prefix here\n");
    // Named unchanged: never read, even though it mentions the prefix.
    await Deno.writeTextFile(join(prefix, "lib", "hardlinked.txt"), `${prefix}\n`);
    // Linked with a placeholder (conda-meta says so): recorded without reading.
    await Deno.writeTextFile(join(prefix, "lib", "placeholder.cfg"), "rewritten\n");
    await Deno.writeTextFile(join(prefix, "lib", "x.pyc"), `${prefix}\n`);
    const { manifest, size } = prefixManifest(
      prefix,
      {
        format: MANIFEST_FORMAT,
        id: "in-place",
        platform: "linux-64",
        created: "2026-01-01T00:00:00Z",
        poncho: "test",
      },
      new Map([["lib/placeholder.cfg", { mode: "text" }]]),
      new Set(["lib/hardlinked.txt"]),
    );
    assert.equal(manifest.buildPrefix, prefix);
    assert.deepEqual(manifest.relocations, [
      { path: "bin/tool", placeholder: prefix, mode: "text" },
      { path: "lib/bin.so", placeholder: prefix, mode: "binary" },
      { path: "lib/placeholder.cfg", placeholder: prefix, mode: "text" },
    ]);
    let total = 0;
    for (const w of walkPrefix(prefix)) total += w.size;
    assert.equal(size, total);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

/** Pseudo-random bytes (compressible only a little), the same for the same seed. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (x >>> 24) & (i % 3 === 0 ? 0xff : 0x1f);
  }
  return out;
}

async function sha256File(path: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name:
    "packPrefix: a multi-frame .tar.zst, byte-identical with 0 or 2 workers, read by GNU tar, zstd -d and unpackArchive",
  ignore: !gnuTar || !zstdCli,
  async fn() {
    await withTempDir("poncho-test-", async (dir) => {
      const prefix = join(dir, "env");
      const pristine = await makePrefix(prefix, join(dir, "cache"));
      // 3.3 frames of file bodies: one large file crossing frame boundaries, many small ones.
      await write(join(prefix, "lib/big.bin"), noise(2 * ZSTD_FRAME_SIZE + 12345, 1));
      for (let i = 0; i < 300; i++) {
        await write(join(prefix, `lib/small/f${i}.txt`), noise(4000 + i * 13, i + 2));
      }
      await write(join(prefix, "lib/small/holds-prefix.txt"), `x ${prefix}/bin y\n`);
      const outputs: string[] = [];
      for (const threads of [0, 2]) {
        const output = join(dir, `env-${threads}.tar.zst`);
        await packPrefix({ prefix, output, manifest: BASE_MANIFEST, pristine, threads });
        outputs.push(output);
      }
      const digests = await Promise.all(outputs.map(sha256File));
      assert.equal(digests[1], digests[0], "the same bytes with no worker and with two");
      const archive = outputs[0];
      const frames = [...zstdFrames(await Deno.readFile(archive), archive)];
      assert.ok(frames.length >= 3, `${frames.length} frames`);

      // zstd -d decodes every frame (its content checksums included) to one tar.
      const tarPath = join(dir, "env.tar");
      const z = await new Deno.Command("zstd", { args: ["-q", "-d", archive, "-o", tarPath] })
        .output();
      assert.ok(z.success, dec.decode(z.stderr));
      const ours = await readArchive(archive);
      const listed = await new Deno.Command("tar", { args: ["-tf", tarPath] }).output();
      assert.deepEqual(
        dec.decode(listed.stdout).trim().split("\n").map((p) => p.replace(/\/$/, "")),
        ours.map((m) => m.path),
      );
      // GNU tar --zstd extracts it; the big file crossing frames comes back whole.
      const gnuOut = join(dir, "gnu");
      await Deno.mkdir(gnuOut);
      const x = await new Deno.Command("tar", { args: ["--zstd", "-xf", archive, "-C", gnuOut] })
        .output();
      assert.ok(x.success, dec.decode(x.stderr));
      assert.deepEqual(
        await Deno.readFile(join(gnuOut, "lib/big.bin")),
        await Deno.readFile(join(prefix, "lib/big.bin")),
      );
      // Poncho's own unpack reads it and relocates the file that holds the prefix.
      const root = join(dir, "u"); // no longer than the prefix: lib/libx.so is binary
      await Deno.mkdir(root);
      await unpackArchive(archive, root, root);
      assert.deepEqual(
        await Deno.readFile(join(root, "lib/big.bin")),
        await Deno.readFile(join(prefix, "lib/big.bin")),
      );
      assert.equal(
        await Deno.readTextFile(join(root, "lib/small/holds-prefix.txt")),
        `x ${root}/bin y\n`,
      );
      for (const i of [0, 150, 299]) {
        assert.deepEqual(
          await Deno.readFile(join(root, `lib/small/f${i}.txt`)),
          await Deno.readFile(join(prefix, `lib/small/f${i}.txt`)),
        );
      }
    });
  },
});

Deno.test({
  name: "a packed .tar.zst stores its manifest in a first frame of its own, read without a decoder",
  ignore: !hasCommand("tar") || !hasCommand("zstd"),
  async fn() {
    const { storedFirstMember, readArchiveFirstMember } = await import("../archive/open.ts");
    const { rawFrameContent } = await import("../archive/zstd_frame.ts");
    await withTempDir("poncho-test-", async (dir) => {
      const prefix = join(dir, "env");
      await write(join(prefix, "bin", "tool"), `#!/bin/sh\n# ${prefix}\n`, 0o755);
      const big = randomBytes(9 << 20);
      await write(join(prefix, "lib", "big.bin"), big);
      const output = join(dir, "e.tar.zst");
      const packed = await packPrefix({ prefix, output, manifest: BASE_MANIFEST, threads: 1 });
      const bytes = await Deno.readFile(output);
      const first = [...zstdFrames(bytes, output)][0];
      const tar = rawFrameContent(first)!;
      assert.ok(tar, "the first frame is stored");
      const size = JSON.stringify(packed.manifest).length;
      assert.equal(tar.length, 512 + Math.ceil(size / 512) * 512, "it holds the manifest alone");
      const stored = await storedFirstMember(output, 1 << 20);
      assert.equal(stored?.header.path, MANIFEST_PATH);
      assert.deepEqual(JSON.parse(dec.decode(stored!.data)), packed.manifest);
      assert.deepEqual(await readArchiveFirstMember(output, 1 << 20), stored);
      // GNU tar and zstd read the whole archive as before.
      const listed = await new Deno.Command("tar", { args: ["--zstd", "-tf", output] }).output();
      assert.ok(listed.success);
      assert.equal(dec.decode(listed.stdout).split("\n")[0], MANIFEST_PATH);
      // An archive compressed whole (GNU tar's way) is left to the decoder.
      const gnu = join(dir, "gnu.tar.zst");
      const made = await new Deno.Command("tar", {
        args: ["--zstd", "-cf", gnu, "-C", prefix, "."],
      })
        .output();
      assert.ok(made.success);
      assert.equal(await storedFirstMember(gnu, 1 << 20), undefined);
    });
  },
});

Deno.test({
  name: "a manifest larger than the first read (many relocation records) is read stored as well",
  async fn() {
    const { storedFirstMember } = await import("../archive/open.ts");
    await withTempDir("poncho-test-", async (dir) => {
      const prefix = join(dir, "env");
      for (let i = 0; i < 900; i++) {
        await write(join(prefix, "share", `a-rather-long-directory-name-${i}`, "f.txt"), prefix);
      }
      const output = join(dir, "e.tar.zst");
      const packed = await packPrefix({ prefix, output, manifest: BASE_MANIFEST, threads: 0 });
      assert.ok(JSON.stringify(packed.manifest).length > 64 << 10, "manifest over 64 KiB");
      const stored = await storedFirstMember(output, 1 << 20);
      assert.deepEqual(JSON.parse(dec.decode(stored!.data)), packed.manifest);
    });
  },
});

Deno.test({
  name:
    "packPrefix: a .tar.zst made in one pass records what a scan of whole files finds, the same bytes with 0, 1 or 2 workers",
  ignore: !gnuTar || !zstdCli,
  async fn() {
    await withTempDir("poncho-test-", async (dir) => {
      const prefix = join(dir, "env");
      const p = enc.encode(prefix);
      // a/big.txt follows a/ (one header block each): its body starts 1024 bytes into the frames
      // after the manifest's, so the first frame boundary falls `cut` bytes into it.
      const cut = ZSTD_FRAME_SIZE - 1024;
      const big = new Uint8Array(2 * ZSTD_FRAME_SIZE).fill(0x78);
      big.set(p, cut - 7); // text, the prefix across the boundary
      await write(join(prefix, "a/big.txt"), big);
      // The prefix in the second frame, the only NUL in the third: binary.
      const bin = new Uint8Array(ZSTD_FRAME_SIZE + 5000).fill(0x79);
      bin.set(p, 100);
      bin[bin.length - 1] = 0;
      await write(join(prefix, "a/bin.dat"), bin);
      await write(join(prefix, "b/run.sh"), `#!${prefix}/bin/python\n`, 0o755);
      await write(join(prefix, "b/lib.so"), new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, ...p, 0]));
      await write(join(prefix, "b/m.pyc"), new Uint8Array([0xa7, 0x0d, 0, ...p]));
      await write(join(prefix, "b/plain.txt"), "no prefix\n");
      await write(join(prefix, "b/split-1"), p.subarray(0, 5)); // the prefix cut over two files
      await write(join(prefix, "b/split-2"), p.subarray(5));
      await write(join(prefix, "b/empty"), "");

      const packed: PackResult[] = [];
      const digests: string[] = [];
      for (const threads of [0, 1, 2]) {
        const output = join(dir, `e${threads}.tar.zst`);
        packed.push(await packPrefix({ prefix, output, manifest: BASE_MANIFEST, threads }));
        digests.push(await sha256File(output));
      }
      assert.deepEqual(digests, digests.map(() => digests[0]), "the same bytes");
      const archive = join(dir, "e0.tar.zst");

      // The records are those of a scan of the whole files (prefixManifest, and the two-pass
      // .tar.gz), in walk order.
      const whole = prefixManifest(prefix, BASE_MANIFEST, new Map(), new Set()).manifest;
      const gz = await packPrefix({
        prefix,
        output: join(dir, "e.tar.gz"),
        manifest: BASE_MANIFEST,
      });
      assert.deepEqual(whole.relocations, [
        { path: "a/big.txt", placeholder: prefix, mode: "text" },
        { path: "a/bin.dat", placeholder: prefix, mode: "binary" },
        { path: "b/lib.so", placeholder: prefix, mode: "binary" },
        { path: "b/run.sh", placeholder: prefix, mode: "text" },
      ]);
      for (const r of [...packed, gz]) assert.deepEqual(r.manifest.relocations, whole.relocations);
      const members = await readArchive(archive);
      assert.equal(members[0].path, MANIFEST_PATH);
      assert.deepEqual(JSON.parse(dec.decode(members[0].body)), packed[0].manifest);
      assert.equal(packed[0].members, members.length);

      // The bytes are those of the two-pass layout: every member planned with the manifest
      // first (its frame alone), each frame built and compressed in turn.
      const entries: TarWriteEntry[] = [{
        path: MANIFEST_PATH,
        type: "file",
        mode: 0o644,
        mtime: Math.trunc(Date.parse(BASE_MANIFEST.created) / 1000),
        data: enc.encode(JSON.stringify(packed[0].manifest, null, 1) + "\n"),
      }];
      for (const w of walkPrefix(prefix)) {
        const base = { path: w.rel, mode: w.mode, mtime: w.mtime };
        if (w.kind === "directory") entries.push({ ...base, type: "directory" });
        else entries.push({ ...base, type: "file", file: w.abs, size: w.size });
      }
      const owners = { uid: 0, gid: 0, uname: "", gname: "" };
      const twoPass: Uint8Array[] = [];
      for await (const job of planTarFrames(entries, owners, ZSTD_FRAME_SIZE, 3, true)) {
        const { reply } = tarFrameJob(job);
        twoPass.push(new Uint8Array(reply.buffer, 0, reply.length));
      }
      assert.deepEqual(await Deno.readFile(archive), await collectBytes(toAsync(twoPass)));

      // The first frame after the manifest's really ends inside the prefix.
      const frames = [...zstdFrames(await Deno.readFile(archive), archive)];
      const second = new Uint8Array(zlib.zstdDecompressSync(frames[1]));
      assert.equal(second.length, ZSTD_FRAME_SIZE);
      assert.deepEqual(second.subarray(second.length - 7), p.subarray(0, 7));

      // zstd checks every frame; GNU tar lists the same members.
      const t = await new Deno.Command("zstd", { args: ["-q", "-t", archive] }).output();
      assert.ok(t.success, dec.decode(t.stderr));
      const listed = await new Deno.Command("tar", { args: ["--zstd", "-tf", archive] }).output();
      assert.ok(listed.success, dec.decode(listed.stderr));
      assert.deepEqual(
        dec.decode(listed.stdout).trim().split("\n").map((m) => m.replace(/\/$/, "")),
        members.map((m) => m.path),
      );
      assert.deepEqual(names(dir).filter((n) => n.startsWith(".")), [], "no temp file left");
    });
  },
});

Deno.test("a .tar.zst pack that fails mid-way leaves no temp file and keeps the previous archive", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const prefix = join(dir, "env");
    await makePrefix(prefix, join(dir, "cache"));
    await write(join(prefix, "lib/big.bin"), noise(2 * ZSTD_FRAME_SIZE, 3));
    const out = join(dir, "out");
    await Deno.mkdir(out);
    const output = join(out, "env.tar.zst");
    await Deno.writeTextFile(output, "previous archive");
    const broken = new Map<string, PristineFile>([
      ["etc/app.conf", { source: join(dir, "cache", "gone"), placeholder: "/x", mode: "text" }],
    ]);
    for (const threads of [0, 1]) {
      await assert.rejects(
        packPrefix({ prefix, output, manifest: BASE_MANIFEST, pristine: broken, threads }),
      );
      assert.deepEqual(names(out), ["env.tar.zst"]);
      assert.equal(await Deno.readTextFile(output), "previous archive");
    }
  });
});

Deno.test({
  name:
    "packPrefix: a .tar.zst whose manifest outgrows the room guessed after the first frame is moved in place: whole, the same bytes with 0, 1 or 2 workers",
  async fn() {
    await withTempDir("poncho-test-", async (dir) => {
      const prefix = join(dir, "env");
      // The first frame holds no prefix (one big text file), so the manifest guessed after it has
      // no relocation; the 40 files after it all hold the prefix: the manifest written is larger.
      await write(join(prefix, "a", "big.txt"), new Uint8Array(ZSTD_FRAME_SIZE + 100).fill(0x78));
      for (let i = 0; i < 40; i++) {
        await write(
          join(prefix, "b", `f${String(i).padStart(2, "0")}.txt`),
          `#!${prefix}/bin/x ${i}\n`,
        );
      }
      const digests: string[] = [];
      let packed: PackResult | undefined;
      for (const threads of [0, 1, 2]) {
        const output = join(dir, `e${threads}.tar.zst`);
        packed = await packPrefix({ prefix, output, manifest: BASE_MANIFEST, threads });
        digests.push(await sha256File(output));
        assert.equal((await Deno.stat(output)).size, packed.bytes);
      }
      assert.deepEqual(digests, digests.map(() => digests[0]), "the same bytes");
      assert.equal(packed!.manifest.relocations.length, 40);
      const members = await readArchive(join(dir, "e0.tar.zst"));
      assert.equal(members[0].path, MANIFEST_PATH);
      assert.deepEqual(JSON.parse(dec.decode(members[0].body)), packed!.manifest);
      assert.equal(members.length, packed!.members);
      const big = members.find((m) => m.path === "a/big.txt")!;
      assert.equal(big.body!.length, ZSTD_FRAME_SIZE + 100);
      assert.ok(big.body!.every((b) => b === 0x78));
      const last = members.find((m) => m.path === "b/f39.txt")!;
      assert.equal(dec.decode(last.body), `#!${prefix}/bin/x 39\n`);
    });
  },
});
