import assert from "node:assert/strict";
import {
  decodeShard,
  decodeShardIndex,
  encodeShard,
  encodeShardIndex,
  type Shard,
} from "./shards.ts";
import { bytesSha256 } from "../sha256.ts";
import { decodeZstd, encodeZstd } from "./zstd_bytes.ts";
import { decode, encode } from "../deps/msgpack.ts";

const shard: Shard = {
  packages: {
    "a-1.0-h0_0.tar.bz2": {
      name: "a",
      version: "1.0",
      build: "h0_0",
      depends: ["b >=1"],
      sha256: "ab".repeat(32),
      md5: "cd".repeat(16),
      size: 10,
      timestamp: 1700000000000,
    },
  },
  "packages.conda": {
    "a-2.0-h0_0.conda": { name: "a", version: "2.0", build: "h0_0", sha256: "01".repeat(32) },
  },
  removed: ["a-0.1-h0_0.conda"],
};

Deno.test("encodeShard/decodeShard round-trip with checksums as bytes on the wire", () => {
  const enc = encodeShard(shard);
  assert.equal(enc.sha256, bytesSha256(enc.bytes));
  assert.deepEqual(decodeShard(enc.bytes, enc.sha256), shard);
  // On the wire sha256 is 32 raw bytes, not 64 hex characters.
  const wire = decode(decodeZstd(enc.bytes)) as Record<
    string,
    Record<string, Record<string, unknown>>
  >;
  const sha = wire.packages["a-1.0-h0_0.tar.bz2"].sha256;
  assert.ok(sha instanceof Uint8Array && sha.length === 32);
  assert.equal(encodeShard(shard).sha256, enc.sha256, "encoding is deterministic");
});

Deno.test("decodeShard refuses bytes that do not match their hash, and garbage", () => {
  const enc = encodeShard(shard);
  assert.throws(() => decodeShard(enc.bytes, "00".repeat(32)), /expected 0000/);
  assert.throws(() => decodeShard(enc.bytes.subarray(0, enc.bytes.length - 3)), /truncated/);
  assert.throws(() => decodeShard(new Uint8Array([1, 2, 3, 4, 5])), /not zstd/);
  assert.throws(() => decodeShard(encodeZstd(encode([1, 2]))), /not a shard/);
});

Deno.test("encodeShardIndex/decodeShardIndex round-trip", () => {
  const index = {
    version: 1,
    info: { base_url: "./", shards_base_url: "./shards/", subdir: "linux-64" },
    shards: new Map([["a", "ab".repeat(32)], ["b", "cd".repeat(32)]]),
  };
  const bytes = encodeShardIndex(index);
  assert.deepEqual(decodeShardIndex(bytes), index);
  assert.throws(() => decodeShardIndex(bytes.subarray(0, 10)), /truncated/);
  assert.throws(
    () => decodeShardIndex(encodeZstd(encode({ shards: { a: new Uint8Array(3) } }))),
    /not 32 bytes/,
  );
  assert.throws(() => decodeShardIndex(encodeZstd(encode({ version: 1 }))), /no shards map/);
});

Deno.test("decodeShardIndex keeps info of any msgpack shape and skips unknown keys", () => {
  const info = {
    base_url: "./",
    n: -3,
    big: 2 ** 40,
    f: 1.5,
    ok: true,
    none: null,
    list: [1, "two", { three: [3] }],
    blob: new Uint8Array(300),
    long: "x".repeat(70000),
  };
  const bytes = encodeZstd(encode({
    future: { a: [1, 2, { b: new Uint8Array(2) }] },
    version: 2,
    info,
    shards: { "py-thon": new Uint8Array(32).fill(255) },
  }));
  const index = decodeShardIndex(bytes);
  assert.equal(index.version, 2);
  assert.deepEqual(index.info, info);
  assert.deepEqual([...index.shards], [["py-thon", "ff".repeat(32)]]);
  assert.throws(() => decodeShardIndex(encodeZstd(new Uint8Array([0xc1]))), /not a shard index/);
  assert.throws(
    () => decodeShardIndex(encodeZstd(encode({ info: "x" }).subarray(0, 4))),
    /truncated/,
  );
});
