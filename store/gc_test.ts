import assert from "node:assert/strict";
import { fixtureToolsAvailable, makeEnvArchive } from "../tests/fixtures/env_archive.ts";
import { sha256Hex } from "./index.ts";
import { evalChild, runPoncho, withTempDir } from "../tests/util.ts";

const available = fixtureToolsAvailable();
if (!available) console.log("gc_test: gcc, GNU tar, zstd or python3 missing; tests skipped");

function poncho(args: string[], env: Record<string, string> = {}) {
  return runPoncho(args, { env, denoFlags: [] });
}

interface SweptJson {
  name: string;
  path: string;
  kind: string;
  size: number;
}

async function gcJson(store: string, ...extra: string[]) {
  const r = await poncho(["store", "gc", "--json", "--store", store, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    removed: { id: string }[];
    skipped: { id: string }[];
    swept: SweptJson[];
    freed: number;
  };
  // Temp dirs of processes and dead lock files are swept too; tests/faults_test.ts covers those.
  out.swept = out.swept.filter((s) => s.kind !== "owner" && s.kind !== "lock");
  return out;
}

/** Another process holding `path` exclusively (flock), until `release()`. */
async function holdLock(path: string) {
  const code = `const f = Deno.openSync(${JSON.stringify(path)}, ` +
    `{ read: true, write: true, create: true }); f.lockSync(true); console.log("locked"); ` +
    `for await (const _ of Deno.stdin.readable) { /* until closed */ }`;
  const held = await evalChild(code);
  assert.equal(held.first, "locked");
  return {
    async release() {
      await held.stop();
    },
  };
}

const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);
/** Names in `tmp/`, but for the (empty) temp dirs of processes, which `store/owner.ts` tests. */
const tmpNames = (store: string) =>
  Array.from(Deno.readDirSync(`${store}/v1/tmp`), (e) => e.name)
    .filter((n) => !/^o-\d+-/.test(n)).sort();

function withWork(fn: (work: string) => Promise<void>): Promise<void> {
  return withTempDir("poncho-gc-test-", fn);
}

Deno.test({
  name: "gc sweeps a killed unpack's temp tree only when its environment lock is free",
  ignore: !available,
  fn: () =>
    withWork(async (work) => {
      const a = await makeEnvArchive(work, "a.tar.zst", { fillerBytes: 4 << 20, fillerFiles: 50 });
      const b = await makeEnvArchive(work, "b.tar.zst", { fillerBytes: 4 << 20, fillerFiles: 50 });
      const store = `${work}/store`;
      // Two unpacks killed (SIGKILL) after extraction: their temp trees stay in tmp/.
      for (const archive of [a.archive, b.archive]) {
        const r = await poncho(["run", "--store", store, "-e", archive, "true"], {
          PONCHO_FAULT: "built",
        });
        assert.equal(r.code, 137, r.stderr);
      }
      const left = tmpNames(store);
      assert.equal(left.length, 2);
      const hashB = (await sha256Hex(`${store}/v1/envs/${b.manifest.id}`)).slice(0, 16);
      const leftB = left.find((n) => n.startsWith(`.poncho-tmp-${hashB}-`))!;
      const leftA = left.find((n) => n !== leftB)!;
      assert.ok(leftB && leftA);

      // B's lock is held (as by a process unpacking it): only A's leftover is swept.
      const held = await holdLock(`${store}/v1/locks/env-${b.manifest.id}.lock`);
      let out: Awaited<ReturnType<typeof gcJson>>;
      try {
        out = await gcJson(store); // no limits: sweeps leftovers, removes no environment
      } finally {
        await held.release();
      }
      out.swept = out.swept.filter((s) => s.kind !== "owner" && s.kind !== "lock");
      assert.deepEqual(out.swept.map((s) => [s.name, s.kind]), [[leftA, "unpack"]]);
      assert.ok(out.swept[0].size >= 4 << 20);
      assert.equal(out.freed, out.swept[0].size);
      assert.deepEqual(out.removed, []);
      assert.deepEqual(tmpNames(store), [leftB]);

      // Released: B's leftover goes too (text output names it).
      const r = await poncho(["store", "gc", "--store", store]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`swept .*${leftB} .*killed unpack`));
      assert.deepEqual(tmpNames(store), []);

      // And the environments still unpack correctly afterwards.
      for (const archive of [a.archive, b.archive]) {
        const ok = await poncho(["run", "--store", store, "-e", archive, "hello"]);
        assert.equal(ok.code, 0, ok.stderr);
        assert.match(ok.stdout, /hello from share/);
      }
    }),
});

Deno.test({
  name: "gc sweeps killed create builds and interrupted removals by their locks, others by age",
  fn: () =>
    withWork(async (work) => {
      const store = `${work}/store`;
      const tmp = `${store}/v1/tmp`;
      const locks = `${store}/v1/locks`;
      await Deno.mkdir(tmp, { recursive: true });
      await Deno.mkdir(locks, { recursive: true });
      const hash = "0123456789abcdef".repeat(4);
      const build = `b-${hash.slice(0, 12)}-a1b2c3`;
      await Deno.mkdir(`${tmp}/${build}/lib`, { recursive: true });
      await Deno.writeFile(`${tmp}/${build}/lib/big`, new Uint8Array(100_000));
      await Deno.chmod(`${tmp}/${build}/lib`, 0o555); // read-only dirs are removed too
      const removal = "gc-some-env-1-deadbeef";
      await Deno.mkdir(`${tmp}/${removal}/bin`, { recursive: true });
      await Deno.writeTextFile(`${locks}/env-some-env-1.lock`, "");
      const fresh = "download-x1y2z3"; // no owner lock: kept until a day old
      await Deno.writeFile(`${tmp}/${fresh}`, new Uint8Array(10));
      const old = "repodata-q9w8e7";
      await Deno.writeFile(`${tmp}/${old}`, new Uint8Array(20));
      const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
      await Deno.utime(`${tmp}/${old}`, twoDaysAgo, twoDaysAgo);
      const orphan = ".poncho-tmp-00112233aabbccdd-77-0f0f0f0f"; // no matching env lock
      await Deno.mkdir(`${tmp}/${orphan}`);

      // A `poncho create` of that spec is running (holds the create lock).
      const create = await holdLock(`${locks}/create-${hash}.lock`);
      const removing = await holdLock(`${locks}/env-some-env-1.lock`);
      let out: Awaited<ReturnType<typeof gcJson>>;
      try {
        out = await gcJson(store, "--older-than", "30");
      } finally {
        await create.release();
      }
      assert.deepEqual(out.swept.map((s) => [s.name, s.kind]), [[old, "stale"]]);
      assert.equal(out.swept[0].size, 20);
      assert.deepEqual(tmpNames(store), [orphan, build, fresh, removal].sort());

      // The create is gone (killed): its build dir is swept; the removal's lock is still held.
      out = await gcJson(store);
      assert.deepEqual(out.swept.map((s) => [s.name, s.kind]), [[build, "create"]]);
      assert.equal(out.swept[0].size, 100_000);
      await removing.release();
      out = await gcJson(store);
      assert.deepEqual(out.swept.map((s) => [s.name, s.kind]), [[removal, "gc"]]);
      assert.deepEqual(tmpNames(store), [orphan, fresh].sort());
      assert.ok(await exists(`${tmp}/${fresh}`));
    }),
});
