import assert from "node:assert/strict";
import {
  type EnvTreeOptions,
  fixtureToolsAvailable,
  makeEnvArchive,
} from "../tests/fixtures/env_archive.ts";
import {
  hasCommand,
  leftoverTemps,
  ponchoCommand,
  readToEnd,
  runPoncho,
  withTempDir,
} from "../tests/util.ts";
import { sha256Hex } from "../store/index.ts";
import { storeLayout } from "../store/layout.ts";
import type { EnvManifest } from "../lib/env/manifest.ts";

const available = fixtureToolsAvailable();
if (!available) console.log("run_test: gcc, GNU tar, zstd or python3 missing; tests skipped");

/** Extra deno flags for the spawned CLI (e.g. an import map while a module is missing). */
const EXTRA = Deno.env.get("PONCHO_TEST_IMPORT_MAP")
  ? ["--import-map", Deno.env.get("PONCHO_TEST_IMPORT_MAP")!]
  : [];

function poncho(args: string[], env: Record<string, string> = {}, cwd?: string) {
  return ponchoCommand(args, { env, cwd, denoFlags: EXTRA });
}

function ponchoOut(args: string[], env: Record<string, string> = {}, cwd?: string) {
  return runPoncho(args, { env, cwd, denoFlags: EXTRA });
}

function withWork(fn: (work: string) => Promise<void>) {
  return withTempDir("poncho-run-test-", fn);
}

/** The start of `poncho run <flags> --store <store> -e <archive> ...`: the command follows. */
function inStore(store: string, archive: string, ...flags: string[]): string[] {
  return ["run", ...flags, "--store", store, "-e", archive];
}

/** A work dir, an environment archive made in it and the path of a store beside it. */
interface EnvWork {
  work: string;
  archive: string;
  manifest: EnvManifest;
  store: string;
}

/** Calls `fn` in a work dir holding `env.tar.zst` (made with `options`), removed afterwards. */
function withEnv(options: EnvTreeOptions, fn: (w: EnvWork) => Promise<void>) {
  return withWork(async (work) => {
    const { archive, manifest } = await makeEnvArchive(work, "env.tar.zst", options);
    await fn({ work, archive, manifest, store: `${work}/store` });
  });
}

Deno.test("usage errors are exit 1, a missing environment exit 2, one line each", async () => {
  let r = await ponchoOut(["run", "--", "true"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /-e\/--environment is required/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  r = await ponchoOut(["run", "--bogus", "-e", "x"]);
  assert.equal(r.code, 1);
  r = await ponchoOut(["run", "-e", "/nonexistent/env.tar.zst", "--", "true"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /does not exist/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  r = await ponchoOut(["run", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--wait-for-lock/);
});

Deno.test({
  name: "store: first run unpacks, second finds it; exit codes; command not found is 4",
  ignore: !available,
  fn: () =>
    withEnv({}, async ({ archive, manifest, store }) => {
      let r = await ponchoOut([...inStore(store, archive, "-d"), "hello"]);
      assert.equal(r.code, 0, r.stderr);
      const prefix = `${store}/v1/envs/${manifest.id}`;
      assert.equal(r.stdout.trim(), `${prefix}|hello from share`);
      assert.match(r.stderr, /unpacked environment/);
      r = await ponchoOut([
        ...inStore(store, archive, "-d"),
        "sh",
        "-c",
        'echo "$PONCHO_TEST_ACTIVATED|$CONDA_PREFIX|${PYTHONPATH-unset}"; exit 5',
      ], { PYTHONPATH: "/bad" });
      assert.equal(r.code, 5);
      assert.match(r.stderr, /found environment/);
      assert.equal(r.stdout.trim(), `yes:${prefix}|${prefix}|unset`);
      r = await ponchoOut([...inStore(store, archive), "--", "no-such-cmd-x"]);
      assert.equal(r.code, 4);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.match(r.stderr, /no-such-cmd-x/);
      r = await ponchoOut([...inStore(store, archive), "sh", "-c", "kill -TERM $$"]);
      assert.equal(r.code, 143);

      // The command takes poncho's process (execve): same pid, its own death, SIGPIPE not
      // ignored, the environment's lock on an inherited descriptor, no owner temp dir left.
      const child = poncho([
        ...inStore(store, archive),
        "sh",
        "-c",
        'echo "$$"; grep "^SigIgn" /proc/self/status; ls -l /proc/self/fd/; kill -TERM $$',
      ]).spawn();
      const out = await child.output();
      const [pid, sigIgn] = new TextDecoder().decode(out.stdout).split("\n");
      assert.equal(Number(pid), child.pid, "the command runs in poncho's process");
      assert.equal(out.signal, "SIGTERM");
      assert.equal(BigInt(`0x${sigIgn.split(/\s+/)[1]}`) & (1n << 12n), 0n, "SIGPIPE ignored");
      assert.match(new TextDecoder().decode(out.stdout), new RegExp(`${manifest.id}\\.lock`));
      assert.deepEqual(
        [...Deno.readDirSync(`${store}/v1/tmp`)].filter((e) => e.name.startsWith("o-")),
        [],
      );

      // store list / path / gc
      r = await ponchoOut(["store", "list", "--json", "--store", store]);
      const list = JSON.parse(r.stdout);
      assert.equal(list.length, 1);
      assert.equal(list[0].id, manifest.id);
      assert.equal(list[0].source, archive);
      assert.ok(list[0].size > 1000);
      r = await ponchoOut(["store", "path", archive, "--store", store]);
      assert.equal(r.stdout.trim(), prefix);
      r = await ponchoOut(["store", "gc", "--older-than", "0", "--store", store]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /removed/);
      await assert.rejects(Deno.stat(prefix), Deno.errors.NotFound);
      r = await ponchoOut(["store", "list", "--json", "--store", store]);
      assert.deepEqual(JSON.parse(r.stdout), []);
    }),
});

Deno.test({
  name: "gc never removes an environment a running poncho run holds",
  ignore: !available,
  fn: () =>
    withEnv({}, async ({ work, archive, manifest, store }) => {
      const flag = `${work}/running`;
      const child = poncho([
        ...inStore(store, archive),
        "sh",
        "-c",
        `touch ${flag}; sleep 3`,
      ]).spawn();
      for (let i = 0; i < 400; i++) {
        if (await Deno.stat(flag).then(() => true, () => false)) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      const r = await ponchoOut(["store", "gc", "--max-size", "0", "--store", store]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /kept .* in use/);
      assert.ok((await Deno.stat(`${store}/v1/envs/${manifest.id}/bin/hello`)).isFile);
      const status = await child.output();
      assert.equal(status.code, 0);
      const r2 = await ponchoOut(["store", "gc", "--max-size", "0", "--store", store]);
      assert.match(r2.stdout, /removed/);
    }),
});

Deno.test({
  name: "16 concurrent cold starts: exactly one unpack, all succeed",
  ignore: !available,
  fn: () =>
    withEnv({
      fillerBytes: 20 << 20,
      fillerFiles: 400,
    }, async ({ archive, store }) => {
      const runs = Array.from({ length: 16 }, (_, i) =>
        ponchoOut([
          ...inStore(store, archive, "-d"),
          "--",
          "python",
          "-c",
          `import ponchomod; print(${i}, ponchomod.PREFIX)`,
        ]));
      const results = await Promise.all(runs);
      for (const [i, r] of results.entries()) {
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^${i} ${store}/v1/envs/`));
      }
      const unpacks = results.filter((r) => /unpacked environment/.test(r.stderr)).length;
      assert.equal(unpacks, 1);
      assert.deepEqual(await Array.fromAsync(Deno.readDir(`${store}/v1/tmp`)), []);
    }),
});

Deno.test({
  name: "kill -9 at each phase of an unpack leaves nothing used; the next run is correct",
  ignore: !available,
  fn: () =>
    withEnv({
      fillerBytes: 40 << 20,
      fillerFiles: 2000,
    }, async ({ archive, manifest, store }) => {
      const prefix = `${store}/v1/envs/${manifest.id}`;
      const check = async () => {
        const r = await ponchoOut([...inStore(store, archive), "hello"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), `${prefix}|hello from share`);
        const files = await Array.fromAsync(Deno.readDir(`${prefix}/lib/filler/d0`));
        assert.equal(files.length, Math.ceil(2000 / 64));
        // Nothing left but, at most, the empty temp dir of the killed process (gc sweeps it).
        assert.deepEqual(leftoverTemps(storeLayout(store)), []);
        await Deno.remove(store, { recursive: true });
      };
      for (const phase of ["unpack-start", "built", "before-rename", "after-rename"]) {
        const r = await ponchoOut([...inStore(store, archive), "hello"], {
          PONCHO_FAULT: phase,
        });
        assert.equal(r.code, 137, `phase ${phase}: ${r.stderr}`);
        await check();
      }
      // Timing loop: kill -9 mid-extraction at several delays.
      for (const delay of [150, 300, 500, 800]) {
        const child = poncho([...inStore(store, archive), "hello"]).spawn();
        await new Promise((r) => setTimeout(r, delay));
        try {
          child.kill("SIGKILL");
        } catch { /* the unpack and the command were faster than the delay */ }
        await child.output();
        const r = await ponchoOut([...inStore(store, archive), "hello"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), `${prefix}|hello from share`);
        await check();
      }
    }),
});

Deno.test({
  name: "-u DIR relocates to DIR; --tmp is removed only after the command exits",
  ignore: !available,
  fn: () =>
    withEnv({}, async ({ work, archive }) => {
      const dir = `${work}/unpacked-here`;
      let r = await ponchoOut(["run", "-u", dir, "-e", archive, "--", "hello"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `${dir}|hello from share`);
      r = await ponchoOut(["run", "-u", dir, "-e", archive, "--", "greet", "a"]);
      assert.equal(r.stdout.trim(), `greet ${dir} ['a']`);

      // --tmp with SIGTERM: the command sees it, its env still exists, then it is removed.
      const child = poncho([
        "run",
        "--tmp",
        "-e",
        archive,
        "sh",
        "-c",
        `trap 'sleep 0.3; test -x "$CONDA_PREFIX/bin/hello" && echo env-present; exit 9' TERM; ` +
        'echo "$CONDA_PREFIX"; while :; do sleep 0.05; done',
      ]).spawn();
      const reader = child.stdout.getReader();
      const first = new TextDecoder().decode((await reader.read()).value).trim();
      assert.match(first, /poncho-run-.*\/env$/);
      child.kill("SIGTERM");
      const rest = await readToEnd(reader);
      const status = await child.status;
      await child.stderr.cancel();
      assert.equal(rest.trim(), "env-present");
      assert.equal(status.code, 9);
      await assert.rejects(Deno.stat(first), Deno.errors.NotFound);
    }),
});

const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);

Deno.test({
  name: "--tmp: a signal during the unpack removes the temp dir and exits 128+N",
  ignore: !available,
  fn: () =>
    withEnv({
      fillerBytes: 64 << 20,
      fillerFiles: 3000,
    }, async ({ work, archive }) => {
      const tmpdir = `${work}/tmpdir`;
      await Deno.mkdir(tmpdir);
      const flag = `${work}/command-started`;
      const codes: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
      for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
        const child = poncho(
          ["run", "--tmp", "-d", "-e", archive, "--", "touch", flag],
          { TMPDIR: tmpdir },
        ).spawn();
        // Wait until the unpack has written files into the temp dir, then signal.
        let unpacking = false;
        for (let i = 0; i < 2000 && !unpacking; i++) {
          for (const e of Deno.readDirSync(tmpdir)) {
            if (e.name.startsWith("poncho-run-")) {
              unpacking = await exists(`${tmpdir}/${e.name}/env/lib/filler/d1`);
            }
          }
          if (!unpacking) await new Promise((r) => setTimeout(r, 5));
        }
        assert.ok(unpacking, `${signal}: the unpack never started`);
        child.kill(signal);
        const out = await child.output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(await exists(flag), false, `${signal}: the unpack finished first`);
        assert.equal(out.code, codes[signal], `${signal}: ${stderr}`);
        assert.equal(out.signal, null);
        assert.match(stderr, new RegExp(`${signal} during the unpack: removed`));
        const left = Array.from(Deno.readDirSync(tmpdir), (e) => e.name)
          .filter((n) => n.startsWith("poncho-run-"));
        assert.deepEqual(left, [], `${signal}: temp dir left behind`);
      }
      // Without a signal the command runs and the temp dir is removed afterwards.
      const r = await ponchoOut(["run", "--tmp", "-e", archive, "--", "touch", flag], {
        TMPDIR: tmpdir,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(await exists(flag));
      assert.deepEqual(
        Array.from(Deno.readDirSync(tmpdir), (e) => e.name).filter((n) =>
          n.startsWith("poncho-run-")
        ),
        [],
      );
    }),
});

Deno.test({
  name: "a directory that is not an environment is refused with exit 2, naming it",
  ignore: !available,
  fn: () =>
    withWork(async (work) => {
      const empty = `${work}/emptydir`;
      await Deno.mkdir(empty);
      const store = `${work}/store`;
      for (const args of [["-e", "/etc"], ["-e", empty], ["--tmp", "-e", empty]]) {
        const r = await ponchoOut(["run", "--store", store, ...args, "--", "true"]);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.ok(r.stderr.includes(args[args.length - 1]), r.stderr);
        assert.match(r.stderr, /is not an environment/);
      }
      // Relative: named as given.
      let r = await ponchoOut(["run", "-e", "emptydir", "--", "true"], {}, work);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /directory emptydir is not an environment/);
      assert.equal(await exists(store), false);

      // A plain prefix with bin/ (or conda-meta/) still runs in place.
      await Deno.mkdir(`${work}/plain/bin`, { recursive: true });
      await Deno.writeTextFile(`${work}/plain/bin/hi`, '#!/bin/sh\necho "hi $CONDA_PREFIX"\n', {
        mode: 0o755,
      });
      r = await ponchoOut(["run", "-e", `${work}/plain`, "--", "hi"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `hi ${work}/plain`);
      await Deno.mkdir(`${work}/condaonly/conda-meta`, { recursive: true });
      r = await ponchoOut(["run", "-e", `${work}/condaonly`, "--", "true"]);
      assert.equal(r.code, 0, r.stderr);
    }),
});

Deno.test({
  name: "the store records the absolute path of a source given relative",
  ignore: !available,
  fn: () =>
    withWork(async (work) => {
      await Deno.mkdir(`${work}/out`);
      const { archive } = await makeEnvArchive(`${work}/out`);
      const store = `${work}/store`;
      const r = await ponchoOut(
        ["run", "--store", store, "-e", "out/env.tar.zst", "--", "true"],
        {},
        work,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(archive, `${work}/out/env.tar.zst`);
      const list = JSON.parse(
        (await ponchoOut(["store", "list", "--json", "--store", store]))
          .stdout,
      );
      assert.equal(list.length, 1);
      assert.equal(list[0].source, archive);
      const marker = JSON.parse(await Deno.readTextFile(`${list[0].path}/.poncho/ready.json`));
      assert.equal(marker.source, archive);
    }),
});

const CONDA_UNPACK_SCRIPT = `#!/opt/anaconda1anaconda2anaconda3/bin/python
# A stand-in for conda-pack's conda-unpack: rewrites the build prefix to where it lies.
import os

OLD = "/opt/conda-pack-build/envs/demo"
prefix = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for rel in ["share/where.txt", "etc/demo.cfg"]:
    path = os.path.join(prefix, rel)
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace(OLD, prefix))
with open(os.path.join(prefix, "share", "unpack-count"), "a") as f:
    f.write("x")
`;

Deno.test({
  name: "a conda-pack archive (bin/conda-unpack, no manifest) is relocated by its own script",
  ignore: !available,
  fn: () =>
    withWork(async (work) => {
      const tree = `${work}/conda-pack-tree`;
      for (const d of ["bin", "share", "etc", "conda-meta"]) {
        await Deno.mkdir(`${tree}/${d}`, { recursive: true });
      }
      const python3 = new TextDecoder().decode(
        (await new Deno.Command("python3", {
          args: ["-c", "import os, sys; print(os.path.realpath(sys.executable))"],
        }).output()).stdout,
      ).trim();
      // bin/python runs the machine's python3. Not a symlink to it: poncho refuses links
      // pointing outside the environment, so a wrapper stands in for conda's own binary.
      await Deno.writeTextFile(`${tree}/bin/python`, `#!/bin/sh\nexec ${python3} "$@"\n`, {
        mode: 0o755,
      });
      await Deno.symlink("python", `${tree}/bin/python3`);
      await Deno.writeTextFile(`${tree}/bin/conda-unpack`, CONDA_UNPACK_SCRIPT, { mode: 0o755 });
      await Deno.writeTextFile(
        `${tree}/share/where.txt`,
        "prefix=/opt/conda-pack-build/envs/demo\n",
      );
      await Deno.writeTextFile(
        `${tree}/etc/demo.cfg`,
        "data=/opt/conda-pack-build/envs/demo/share\n",
      );
      await Deno.writeTextFile(`${tree}/conda-meta/history`, "");
      const archive = `${work}/it.tar.gz`;
      const tar = await new Deno.Command("tar", {
        args: ["-czf", archive, "-C", tree, "bin", "conda-meta", "etc", "share"],
      }).output();
      assert.ok(tar.success, new TextDecoder().decode(tar.stderr));

      const store = `${work}/store`;
      const missing = await ponchoOut(["store", "path", archive, "--store", store]);
      assert.equal(missing.code, 2, missing.stderr);
      assert.match(
        missing.stderr,
        /is not unpacked in .* yet \(it will be .*\): run 'poncho run -e /,
      );
      const prefix = (await ponchoOut(["store", "path", "--planned", archive, "--store", store]))
        .stdout.trim();
      assert.match(prefix, new RegExp(`^${store}/v1/envs/archive-[0-9a-f]+$`));
      let r = await ponchoOut([
        ...inStore(store, archive),
        "--",
        "cat",
        `${prefix}/share/where.txt`,
        `${prefix}/etc/demo.cfg`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `prefix=${prefix}\ndata=${prefix}/share\n`);
      // Warm: found, not relocated again.
      r = await ponchoOut([
        ...inStore(store, archive),
        "--",
        "sh",
        "-c",
        'cat "$CONDA_PREFIX/share/unpack-count"',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "x");

      const dir = `${work}/unpacked-conda-pack`;
      r = await ponchoOut(["run", "-u", dir, "-e", archive, "--", "cat", `${dir}/share/where.txt`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `prefix=${dir}\n`);
      r = await ponchoOut([
        "run",
        "--tmp",
        "-e",
        archive,
        "--",
        "sh",
        "-c",
        'cat "$CONDA_PREFIX/share/where.txt"; echo "$CONDA_PREFIX"',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const [line, tmpPrefix] = r.stdout.trim().split("\n");
      assert.match(tmpPrefix, /poncho-run-.*\/env$/);
      assert.equal(line, `prefix=${tmpPrefix}`);
    }),
});

Deno.test({
  name: "a cold run releases the archive's identity lock before the command starts",
  ignore: !available || !hasCommand("flock"),
  fn: () =>
    withEnv({}, async ({ archive, store }) => {
      const lock = `${store}/v1/locks/source-${(await sha256Hex(archive)).slice(0, 32)}.lock`;
      // The first run reads the archive's identity under that lock; a burst's other starts wait
      // on it, so they must not wait for the command too.
      const r = await ponchoOut([
        ...inStore(store, archive),
        "sh",
        "-c",
        'flock -n -x "$1" true && echo free || echo held',
        "sh",
        lock,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "free");
    }),
});

Deno.test({
  name: "store path: a ready marker that cannot be read is an error (exit 3), not 'not unpacked'",
  ignore: !available,
  fn: () =>
    withEnv({}, async ({ archive, manifest, store }) => {
      let r = await ponchoOut([...inStore(store, archive), "true"]);
      assert.equal(r.code, 0, r.stderr);
      const marker = `${store}/v1/envs/${manifest.id}/.poncho/ready.json`;
      await Deno.remove(marker);
      r = await ponchoOut(["store", "path", archive, "--store", store]);
      assert.equal(r.code, 2); // no marker: not unpacked (yet)
      assert.match(r.stderr, /not unpacked/);
      await Deno.mkdir(marker); // EISDIR on read, as EACCES would be for another user
      r = await ponchoOut(["store", "path", archive, "--store", store]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /cannot read the ready marker .*ready\.json: is a directory/);
      assert.equal(r.stderr.trim().split("\n").length, 1);
    }),
});
