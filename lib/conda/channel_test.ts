import assert from "node:assert/strict";
import { join } from "node:path";
import zlib from "node:zlib";
import { cacheKey, decodeZstd, loadChannels, loadRepodata, parseChannel } from "./channel.ts";
import { NotFoundError, PonchoError, UsageError } from "../errors.ts";
import {
  buildTestChannel,
  fixtureToolsAvailable,
  serveChannel,
} from "../../tests/fixtures/channel.ts";
import { tempLayout, withServedStore, withTempLayout } from "../../tests/util.ts";

const tools = await fixtureToolsAvailable();
if (!tools.ok) console.log(`skipping channel fixture tests: missing ${tools.missing.join(", ")}`);

/** A loopback port with nothing listening on it. */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("parseChannel resolves names, URLs and paths", () => {
  assert.deepEqual(parseChannel("conda-forge"), {
    name: "conda-forge",
    url: "https://conda.anaconda.org/conda-forge",
  });
  assert.equal(
    parseChannel("conda-forge/label/dev").url,
    "https://conda.anaconda.org/conda-forge/label/dev",
  );
  assert.equal(parseChannel("https://example.org/ch/").url, "https://example.org/ch");
  assert.equal(parseChannel("file:///srv/ch").url, "file:///srv/ch");
  assert.equal(parseChannel("/srv/my ch").url, "file:///srv/my%20ch");
  assert.equal(parseChannel("./ch", "/work").url, "file:///work/ch");
  assert.throws(() => parseChannel("ftp://x/y"), UsageError);
  assert.throws(() => parseChannel("bad name!"), UsageError);
  assert.throws(() => parseChannel(" "), UsageError);
});

Deno.test("cacheKey is readable, stable and distinct per subdir", () => {
  const a = cacheKey("https://conda.anaconda.org/conda-forge/linux-64");
  assert.match(a, /^conda\.anaconda\.org_conda-forge_linux-64-[0-9a-f]{12}$/);
  assert.equal(a, cacheKey("https://conda.anaconda.org/conda-forge/linux-64"));
  assert.notEqual(a, cacheKey("https://conda.anaconda.org/conda-forge/noarch"));
});

Deno.test("decodeZstd decodes every frame, skipping skippable frames", () => {
  const enc = new TextEncoder();
  const a = zlib.zstdCompressSync(enc.encode("first frame, "));
  const skip = new Uint8Array([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
  const big = enc.encode("x".repeat(300_000) + "end");
  const b = zlib.zstdCompressSync(big);
  const all = new Uint8Array([...a, ...skip, ...b]);
  const out = new TextDecoder().decode(decodeZstd(all));
  assert.equal(out, "first frame, " + "x".repeat(300_000) + "end");
  assert.throws(() => decodeZstd(new Uint8Array([1, 2, 3, 4, 5])), /not zstd/);
  assert.throws(() => decodeZstd(a.subarray(0, a.length - 2)), /truncated/);
});

Deno.test({
  name: "loadRepodata prefers .zst, caches it, and revalidates with 304",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withServedStore(ch.dir, {}, async (srv, layout) => {
      const channel = parseChannel(srv.url);
      const first = await loadRepodata(channel, "linux-64", { layout });
      assert.equal(first.source, "downloaded");
      assert.equal(first.remoteFile, "repodata.json.zst");
      assert.deepEqual(
        JSON.parse(await Deno.readTextFile(first.path!)),
        JSON.parse(await Deno.readTextFile(join(ch.dir, "linux-64", "repodata.json"))),
      );
      const second = await loadRepodata(channel, "linux-64", { layout });
      assert.equal(second.source, "not-modified");
      assert.equal(second.path, first.path);
      assert.equal(srv.requests.get("/linux-64/repodata.json.zst"), 2);
      assert.equal(srv.requests.get("/linux-64/repodata.json"), undefined);
      assert.equal(srv.statuses.get(304), 1);
      const offline = await loadRepodata(channel, "linux-64", { layout, offline: true });
      assert.equal(offline.source, "cache");
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
      assert.equal(first.remoteFile, "repodata.json");
      const second = await loadRepodata(channel, "noarch", { layout });
      assert.equal(second.source, "not-modified");
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
      assert.deepEqual(loaded.map((l) => [l.subdir, l.path !== null]), [["linux-64", true], [
        "noarch",
        false,
      ]]);
      assert.equal(srv.requests.get("/linux-64/repodata.json.zst"), 2); // 503, then 404
      // offline: cached (including "noarch is missing") works
      const off = await loadChannels([parseChannel(srv.url)], "linux-64", {
        layout,
        offline: true,
      });
      assert.equal(off.length, 2);
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
      assert.equal(fileCh[0].path, join(ch.dir, "linux-64", "repodata.json"));
      assert.equal(fileCh[0].source, "file");
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
