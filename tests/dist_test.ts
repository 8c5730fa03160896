/**
 * `deno task dist` end to end: the single file `dist/poncho` (built once per
 * test run by `distPoncho()`) copied alone into an empty directory and run
 * with a clean environment; its runtime unpack (once, under concurrency, and
 * after a killed unpack); store resolution of its sh launcher; `deno task
 * install` and `poncho dropin` from the single file.
 */
import assert from "node:assert/strict";
import { DROPIN_NAMES } from "../cli/dropin.ts";
import { createHash } from "node:crypto";
import {
  checkSingleFile,
  cleanEnv,
  filesMentioning,
  type Started,
  withIsolatedCopy,
} from "./single_file.ts";
import { distPoncho, fixtureTools, REPO_ROOT, withTempDir } from "./util.ts";
import { WAL_LIMIT } from "../lib/dist/self.ts";

const tools = await fixtureTools("dist tests");

const UNPACKING = /^poncho: first start, unpacking the runtime into (\S+)$/gm;

/** The payload hash and runtime directory that `--version` reports. */
function reported(version: Started): { sha: string; runtime: string } {
  const m = version.stdout.match(/^payload sha256:([0-9a-f]{64}) \(runtime (\S+)\)$/m);
  assert.ok(m, version.stdout);
  return { sha: m[1], runtime: m[2] };
}

/** sha256 of the bytes after the launcher (from its OFFSET line). */
async function payloadSha(file: string): Promise<string> {
  const bytes = await Deno.readFile(file);
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 8192));
  const offset = Number(head.match(/^OFFSET=(\d+)$/m)?.[1]);
  assert.ok(offset > 0, "no OFFSET line in the launcher");
  return createHash("sha256").update(bytes.subarray(offset - 1)).digest("hex");
}

const list = (dir: string) => {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
};

Deno.test({
  name: "dist/poncho alone with env -i: --version, analyze, create, run -e, run script.py, " +
    "poncho_package_run; the checkout is not used",
  ignore: !tools.ok,
  async fn() {
    const file = await distPoncho();
    const sha = await payloadSha(file);
    await checkSingleFile(file, {
      afterVersion: async (iso, version) => {
        const r = reported(version);
        assert.equal(r.sha, sha, "--version names the payload's sha256");
        assert.equal(r.runtime, `${iso.home}/.cache/poncho/v1/runtime/${sha}`);
        assert.equal([...version.stderr.matchAll(UNPACKING)].length, 1, version.stderr);
        assert.ok(
          (await Deno.stat(`${r.runtime}/app/node_modules/@conda-org/rattler`)).isDirectory,
        );
      },
      afterAll: async (_iso, version) => {
        // Every module Deno loaded is recorded in the runtime's own DENO_DIR caches: had any
        // come from the checkout (its node_modules, its code), the checkout's path would be
        // there. Neither the payload nor those caches name it.
        const { runtime } = reported(version);
        assert.ok(list(`${runtime}/deno-dir`).length > 0, "the runtime's DENO_DIR is used");
        assert.deepEqual(await filesMentioning(runtime, REPO_ROOT), []);
        // ...and they do name what was loaded: rattler (create's solver), from the runtime.
        const rattler = `${runtime}/app/node_modules/@conda-org/rattler/`;
        assert.ok((await filesMentioning(`${runtime}/deno-dir`, rattler)).length > 0);
        assert.ok(!runtime.startsWith(REPO_ROOT)); // no node_modules lookup can climb into it
        // The caches' write-ahead logs were folded in after create (each warm start rereads them).
        for (const name of list(`${runtime}/deno-dir`).filter((n) => n.endsWith("-wal"))) {
          const size = (await Deno.stat(`${runtime}/deno-dir/${name}`)).size;
          assert.ok(size <= WAL_LIMIT, `${name}: ${size} bytes`);
        }
      },
    });
  },
});

Deno.test("dist/poncho: 16 first starts at once unpack once and all succeed", async () => {
  await withIsolatedCopy(await distPoncho(), async (iso) => {
    const starts = await Promise.all(
      Array.from({ length: 16 }, () => iso.run(["--version"])),
    );
    for (const s of starts) assert.equal(s.code, 0, s.stderr);
    const unpacks = starts.flatMap((s) => [...s.stderr.matchAll(UNPACKING)]);
    assert.equal(unpacks.length, 1, starts.map((s) => s.stderr).join(""));
    const v1 = `${iso.home}/.cache/poncho/v1`;
    assert.deepEqual(list(`${v1}/runtime`), [reported(starts[0]).sha]);
    assert.deepEqual(list(`${v1}/tmp`), []);
    assert.deepEqual(list(`${v1}/locks`), []);
    for (const s of starts) assert.equal(s.stdout, starts[0].stdout);
  });
});

Deno.test("dist/poncho: a start killed mid-unpack leaves nothing used; the next one unpacks", async () => {
  await withIsolatedCopy(await distPoncho(), async (iso) => {
    const v1 = `${iso.home}/.cache/poncho/v1`;
    const [cmd, ...pre] = cleanEnv(iso.home);
    // setsid: the launcher leads its own process group, so its tail | gzip | tar die with it.
    const child = new Deno.Command("setsid", {
      args: [cmd, ...pre, "./poncho", "--version"],
      cwd: iso.dir,
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 30_000;
    while (!list(`${v1}/tmp`).some((n) => n.startsWith("runtime-")) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(list(`${v1}/tmp`).length > 0, "the unpack never started");
    Deno.kill(-child.pid, "SIGKILL");
    await child.status;
    assert.deepEqual(list(`${v1}/runtime`), [], "a killed unpack must not produce a runtime");
    assert.equal(list(`${v1}/locks`).length, 1, "the killed start held the lock");

    const next = await iso.run(["--version"]);
    assert.equal(next.code, 0, next.stderr);
    assert.equal([...next.stderr.matchAll(UNPACKING)].length, 1, next.stderr);
    assert.deepEqual(list(`${v1}/tmp`), [], "the killed start's temp dir is removed");
    assert.deepEqual(list(`${v1}/locks`), []);
    assert.deepEqual(list(`${v1}/runtime`), [reported(next).sha]);
  });
});

Deno.test("dist/poncho truncated in transfer: exit 3, one line, nothing left in the store", async () => {
  await withTempDir("poncho-truncated-", async (dir) => {
    const whole = await Deno.readFile(await distPoncho());
    await Deno.writeFile(`${dir}/poncho`, whole.subarray(0, whole.length >> 1), { mode: 0o755 });
    const [cmd, ...pre] = cleanEnv(dir);
    const out = await new Deno.Command(cmd, {
      args: [...pre, "./poncho", "--version"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr).replace(UNPACKING, "").trim();
    assert.equal(out.code, 3, err);
    assert.match(err, new RegExp(`^poncho: could not unpack ${dir}/poncho into \\S+: gzip: `), err);
    assert.equal(err.split("\n").length, 1, err);
    const v1 = `${dir}/.cache/poncho/v1`;
    assert.deepEqual([list(`${v1}/runtime`), list(`${v1}/tmp`), list(`${v1}/locks`)], [[], [], []]);
  });
});

Deno.test("dist/poncho finds its store as poncho does: --store, PONCHO_STORE, XDG_CACHE_HOME, HOME", async () => {
  await withIsolatedCopy(await distPoncho(), async (iso) => {
    const dec = new TextDecoder();
    const sh = async (vars: string, args: string, prog = "./poncho") => {
      const out = await new Deno.Command("sh", {
        args: ["-c", `${cleanEnv(iso.home).join(" ")} ${vars} ${prog} ${args}`],
        cwd: iso.dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: out.code, stderr: dec.decode(out.stderr) };
    };
    const runtimes = (root: string) =>
      list(`${root.startsWith("/") ? "" : `${iso.dir}/`}${root}/v1/runtime`).length;
    // A relative store is made absolute against the working directory.
    const a = await sh("", "store list --store s1");
    assert.equal(a.code, 0, a.stderr);
    assert.equal(runtimes("s1"), 1);
    // --store before PONCHO_STORE before XDG_CACHE_HOME.
    assert.equal((await sh("PONCHO_STORE=s2", "store list --store=s3")).code, 0);
    assert.equal(runtimes("s3"), 1);
    assert.equal(runtimes("s2"), 0);
    await sh("PONCHO_STORE=s2 XDG_CACHE_HOME=$PWD/x", "store list");
    assert.equal(runtimes("s2"), 1);
    // An absolute XDG_CACHE_HOME; a --store after -- belongs to the command.
    await sh("XDG_CACHE_HOME=$PWD/x", "store list -- --store=s4");
    assert.equal(runtimes("x/poncho"), 1);
    assert.equal(runtimes("s4"), 0);
    // A relative XDG_CACHE_HOME is ignored (as the XDG specification says): ~/.cache/poncho.
    assert.equal((await sh("XDG_CACHE_HOME=rel", "--version")).code, 0);
    assert.equal(runtimes(`${iso.home}/.cache/poncho`), 1);
    assert.equal(runtimes("rel/poncho"), 0);
    // An empty or relative HOME, or an empty --store, is a usage error (exit 1, one line).
    for (
      const [vars, args, why] of [
        ["HOME=", "store list", /^poncho: HOME is empty; .*set HOME, or PONCHO_STORE or --store/],
        ["HOME=h", "--version", /^poncho: HOME is 'h', not an absolute path; /],
        ["", "store list --store=", /^poncho: --store is empty; give a directory$/],
      ] as const
    ) {
      const r = await sh(vars, args);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr.trim(), why);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    assert.deepEqual(list(`${iso.dir}/.cache`), []);
    assert.deepEqual(list(`${iso.dir}/h`), []);
    // run's options end at its command (cli/run.ts): a --store after it is the command's.
    await sh("XDG_CACHE_HOME=$PWD/z", "run -d -e missing.tar.zst --store=s5 echo --store s6");
    assert.equal(runtimes("s5"), 1);
    assert.equal(runtimes("s6"), 0);
    await sh("XDG_CACHE_HOME=$PWD/z", "run -e missing.tar.zst echo --store s7");
    assert.equal(runtimes("z/poncho"), 1);
    assert.equal(runtimes("s7"), 0);
    await Deno.symlink("poncho", `${iso.dir}/poncho_package_run`);
    // Under the CCTools name every word is run's.
    const cctools = await sh("", "--store s8 -e x.tar.zst true --store s9", "./poncho_package_run");
    assert.equal(cctools.code, 2); // x.tar.zst is missing: poncho's error, after the launcher
    assert.equal(runtimes("s8"), 1);
    assert.equal(runtimes("s9"), 0);
  });
});

Deno.test("deno task install DIR, and poncho dropin DIR run from the single file", async () => {
  await withTempDir("poncho-install-", async (dir) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "install", `${dir}/bin`],
      cwd: REPO_ROOT,
      env: { PATH: `${Deno.execPath().replace(/\/[^/]*$/, "")}:/usr/bin:/bin` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.match(text, new RegExp(`wrote ${dir}/bin/poncho\n`));
    assert.match(text, /is NOT on PATH/);
    assert.ok((await Deno.lstat(`${dir}/bin/poncho`)).isFile);
    for (const name of DROPIN_NAMES) {
      assert.equal(await Deno.readLink(`${dir}/bin/${name}`), "poncho");
    }
    assert.equal(
      await payloadSha(`${dir}/bin/poncho`),
      await payloadSha(`${REPO_ROOT}/dist/poncho`),
    );

    // Drop-in links written by the installed file point at it, not at a checkout.
    await Deno.mkdir(`${dir}/home`);
    await Deno.writeTextFile(`${dir}/s.py`, "import zz_dist_probe\n");
    const run = (cmd: string, ...args: string[]) =>
      new Deno.Command("env", {
        args: [...cleanEnv(`${dir}/home`).slice(1), cmd, ...args],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
    const dropin = await run(`${dir}/bin/poncho`, "dropin", `${dir}/cctools`);
    assert.equal(dropin.code, 0, new TextDecoder().decode(dropin.stderr));
    assert.equal(await Deno.readLink(`${dir}/cctools/poncho_package_analyze`), `${dir}/bin/poncho`);
    // An import no channel knows is named with --pkg-mapping (unknown names are left out).
    const analyzed = await run(
      `${dir}/cctools/poncho_package_analyze`,
      "--pkg-mapping",
      "zz_dist_probe=zz-dist-probe",
      "s.py",
      "-",
    );
    assert.equal(analyzed.code, 0, new TextDecoder().decode(analyzed.stderr));
    assert.match(new TextDecoder().decode(analyzed.stdout), /zz-dist-probe/);
  });
});
