import assert from "node:assert/strict";
import zlib from "node:zlib";
import { decodeZstd, encodeZstd } from "./zstd_bytes.ts";

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

Deno.test("encodeZstd output decodes back", () => {
  const data = new TextEncoder().encode("abc".repeat(1000));
  assert.deepEqual(new Uint8Array(decodeZstd(encodeZstd(data))), data);
});
