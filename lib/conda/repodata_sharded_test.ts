import assert from "node:assert/strict";
import { ShardedSource } from "./repodata_sharded.ts";
import { storeLayout } from "../../store/layout.ts";

const opts = {
  layout: storeLayout("/nonexistent-store"),
  corrupt: (file: string, reason: string) => new Error(`${file}: ${reason}`),
};
const index = (info: Record<string, string>) => ({ version: 1, info, shards: new Map() });

Deno.test("ShardedSource resolves base URLs against the index URL", () => {
  const s = new ShardedSource(
    index({ base_url: "../pkgs", shards_base_url: "https://cdn/shards" }),
    "https://ch/linux-64/repodata_shards.msgpack.zst",
    opts,
  );
  assert.equal(s.packageBase, "https://ch/pkgs/");
  assert.equal(s.shardsBase, "https://cdn/shards/");
  const d = new ShardedSource(index({}), "file:///srv/ch/noarch/repodata_shards.msgpack.zst", opts);
  assert.equal(d.packageBase, "file:///srv/ch/noarch/");
  assert.equal(d.shardsBase, "file:///srv/ch/noarch/shards/");
});

Deno.test("a remote shard index cannot point at this machine's files", () => {
  const infos: Record<string, string>[] = [{ shards_base_url: "file:///etc/" }, {
    base_url: "file:///home/",
  }];
  for (const info of infos) {
    assert.throws(
      () => new ShardedSource(index(info), "https://ch/linux-64/repodata_shards.msgpack.zst", opts),
      /file:\/\/ URL/,
    );
  }
});
