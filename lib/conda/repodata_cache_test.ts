import assert from "node:assert/strict";
import { join } from "node:path";
import { storeLayout } from "../../store/layout.ts";
import { NotFoundError } from "../errors.ts";
import { parseChannel } from "./channel.ts";
import { loadRepodata, type RepodataOptions } from "./repodata.ts";
import { type CacheMeta, cachePaths, shardCachePath } from "./repodata_cache.ts";
import { serveChannel } from "../../tests/fixtures/channel.ts";
import { writeSyntheticChannel } from "../../tests/fixtures/synthetic_channel.ts";
import { canDropFileCapabilities, runUnprivileged, withTempDir } from "../../tests/util.ts";

/** Loads linux-64 of `url`, returning how, the records of `name` and the notes logged. */
async function load(url: string, opts: RepodataOptions, name = "pkg-7") {
  const notes: string[] = [];
  const r = await loadRepodata(parseChannel(url), "linux-64", {
    ...opts,
    log: (l) => notes.push(l),
  });
  try {
    return { how: r.how, records: await r.source!.read(name), notes: notes.join("\n") };
  } finally {
    await r.source?.close();
  }
}

const metaOf = (store: string, url: string): [string, CacheMeta] => {
  const paths = cachePaths(storeLayout(store), `${url.replace(/\/$/, "")}/linux-64`);
  return [paths.meta, JSON.parse(Deno.readTextFileSync(paths.meta))];
};

Deno.test("a corrupt repodata cache entry is fetched again with a note; offline it is an error saying so", async () => {
  await withTempDir("poncho-cache-", async (dir) => {
    const ch = await writeSyntheticChannel(join(dir, "ch"), { names: 30 });
    const srv = serveChannel(ch.monolithic);
    try {
      const store = join(dir, "store");
      const opts = { layout: storeLayout(store) };
      const first = await load(srv.url, opts);
      assert.equal(first.how, "downloaded");
      assert.ok(Object.keys(first.records["packages.conda"]).length > 0);

      // The index's name table is damaged: the 304 does not make it usable; it is refetched.
      const [metaPath, meta] = metaOf(store, srv.url);
      const names = join(storeLayout(store).repodata, meta.data!, "names.json");
      await Deno.writeTextFile(names, '{"format": 1, "names": ');
      const second = await load(srv.url, opts);
      assert.equal(second.how, "downloaded");
      assert.match(
        second.notes,
        /repodata cache entry .*\.idx is gone or corrupt; fetching afresh/,
      );
      assert.deepEqual(second.records, first.records);

      // The meta file itself is damaged: refetched, with a note naming it.
      await Deno.writeTextFile(metaPath, "not json");
      const third = await load(srv.url, opts);
      assert.equal(third.how, "downloaded");
      assert.ok(third.notes.includes(`repodata cache entry ${metaPath} is corrupt`), third.notes);
      assert.deepEqual(third.records, first.records);

      // Offline, a damaged entry cannot be refetched: said so (it used to escape as a SyntaxError).
      const [, fresh] = metaOf(store, srv.url);
      await Deno.writeTextFile(join(storeLayout(store).repodata, fresh.data!, "names.json"), "[");
      await assert.rejects(
        load(srv.url, { ...opts, offline: true }),
        (e) =>
          e instanceof NotFoundError && e.exitCode === 2 &&
          /cached repodata is gone or corrupt for .*linux-64\/ \(offline mode\)/.test(e.message),
      );
    } finally {
      await srv.close();
    }
  });
});

Deno.test("a corrupt cached shard is downloaded again with a note", async () => {
  await withTempDir("poncho-cache-", async (dir) => {
    const ch = await writeSyntheticChannel(join(dir, "ch"), { names: 30 });
    const srv = serveChannel(ch.sharded);
    try {
      const layout = storeLayout(join(dir, "store"));
      const first = await load(srv.url, { layout });
      const shardRequests = () =>
        [...srv.requests].filter(([p]) => p.includes("/shards/")).map(([, n]) => n);
      assert.deepEqual(shardRequests(), [1]);
      const hash = [...srv.requests.keys()].find((p) => p.includes("/shards/"))!.slice(-76, -12);
      const cached = shardCachePath(layout, hash);
      await Deno.writeTextFile(cached, '{"packages": 1}');
      const second = await load(srv.url, { layout });
      assert.deepEqual(second.records, first.records);
      assert.deepEqual(shardRequests(), [2]);
      assert.ok(second.notes.includes(`cache entry ${cached} is corrupt`), second.notes);
    } finally {
      await srv.close();
    }
  });
});

Deno.test({
  name:
    "an unreadable repodata cache entry is a permission error naming it (exit 2), not a missing one",
  ignore: !canDropFileCapabilities,
  async fn() {
    await withTempDir("poncho-cache-", async (dir) => {
      const store = join(dir, "store");
      const url = "https://conda.invalid/ch";
      const paths = cachePaths(storeLayout(store), `${url}/linux-64`);
      await Deno.mkdir(paths.dir, { recursive: true });
      await Deno.writeTextFile(paths.meta, JSON.stringify({ url, form: "missing", fetchedAt: "" }));
      await Deno.chmod(paths.meta, 0o000);
      const mod = (rel: string) => JSON.stringify(new URL(rel, import.meta.url).href);
      const text = await runUnprivileged(
        `import { loadRepodata } from ${mod("./repodata.ts")};
import { storeLayout } from ${mod("../../store/layout.ts")};
const [url, store] = Deno.args;
try {
  await loadRepodata({ name: url, url }, "linux-64", { layout: storeLayout(store), offline: true });
  console.log("{}");
} catch (e) {
  console.log(JSON.stringify({ kind: e.kind, exit: e.exitCode, path: e.path, message: e.message }));
}
`,
        [url, store],
      );
      const err = JSON.parse(text);
      // Before, any read error of the meta made it "no cached repodata" (offline: not-found).
      assert.equal(err.kind, "permission", text);
      assert.equal(err.exit, 2);
      assert.equal(err.path, paths.meta);
      assert.match(err.message, /permission denied/);
    });
  },
});
