import assert from "node:assert/strict";
import { fixtureToolsAvailable, makeEnvArchive } from "../lib/env/test_env.ts";

const available = fixtureToolsAvailable();
if (!available) console.log("run_test: gcc, GNU tar, zstd or python3 missing; tests skipped");

const MAIN = new URL("./main.ts", import.meta.url).pathname;
/** Extra deno flags for the spawned CLI (e.g. an import map while a module is missing). */
const EXTRA = Deno.env.get("PONCHO_TEST_IMPORT_MAP")
  ? ["--import-map", Deno.env.get("PONCHO_TEST_IMPORT_MAP")!]
  : [];

function poncho(args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", ...EXTRA, MAIN, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function ponchoOut(args: string[], env: Record<string, string> = {}) {
  const out = await poncho(args, env).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

async function withWork(fn: (work: string) => Promise<void>) {
  const work = await Deno.makeTempDir({ prefix: "poncho-run-test-" });
  try {
    await fn(work);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
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
    withWork(async (work) => {
      const { archive, manifest } = await makeEnvArchive(work);
      const store = `${work}/store`;
      let r = await ponchoOut(["run", "-d", "--store", store, "-e", archive, "hello"]);
      assert.equal(r.code, 0, r.stderr);
      const prefix = `${store}/v1/envs/${manifest.id}`;
      assert.equal(r.stdout.trim(), `${prefix}|hello from share`);
      assert.match(r.stderr, /unpacked environment/);
      r = await ponchoOut([
        "run",
        "-d",
        "--store",
        store,
        "-e",
        archive,
        "sh",
        "-c",
        'echo "$PONCHO_TEST_ACTIVATED|$CONDA_PREFIX|${PYTHONPATH-unset}"; exit 5',
      ], { PYTHONPATH: "/bad" });
      assert.equal(r.code, 5);
      assert.match(r.stderr, /found environment/);
      assert.equal(r.stdout.trim(), `yes:${prefix}|${prefix}|unset`);
      r = await ponchoOut(["run", "--store", store, "-e", archive, "--", "no-such-cmd-x"]);
      assert.equal(r.code, 4);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.match(r.stderr, /no-such-cmd-x/);
      r = await ponchoOut(["run", "--store", store, "-e", archive, "sh", "-c", "kill -TERM $$"]);
      assert.equal(r.code, 143);

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
    withWork(async (work) => {
      const { archive, manifest } = await makeEnvArchive(work);
      const store = `${work}/store`;
      const flag = `${work}/running`;
      const child = poncho([
        "run",
        "--store",
        store,
        "-e",
        archive,
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
    withWork(async (work) => {
      const { archive } = await makeEnvArchive(work, "env.tar.zst", {
        fillerBytes: 20 << 20,
        fillerFiles: 400,
      });
      const store = `${work}/store`;
      const runs = Array.from({ length: 16 }, (_, i) =>
        ponchoOut([
          "run",
          "-d",
          "--store",
          store,
          "-e",
          archive,
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
    withWork(async (work) => {
      const { archive, manifest } = await makeEnvArchive(work, "env.tar.zst", {
        fillerBytes: 40 << 20,
        fillerFiles: 2000,
      });
      const store = `${work}/store`;
      const prefix = `${store}/v1/envs/${manifest.id}`;
      const check = async () => {
        const r = await ponchoOut(["run", "--store", store, "-e", archive, "hello"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), `${prefix}|hello from share`);
        const files = await Array.fromAsync(Deno.readDir(`${prefix}/lib/filler/d0`));
        assert.equal(files.length, Math.ceil(2000 / 64));
        assert.deepEqual(await Array.fromAsync(Deno.readDir(`${store}/v1/tmp`)), []);
        await Deno.remove(store, { recursive: true });
      };
      for (const phase of ["unpack-start", "built", "before-rename", "after-rename"]) {
        const r = await ponchoOut(["run", "--store", store, "-e", archive, "hello"], {
          PONCHO_TEST_KILL_AT: phase,
        });
        assert.equal(r.code, 137, `phase ${phase}: ${r.stderr}`);
        await check();
      }
      // Timing loop: kill -9 mid-extraction at several delays.
      for (const delay of [150, 300, 500, 800]) {
        const child = poncho(["run", "--store", store, "-e", archive, "hello"]).spawn();
        await new Promise((r) => setTimeout(r, delay));
        child.kill("SIGKILL");
        await child.output();
        const r = await ponchoOut(["run", "--store", store, "-e", archive, "hello"]);
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
    withWork(async (work) => {
      const { archive } = await makeEnvArchive(work);
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
      let rest = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        rest += new TextDecoder().decode(value);
      }
      const status = await child.status;
      await child.stderr.cancel();
      assert.equal(rest.trim(), "env-present");
      assert.equal(status.code, 9);
      await assert.rejects(Deno.stat(first), Deno.errors.NotFound);
    }),
});
