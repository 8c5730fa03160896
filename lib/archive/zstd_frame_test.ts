import assert from "node:assert/strict";
import zlib from "node:zlib";
import { CorruptError } from "../errors.ts";
import { decodeZstd } from "../conda/zstd_bytes.ts";
import { zstdDecompress } from "./zstd.ts";
import { zstdFrames } from "./zstd_frame.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const a = new Uint8Array(zlib.zstdCompressSync(enc.encode("first frame, "), {
  params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 },
}));
const b = new Uint8Array(zlib.zstdCompressSync(enc.encode("y".repeat(200_000) + "end")));
/** A skippable frame of 5 content bytes. */
const skip = new Uint8Array([0x52, 0x2a, 0x4d, 0x18, 5, 0, 0, 0, 9, 9, 9, 9, 9]);
const all = new Uint8Array([...a, ...skip, ...b]);

/** Streams `data` in small chunks, so frame fields fall across chunk boundaries. */
async function* chunks(data: Uint8Array, size = 7): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.slice(i, i + size);
}

async function streamed(data: Uint8Array, name: string): Promise<string> {
  let out = "";
  for await (const c of zstdDecompress(chunks(data), name)) out += dec.decode(c, { stream: true });
  return out;
}

Deno.test("zstdFrames splits zstd frames in order and leaves skippable frames out", () => {
  const frames = [...zstdFrames(all, "x.zst")];
  assert.deepEqual(frames, [a, b]);
  assert.deepEqual([...zstdFrames(new Uint8Array(0))], []);
});

Deno.test("every decoder reads the same multi-frame data with a skippable frame", async () => {
  const want = "first frame, " + "y".repeat(200_000) + "end";
  assert.equal(dec.decode(decodeZstd(all, "x.zst")), want);
  assert.equal(await streamed(all, "x.zst"), want);
});

/** Cuts of `all` that end inside a frame: zstd frames and the skippable one. */
const cuts: [string, Uint8Array][] = [
  ["inside the first frame's magic", all.subarray(0, 2)],
  ["inside the first frame's header", all.subarray(0, 5)],
  ["inside the first frame's checksum", all.subarray(0, a.length - 2)],
  ["inside the skippable frame's length", all.subarray(0, a.length + 6)],
  ["inside the skippable frame's content", all.subarray(0, a.length + skip.length - 1)],
  ["inside the last frame's blocks", all.subarray(0, all.length - 20)],
];

Deno.test("a cut anywhere in a frame, skippable or not, is a CorruptError naming the data", async () => {
  for (const [where, data] of cuts) {
    const check = (e: unknown) =>
      e instanceof CorruptError && /^cut\.zst is truncated/.test(e.message) &&
      (where.includes("skippable") === /skippable/.test(e.message));
    assert.throws(() => [...zstdFrames(data, "cut.zst")], check, `zstdFrames: ${where}`);
    assert.throws(() => decodeZstd(data, "cut.zst"), check, `decodeZstd: ${where}`);
    await assert.rejects(() => streamed(data, "cut.zst"), check, `zstdDecompress: ${where}`);
  }
});

Deno.test("bytes that are not a frame, reserved bits and block types are CorruptErrors", async () => {
  const garbage = new Uint8Array([...a, 1, 2, 3, 4, 5]);
  const notZstd = (e: unknown) =>
    e instanceof CorruptError &&
    e.message === `g.zst is not zstd data: the bytes at offset ${a.length} are not a zstd frame`;
  assert.throws(() => [...zstdFrames(garbage, "g.zst")], notZstd);
  assert.throws(() => decodeZstd(garbage, "g.zst"), notZstd);
  await assert.rejects(() => streamed(garbage, "g.zst"), notZstd);
  const reservedBit = a.slice();
  reservedBit[4] |= 0x08;
  assert.throws(() => [...zstdFrames(reservedBit, "r.zst")], /r\.zst is corrupt \(reserved frame/);
  await assert.rejects(() => streamed(reservedBit, "r.zst"), /r\.zst is corrupt \(reserved frame/);
});

Deno.test("rawFrame: a stored frame every decoder reads, and rawFrameContent reads back", async () => {
  const { rawFrame, rawFrameContent, storedFrameLength } = await import("./zstd_frame.ts");
  for (const size of [0, 5, 128 << 10, (128 << 10) + 1, 300_000]) {
    const data = new Uint8Array(size).map((_, i) => (i * 7) & 0xff);
    const frame = rawFrame(data);
    assert.deepEqual(rawFrameContent(frame), data, `content of ${size} bytes`);
    assert.equal(
      storedFrameLength(frame.subarray(0, 16)),
      frame.length,
      "its length, from its header",
    );
    assert.deepEqual(decodeZstd(frame, "raw.zst"), data, `in-memory decoder, ${size} bytes`);
    const zstd = new Deno.Command("zstd", {
      args: ["-d", "-c", "-q"],
      stdin: "piped",
      stdout: "piped",
    })
      .spawn();
    const writer = zstd.stdin.getWriter();
    await writer.write(frame);
    await writer.close();
    const out = await zstd.output();
    assert.ok(out.success, `the zstd program reads a stored frame of ${size} bytes`);
    assert.deepEqual(out.stdout, data);
    // Followed by more frames: only the first is read back.
    assert.deepEqual(rawFrameContent(new Uint8Array([...frame, ...a])), data);
    // Cut short, it is not taken (a decoder reports the truncation).
    assert.equal(rawFrameContent(frame.subarray(0, frame.length - 1)), undefined);
  }
  // A compressed frame, or one with a checksum, is left to a decoder.
  assert.equal(rawFrameContent(a), undefined);
  assert.equal(rawFrameContent(b), undefined);
  assert.equal(rawFrameContent(skip), undefined);
  assert.equal(storedFrameLength(a), undefined);
});
