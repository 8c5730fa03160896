/**
 * zstd of small in-memory buffers (shard indexes, shards): decoding every
 * frame, and encoding. Large files are streamed by `lib/archive/zstd.ts`
 * instead.
 *
 * @module
 */

import zlib from "node:zlib";

/**
 * Decodes zstd data made of any number of frames (and skippable frames).
 * `node:zlib`'s zstd stops after the first frame, so frames are split here and
 * decoded one by one. Throws an `Error` (`not zstd data`, `truncated zstd
 * frame`, or the decoder's own message) on bad input.
 */
export function decodeZstd(data: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  while (pos < data.length) {
    if (pos + 4 > data.length) throw new Error("truncated zstd data");
    const magic = view.getUint32(pos, true);
    if ((magic & 0xfffffff0) >>> 0 === 0x184d2a50) {
      if (pos + 8 > data.length) throw new Error("truncated zstd data");
      pos += 8 + view.getUint32(pos + 4, true);
      if (pos > data.length) throw new Error("truncated zstd data");
      continue;
    }
    if (magic !== 0xfd2fb528) throw new Error(`not zstd data at byte ${pos}`);
    const start = pos;
    if (pos + 5 > data.length) throw new Error("truncated zstd frame");
    const fhd = data[pos + 4];
    const fcsFlag = fhd >> 6;
    const singleSegment = (fhd >> 5) & 1;
    const checksum = (fhd >> 2) & 1;
    const dictSize = [0, 1, 2, 4][fhd & 3];
    const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag];
    pos += 5 + (singleSegment ? 0 : 1) + dictSize + fcsSize;
    for (;;) {
      if (pos + 3 > data.length) throw new Error("truncated zstd frame");
      const header = data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16);
      const last = header & 1;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      pos += 3 + (type === 1 ? 1 : size);
      if (last) break;
    }
    if (checksum) pos += 4;
    if (pos > data.length) throw new Error("truncated zstd frame");
    const out = zlib.zstdDecompressSync(data.subarray(start, pos));
    parts.push(new Uint8Array(out.buffer, out.byteOffset, out.byteLength)); // not a Buffer
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Compresses `data` as one zstd frame (level 3, with a checksum). */
export function encodeZstd(data: Uint8Array): Uint8Array {
  return zlib.zstdCompressSync(data, {
    params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 },
  });
}
