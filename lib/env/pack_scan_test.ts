import assert from "node:assert/strict";
import { join } from "node:path";
import { planTarFrames } from "../archive/tar_frames.ts";
import type { TarWriteEntry } from "../archive/tar_writer.ts";
import { FrameScans, type PackFrameJob, packFrameJob, scannedPieces } from "./pack_scan.ts";
import { indexOfBytes, isBinary } from "./prefix.ts";
import { withTempDir } from "../../tests/util.ts";

const enc = new TextEncoder();

/** A deterministic byte source (xorshift). */
function rng(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Files of text or binary filler, some holding the needle at one or two places. */
function makeFiles(needle: Uint8Array, count: number, seed: number): Uint8Array[] {
  const rand = rng(seed);
  return Array.from({ length: count }, () => {
    const size = Math.floor(rand() * 400);
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = 0x61 + Math.floor(rand() * 26);
    if (rand() < 0.4 && size > 0) data[Math.floor(rand() * size)] = 0; // binary
    const hits = rand() < 0.6 ? Math.floor(rand() * 3) : 0;
    for (let h = 0; h < hits && size >= needle.length; h++) {
      data.set(needle, Math.floor(rand() * (size - needle.length + 1)));
    }
    return data;
  });
}

Deno.test("packframe scans put together by FrameScans match a scan of each whole file", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const needle = enc.encode("/opt/build/prefix-123");
    const files = makeFiles(needle, 120, 7);
    const entries: TarWriteEntry[] = [];
    for (const [i, data] of files.entries()) {
      const path = join(dir, `f${i}`);
      await Deno.writeFile(path, data);
      entries.push({ path: `f${i}`, type: "file", mode: 0o644, file: path, size: data.length });
    }
    const scanned = new Set(entries.map((e) => e.path).filter((_, i) => i % 7 !== 3));
    // Frame sizes shorter than the needle, about its length, and longer: pieces of every shape.
    for (const frameSize of [5, 19, 20, 21, 64, 333, 4096]) {
      const scans = new FrameScans(needle);
      for await (const frame of planTarFrames(entries, { uid: 0, gid: 0 }, frameSize, 1)) {
        const scan = frame.files.flatMap((p, k) => (scanned.has(p.entry) ? [k] : []));
        const job: PackFrameJob = { ...frame, type: "packframe", needle, scan };
        scans.add(scannedPieces(job), packFrameJob(job).reply.scan);
      }
      files.forEach((data, i) => {
        const got = scans.found(`f${i}`);
        if (!scanned.has(`f${i}`)) return assert.equal(got, undefined, `f${i} not scanned`);
        const hit = indexOfBytes(data, needle) >= 0;
        assert.deepEqual(
          got,
          { hit, binary: hit && isBinary(data) },
          `f${i}, frames of ${frameSize}`,
        );
      });
    }
  });
});

Deno.test("FrameScans: a needle across two frames, and a NUL only in the other frame", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const needle = enc.encode("/prefix/of/the/build");
    // f: text, the needle cut after 6 bytes by the frame boundary; g: the needle in its first
    // frame, a NUL in its second; h: text, the needle nowhere but cut in two across files.
    const f = new Uint8Array([...enc.encode("x".repeat(94)), ...needle, ...enc.encode("tail")]);
    const g = new Uint8Array([...needle, ...enc.encode("y".repeat(200)), 0, 1]);
    const h1 = needle.subarray(0, 10);
    const h2 = needle.subarray(10);
    const bodies = { f, g, h1, h2 };
    const entries: TarWriteEntry[] = [];
    for (const [name, data] of Object.entries(bodies)) {
      await Deno.writeFile(join(dir, name), data);
      entries.push({
        path: name,
        type: "file",
        mode: 0o644,
        file: join(dir, name),
        size: data.length,
      });
    }
    // f's body starts at 512 (after its header): frames of 612 bytes cut it after 100 bytes.
    const scans = new FrameScans(needle);
    let frames = 0;
    for await (const frame of planTarFrames(entries, { uid: 0, gid: 0 }, 612, 1)) {
      const scan = frame.files.map((_, k) => k);
      const job: PackFrameJob = { ...frame, type: "packframe", needle, scan };
      scans.add(scannedPieces(job), packFrameJob(job).reply.scan);
      frames++;
    }
    assert.ok(frames > 3);
    assert.deepEqual(scans.found("f"), { hit: true, binary: false });
    assert.deepEqual(scans.found("g"), { hit: true, binary: true });
    assert.deepEqual(scans.found("h1"), { hit: false, binary: false });
    assert.deepEqual(scans.found("h2"), { hit: false, binary: false });
  });
});
