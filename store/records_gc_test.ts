import assert from "node:assert/strict";
import type { StoreLayout } from "./layout.ts";
import { gc } from "./gc.ts";
import { listEnvs } from "./list.ts";
import { readIndex, sourcePath, writeIndex } from "./index.ts";
import { writeMarker } from "./marker.ts";
import { acquireLock } from "./lock.ts";
import { buildCacheLockPath, cacheItems } from "./cache_gc.ts";
import { withTempLayout } from "../tests/util.ts";

const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000);

async function readyEnv(layout: StoreLayout, id: string): Promise<void> {
  const path = `${layout.envs}/${id}`;
  await Deno.mkdir(path, { recursive: true });
  await writeMarker(path, {
    format: 1,
    id,
    prefix: path,
    activateScripts: [],
    source: `/src/${id}.tar.zst`,
    size: 1,
    unpacked: new Date().toISOString(),
  });
  await writeIndex(layout, { id, source: `/src/${id}.tar.zst`, created: "t", size: 1 });
}

async function write(path: string, text: string, mtime?: Date): Promise<string> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, text);
  if (mtime) await Deno.utime(path, mtime, mtime);
  return path;
}

/** A store with live and dead records of every kind; returns the paths of each. */
async function recordStore(layout: StoreLayout) {
  await readyEnv(layout, "live");
  const archive = await write(`${layout.root}/a.tar.zst`, "archive");
  const warm = (env: string) =>
    `1 7 0.000 1\n${archive}\n${env}\n${layout.envs}/${env}\n${layout.locks}/env-${env}.lock\n`;
  const auto = `${layout.index}/auto`;
  const script = await write(`${layout.root}/script.py`, "import os\n");
  const st = await Deno.stat(script);
  const analysis = (key: string, size: number) =>
    write(
      `${auto}/analysis-${key}.json`,
      JSON.stringify({
        key,
        files: [{ path: script, size, mtimeMs: st.mtime!.getTime() }],
        dirs: [],
      }),
    );
  const keep = [
    `${layout.index}/live.json`,
    await write(await sourcePath(layout, archive), JSON.stringify({ path: archive })),
    await write(await sourcePath(layout, `${archive}.x`, "warm"), warm("live")),
    await write(`${auto}/spec-aa.json`, JSON.stringify({ hash: "aa", id: "live" })),
    await analysis("a1", st.size),
    await write(`${auto}/.spec-cc.json.tmp-89abcdef`, "{"), // a writer at work
    await write(`${layout.index}/archives/kept.tar.zst.json`, "{}"),
  ];
  await write(`${layout.archives}/kept.tar.zst`, "archive");
  const gone = {
    env: await write(`${layout.index}/gone.json`, JSON.stringify({ id: "gone" })),
    damaged: await write(`${layout.index}/cut.json`, '{"id": "cu'),
    source: await write(
      await sourcePath(layout, "/no/such.tar.zst"),
      JSON.stringify({ path: "/no/such.tar.zst" }),
    ),
    warm: await write(await sourcePath(layout, archive, "warm"), warm("gone")),
    damagedSource: await write(await sourcePath(layout, "/x", "json"), "{"),
    spec: await write(`${auto}/spec-bb.json`, JSON.stringify({ hash: "bb", id: "gone" })),
    analysis: await analysis("a2", st.size + 1), // the script changed since
    tmp: await write(`${auto}/.spec-dd.json.tmp-0123abcd`, "{", daysAgo(2)),
    oldTmp: await write(`${auto}/spec-ee.json.4242.0123abcd.tmp`, "{", daysAgo(2)),
    holderTmp: await write(`${layout.locks}/.x.lock.holder.tmp-0123abcd`, "{", daysAgo(2)),
    archive: await write(`${layout.index}/archives/gone.tar.zst.json`, "{}"),
  };
  return { keep, gone };
}

Deno.test("gc removes the records of environments, archives and specs that are gone", () =>
  withTempLayout(async (layout) => {
    const { keep, gone } = await recordStore(layout);
    const dry = await gc(layout, { dryRun: true });
    assert.deepEqual(dry.swept, []); // a dry run sweeps nothing
    const out = await gc(layout, {});
    const swept = out.swept.filter((s) => s.kind !== "lock" && s.kind !== "owner");
    assert.deepEqual(swept.map((s) => s.path).sort(), Object.values(gone).sort());
    for (const p of [gone.tmp, gone.oldTmp, gone.holderTmp]) {
      assert.equal(swept.find((s) => s.path === p)?.kind, "stale");
    }
    for (const p of Object.values(gone)) assert.ok(!await exists(p), p);
    for (const p of keep) assert.ok(await exists(p), p);
    assert.deepEqual((await readIndex(layout)).entries.map((e) => e.id), ["live"]);
    // The locks gc took to remove them are gone too.
    assert.ok(!await exists(`${layout.locks}/env-gone.lock`));
    assert.ok(!await exists(`${layout.locks}/create-bb.lock`));
  }));

Deno.test("gc keeps a dead record while its owner's lock is held", () =>
  withTempLayout(async (layout) => {
    const { gone } = await recordStore(layout);
    // An unpack of `gone`, a build of spec bb and a build reading the caches are running.
    const held = [
      await acquireLock(`${layout.locks}/env-gone.lock`),
      await acquireLock(`${layout.locks}/create-bb.lock`),
      await acquireLock(buildCacheLockPath(layout), { exclusive: false }),
    ];
    try {
      await gc(layout, {});
    } finally {
      for (const h of held) h.release();
    }
    for (const p of [gone.env, gone.spec, gone.archive]) assert.ok(await exists(p), p);
    assert.ok(!await exists(gone.warm)); // lock-free records go at once
    await gc(layout, {});
    for (const p of [gone.env, gone.spec, gone.archive]) assert.ok(!await exists(p), p);
  }));

Deno.test("list reports a damaged index record: rewritten when its environment is ready", () =>
  withTempLayout(async (layout) => {
    await readyEnv(layout, "live");
    await write(`${layout.index}/live.json`, "{ cut");
    await write(`${layout.index}/gone.json`, "[]");
    const warnings: string[] = [];
    const envs = await listEnvs(layout, (w) => warnings.push(w));
    assert.deepEqual(envs.map((e) => e.id), ["live"]);
    assert.equal(warnings.length, 2);
    assert.match(warnings.find((w) => w.includes("live.json"))!, /damaged.*rewritten/);
    assert.match(warnings.find((w) => w.includes("gone.json"))!, /poncho store gc removes it/);
    assert.deepEqual((await readIndex(layout)).damaged, [`${layout.index}/gone.json`]);
  }));

Deno.test("gc sweeps the temps killed writers left beside shards once a day old; no cache items", () =>
  withTempLayout(async (layout) => {
    const shards = `${layout.repodata}/shards`;
    const shard = await write(`${shards}/${"a".repeat(64)}.json`, "{}");
    const name = shard.slice(shard.lastIndexOf("/") + 1);
    const fresh = await write(`${shards}/.${name}.tmp-0123abcd`, "{");
    const old = await write(`${shards}/.${name}.tmp-4567cdef`, "{", daysAgo(2));
    const older = await write(`${shard}.tmp-89abcdef`, "{", daysAgo(2)); // an earlier version's
    assert.deepEqual((await cacheItems(layout)).map((i) => i.path), [shard]);
    const out = await gc(layout, {});
    assert.deepEqual(out.swept.map((s) => [s.path, s.kind]).sort(), [
      [old, "stale"],
      [older, "stale"],
    ]);
    assert.ok(await exists(fresh) && await exists(shard));
  }));

Deno.test("gc collects old runtimes, never one started within a day, running or unpacking", () =>
  withTempLayout(async (layout) => {
    const rt = (c: string) => `${layout.runtime}/${c.repeat(64)}`;
    for (const c of "abcd") {
      await write(`${rt(c)}/deno`, "x".repeat(100));
      if (c !== "b") await Deno.utime(rt(c), daysAgo(3), daysAgo(3));
    }
    await Deno.mkdir(`${layout.locks}/runtime-${"d".repeat(64)}.lockdir`, { recursive: true });
    // A process of this host runs from runtime c (its command line names it).
    const child = new Deno.Command("sh", {
      args: ["-c", "read x", `${rt("c")}/deno`],
      stdin: "piped",
    }).spawn();
    try {
      const dry = await gc(layout, { maxSize: 0, dryRun: true });
      assert.deepEqual(dry.removedCache.map((c) => [c.bucket, c.name]), [[
        "runtime",
        "a".repeat(64),
      ]]);
      assert.ok(await exists(rt("a")));
      const out = await gc(layout, { maxSize: 0 });
      assert.deepEqual(out.removedCache.map((c) => c.path), [rt("a")]);
      assert.deepEqual(out.skippedCache.map((c) => c.path).sort(), [rt("b"), rt("c"), rt("d")]);
      assert.ok(!await exists(rt("a")));
      for (const c of "bcd") assert.ok(await exists(rt(c)));
      assert.ok(out.freed >= 100);
    } finally {
      await child.stdin.close();
      await child.status;
    }
    // Once it has exited, runtime c goes too.
    const out = await gc(layout, { maxSize: 0 });
    assert.deepEqual(out.removedCache.map((c) => c.path), [rt("c")]);
  }));
