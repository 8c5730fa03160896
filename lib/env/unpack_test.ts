import assert from "node:assert/strict";
import { EXIT_FAILED, PonchoError } from "../errors.ts";
import { copyEnvDir, readArchiveManifest, unpackArchive } from "./unpack.ts";
import { linkEscapes } from "../archive/paths.ts";
import {
  binaryPlaceholder,
  fixtureToolsAvailable,
  makeEnvArchive,
} from "../../tests/fixtures/env_archive.ts";

const available = fixtureToolsAvailable();
if (!available) console.log("unpack_test: gcc, GNU tar, zstd or python3 missing; tests skipped");

async function run(cmd: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, env }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test({
  name: "an archive unpacked at two paths runs its relocated C program and Python in both",
  ignore: !available,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "poncho-unpack-" });
    try {
      const { archive, manifest, tree } = await makeEnvArchive(work);
      assert.equal((await readArchiveManifest(archive))?.id, manifest.id);
      for (const name of ["first", "second-with-a-longer-name"]) {
        const prefix = `${work}/${name}`;
        await Deno.mkdir(prefix);
        const result = await unpackArchive(archive, prefix, prefix);
        assert.equal(result.manifest?.id, manifest.id);
        assert.equal(result.condaPack, false);
        assert.deepEqual(result.activateScripts, [
          `${prefix}/etc/conda/activate.d/poncho-test.sh`,
        ]);
        const hello = await run(`${prefix}/bin/hello`, []);
        assert.equal(hello.stdout.trim(), `${prefix}|hello from share`);
        const bin = await Deno.readFile(`${prefix}/bin/hello`);
        assert.equal(bin.length, (await Deno.readFile(`${tree}/bin/hello`)).length);
        const greet = await run(`${prefix}/bin/greet`, ["x"]);
        assert.equal(greet.code, 0, greet.stderr);
        assert.equal(greet.stdout.trim(), `greet ${prefix} ['x']`);
        const py = await run(`${prefix}/bin/python3`, [
          "-c",
          "import ponchomod; print(ponchomod.where())",
        ]);
        assert.equal(py.stdout.trim(), `${prefix}/lib/python/site-packages/ponchomod.py`);
        // Modes (setuid), symlinks and hardlinks are kept.
        assert.equal((await Deno.stat(`${prefix}/bin/suid-tool`)).mode! & 0o7777, 0o4755);
        assert.equal(await Deno.readLink(`${prefix}/bin/python3`), "python");
        const a = await Deno.stat(`${prefix}/share/greeting.txt`);
        const b = await Deno.stat(`${prefix}/share/greeting-hardlink.txt`);
        assert.equal(a.ino, b.ino);
        // bin/run_in_env was written for this prefix.
        const rie = await run(`${prefix}/bin/run_in_env`, [
          "sh",
          "-c",
          "echo $PONCHO_TEST_ACTIVATED",
        ]);
        assert.equal(rie.stdout.trim(), `yes:${prefix}`);
      }
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test({
  name: "a prefix longer than the binary placeholder is refused with exit 3",
  ignore: !available,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "poncho-unpack-" });
    try {
      const { archive } = await makeEnvArchive(work);
      const root = `${work}/root`;
      await Deno.mkdir(root);
      const long = `${work}/${"x".repeat(binaryPlaceholder().length)}`;
      await assert.rejects(unpackArchive(archive, root, long), (err: unknown) => {
        assert.ok(err instanceof PonchoError);
        assert.equal(err.exitCode, EXIT_FAILED);
        assert.match(err.message, /bin\/hello/);
        return true;
      });
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test({
  name: "an environment directory with a manifest is copied and relocated",
  ignore: !available,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "poncho-unpack-" });
    try {
      const { tree } = await makeEnvArchive(work);
      const prefix = `${work}/copy`;
      await Deno.mkdir(prefix);
      const result = await copyEnvDir(tree, prefix, prefix);
      assert.ok(result.manifest);
      assert.equal(
        (await run(`${prefix}/bin/hello`, [])).stdout.trim(),
        `${prefix}|hello from share`,
      );
      assert.equal(await Deno.readLink(`${prefix}/bin/python3`), "python");
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});

/** Builds a malicious tar with Python's tarfile (it writes what GNU tar would refuse). */
async function evilTar(path: string, script: string): Promise<void> {
  const py = `
import io, tarfile, sys
t = tarfile.open(sys.argv[1], "w")
def add(name, data=b"pwned\\n", **kw):
    info = tarfile.TarInfo(name)
    for k, v in kw.items(): setattr(info, k, v)
    if info.type == tarfile.REGTYPE:
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    else:
        t.addfile(info)
${script}
t.close()
`;
  const out = await run("python3", ["-c", py, path]);
  assert.equal(out.code, 0, out.stderr);
}

const OUTSIDE = "__OUTSIDE__";
const EVIL: Record<string, string> = {
  "absolute path": `add("${OUTSIDE}/pwned-abs")`,
  "dot-dot path": `add("ok.txt"); add("sub/../../pwned-dotdot")`,
  "symlink escape then write through it": `add("esc", type=tarfile.SYMTYPE, linkname="${OUTSIDE}")
add("esc/pwned-through-link")`,
  "relative symlink escape then write": `add("a/b", type=tarfile.DIRTYPE)
add("a/b/up", type=tarfile.SYMTYPE, linkname="../../..")
add("a/b/up/pwned-rel")`,
  "symlink chain escape": `add("d", type=tarfile.DIRTYPE)
add("d/x", type=tarfile.SYMTYPE, linkname="..")
add("y", type=tarfile.SYMTYPE, linkname="d/x/..")`,
  "hardlink to outside": `add("hl", type=tarfile.LNKTYPE, linkname="${OUTSIDE}/victim")`,
  "hardlink with dot-dot": `add("hl", type=tarfile.LNKTYPE, linkname="../victim")`,
  "character device": `add("dev", type=tarfile.CHRTYPE, devmajor=1, devminor=3)`,
  "fifo": `add("fifo", type=tarfile.FIFOTYPE)`,
};

for (const [name, script] of Object.entries(EVIL)) {
  Deno.test({
    name: `malicious archive refused: ${name}`,
    ignore: !available,
    fn: async () => {
      const work = await Deno.makeTempDir({ prefix: "poncho-evil-" });
      try {
        const outside = `${work}/outside`;
        await Deno.mkdir(outside);
        await Deno.writeTextFile(`${outside}/victim`, "original\n");
        const archive = `${work}/evil.tar`;
        await evilTar(archive, script.replaceAll(OUTSIDE, outside));
        const root = `${work}/parent/root`;
        await Deno.mkdir(root, { recursive: true });
        await assert.rejects(unpackArchive(archive, root, root), (err: unknown) => {
          assert.ok(err instanceof PonchoError, String(err));
          assert.equal(err.exitCode, EXIT_FAILED);
          assert.match(err.message, /refusing|outside|absolute|'\.\.'|device/);
          assert.doesNotMatch(err.message, /\n/);
          return true;
        });
        const left = (await Array.fromAsync(Deno.readDir(outside))).map((e) => e.name);
        assert.deepEqual(left, ["victim"]);
        assert.equal(await Deno.readTextFile(`${outside}/victim`), "original\n");
        const parent = (await Array.fromAsync(Deno.readDir(`${work}/parent`))).map((e) => e.name);
        assert.deepEqual(parent, ["root"]);
        const top = (await Array.fromAsync(Deno.readDir(work))).map((e) => e.name).sort();
        assert.deepEqual(top, ["evil.tar", "outside", "parent"]);
      } finally {
        await Deno.remove(work, { recursive: true });
      }
    },
  });
}

Deno.test("linkEscapes follows links of the archive", () => {
  const links = new Map([["d/x", ".."], ["y", "d/x/.."], ["ok", "d"]]);
  assert.equal(linkEscapes("d/x", "..", links), false);
  assert.equal(linkEscapes("y", "d/x/..", links), true);
  assert.equal(linkEscapes("ok", "d", links), false);
  assert.equal(linkEscapes("a", "/etc", links), true);
  assert.equal(linkEscapes("a/b", "../../c", links), true);
  const loop = new Map([["p", "q"], ["q", "p"]]);
  assert.equal(linkEscapes("p", "q", loop), true);
});

Deno.test({
  name: "copying an environment directory refuses a socket or FIFO in it, writing nothing outside",
  ignore: !available,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "poncho-sock-" });
    try {
      await Deno.mkdir(`${work}/env/bin`, { recursive: true });
      const sock = await run("python3", [
        "-c",
        "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
        `${work}/env/bin/sock`,
      ]);
      assert.equal(sock.code, 0, sock.stderr);
      await Deno.mkdir(`${work}/root`);
      await assert.rejects(
        copyEnvDir(`${work}/env`, `${work}/root`, `${work}/root`),
        /refusing member bin\/sock: is a socket \(devices, FIFOs and sockets are refused\)/,
      );
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});
