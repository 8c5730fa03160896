import assert from "node:assert/strict";
import { join } from "node:path";
import { parseChannel } from "./channel.ts";
import { loadChannels, loadRepodata, type SubdirRepodata } from "./repodata.ts";
import type { NameRecords, RepodataRecord } from "./records.ts";
import { NotFoundError, PonchoError } from "../errors.ts";
import { buildTestChannel, serveChannel } from "../../tests/fixtures/channel.ts";
import {
  canDropFileCapabilities,
  fixtureTools,
  runUnprivileged,
  tempLayout,
  withServedStore,
  withTempDir,
  withTempLayout,
} from "../../tests/util.ts";

const tools = await fixtureTools("channel fixture tests");

/** A loopback port with nothing listening on it. */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** repodata.json's records grouped by name, as a per-name source gives them. */
function recordsByName(repodata: Record<string, Record<string, RepodataRecord>>) {
  const out: Record<string, NameRecords> = {};
  for (const section of ["packages", "packages.conda"] as const) {
    for (const [fn, rec] of Object.entries(repodata[section] ?? {})) {
      out[rec.name] ??= { packages: {}, "packages.conda": {} };
      out[rec.name][section][fn] = rec;
    }
  }
  return out;
}

/** Every record of `names` in `sub`, by name. */
async function allRecords(sub: SubdirRepodata, names: string[]) {
  const out: Record<string, NameRecords> = {};
  for (const n of names) if (sub.source?.has(n)) out[n] = await sub.source.read(n);
  return out;
}

Deno.test({
  name: "loadRepodata prefers .zst, caches it, and revalidates with 304",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withServedStore(ch.dir, {}, async (srv, layout) => {
      const channel = parseChannel(srv.url);
      const first = await loadRepodata(channel, "linux-64", { layout });
      assert.equal(first.how, "downloaded");
      assert.equal(first.form, "monolithic");
      assert.equal(first.file, "repodata.json.zst");
      const want = recordsByName(
        JSON.parse(await Deno.readTextFile(join(ch.dir, "linux-64", "repodata.json"))),
      );
      assert.ok(Object.keys(want).length > 1);
      assert.deepEqual(await allRecords(first, Object.keys(want)), want);
      await first.source?.close();
      const second = await loadRepodata(channel, "linux-64", { layout });
      assert.equal(second.how, "not-modified");
      assert.deepEqual(await allRecords(second, Object.keys(want)), want);
      await second.source?.close();
      assert.equal(srv.requests.get("/linux-64/repodata_shards.msgpack.zst"), 1);
      assert.equal(srv.requests.get("/linux-64/repodata.json.zst"), 2);
      assert.equal(srv.requests.get("/linux-64/repodata.json"), undefined);
      assert.equal(srv.statuses.get(304), 1);
      const offline = await loadRepodata(channel, "linux-64", { layout, offline: true });
      assert.equal(offline.how, "cache");
      await offline.source?.close();
      assert.equal(srv.requests.get("/linux-64/repodata.json.zst"), 2);
    });
  },
});

Deno.test({
  name: "loadRepodata falls back to repodata.json and remembers which file it used",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withServedStore(ch.dir, { hide: ["/noarch/repodata.json.zst"] }, async (srv, layout) => {
      const channel = parseChannel(srv.url);
      const first = await loadRepodata(channel, "noarch", { layout });
      assert.equal(first.file, "repodata.json");
      await first.source?.close();
      const second = await loadRepodata(channel, "noarch", { layout });
      assert.equal(second.how, "not-modified");
      await second.source?.close();
      assert.equal(srv.requests.get("/noarch/repodata.json.zst"), 1);
      assert.equal(srv.requests.get("/noarch/repodata.json"), 2);
    });
  },
});

Deno.test({
  name: "loadChannels: missing noarch is fine, retries 5xx, missing channel and offline errors",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    const root = await Deno.makeTempDir({ prefix: "poncho-chan-" });
    await Deno.mkdir(join(root, "linux-64"));
    await Deno.copyFile(
      join(ch.dir, "linux-64", "repodata.json"),
      join(root, "linux-64", "repodata.json"),
    );
    const srv = serveChannel(root, { failTimes: { "/linux-64/repodata.json.zst": 1 } });
    const layout = await tempLayout();
    try {
      const loaded = await loadChannels([parseChannel(srv.url)], "linux-64", { layout });
      assert.deepEqual(loaded.map((l) => [l.subdir, l.source !== null]), [["linux-64", true], [
        "noarch",
        false,
      ]]);
      await loaded[0].source?.close();
      assert.equal(srv.requests.get("/linux-64/repodata.json.zst"), 2); // 503, then 404
      // offline: cached (including "noarch is missing") works
      const off = await loadChannels([parseChannel(srv.url)], "linux-64", {
        layout,
        offline: true,
      });
      assert.equal(off.length, 2);
      await off[0].source?.close();
      await assert.rejects(
        loadChannels([parseChannel(srv.url)], "osx-64", { layout, offline: true }),
        (e) =>
          e instanceof NotFoundError && /offline/.test(e.message) && e.message.includes(srv.url),
      );
      // a channel with neither subdir
      const empty = parseChannel(`${srv.url}nothing-here`);
      await assert.rejects(
        loadChannels([empty], "linux-64", { layout }),
        (e) =>
          e instanceof NotFoundError && e.message.includes(empty.url) && !e.message.includes("\n"),
      );
      // file:// channel is read in place
      const fileCh = await loadChannels([parseChannel(ch.url)], "linux-64", { layout });
      assert.deepEqual([fileCh[0].form, fileCh[0].how, fileCh[0].file], [
        "monolithic",
        "indexed",
        "repodata.json",
      ]);
      await Promise.all(fileCh.map((l) => l.source?.close()));
      const again = await loadChannels([parseChannel(ch.url)], "linux-64", { layout });
      assert.equal(again[0].how, "cache", "file:// index reused while path, size and mtime match");
      await Promise.all(again.map((l) => l.source?.close()));
    } finally {
      await srv.close();
      await Deno.remove(root, { recursive: true });
      await Deno.remove(layout.root, { recursive: true });
    }
  },
});

Deno.test("an unreachable channel is a one-line PonchoError naming the URL", async () => {
  await withTempLayout(async (layout) => {
    const url = `http://127.0.0.1:${closedPort()}/chan`;
    await assert.rejects(
      loadChannels([parseChannel(url)], "linux-64", { layout, attempts: 1 }),
      (e) => e instanceof PonchoError && e.message.includes(`${url}/`) && !e.message.includes("\n"),
    );
  });
});

Deno.test({
  name: "a file:// channel subdir that cannot be read is a permission error, not a missing subdir",
  ignore: !canDropFileCapabilities,
  async fn() {
    await withTempDir("poncho-chan-", async (dir) => {
      const sub = join(dir, "ch", "linux-64");
      await Deno.mkdir(sub, { recursive: true });
      await Deno.mkdir(join(dir, "ch", "noarch"));
      const json = join(sub, "repodata.json");
      await Deno.writeTextFile(json, JSON.stringify({ packages: {}, "packages.conda": {} }));
      await Deno.chmod(sub, 0o000); // what is inside cannot be looked up
      const mod = (rel: string) => JSON.stringify(new URL(rel, import.meta.url).href);
      const text = await runUnprivileged(
        `import { loadChannels } from ${mod("./repodata.ts")};
import { parseChannel } from ${mod("./channel.ts")};
import { storeLayout } from ${mod("../../store/layout.ts")};
const [channel, store] = Deno.args;
try {
  await loadChannels([parseChannel(channel)], "linux-64", { layout: storeLayout(store) });
  console.log("{}");
} catch (e) {
  console.log(JSON.stringify({ kind: e.kind, exit: e.exitCode, path: e.path, message: e.message }));
}
`,
        [join(dir, "ch"), join(dir, "store")],
      );
      await Deno.chmod(sub, 0o755);
      // Before, it was "channel ... has no repodata for linux-64 or noarch" (not-found).
      const err = JSON.parse(text);
      assert.equal(err.kind, "permission", text);
      assert.equal(err.exit, 2);
      assert.equal(err.path, join(sub, "repodata_shards.msgpack.zst")); // the first file looked for
    });
  },
});
