/**
 * zstd of small in-memory buffers (shard indexes, shards): decoding every
 * frame, and encoding. Frames are split by the one frame parser,
 * `lib/archive/zstd_frame.ts`; large files are streamed by
 * `lib/archive/zstd.ts` instead.
 *
 * @module
 */

import zlib from "node:zlib";
import { zstdFrames } from "../archive/zstd_frame.ts";
import { concatBytes } from "../bytes.ts";

/**
 * Decodes zstd data made of any number of frames (and skippable frames).
 * `node:zlib`'s zstd stops after the first frame, so frames are split and
 * decoded one by one. Throws a `CorruptError` naming `name` for data that is
 * not zstd or ends inside a frame, or the decoder's own error.
 */
export function decodeZstd(data: Uint8Array, name = "zstd data"): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const frame of zstdFrames(data, name)) {
    const out = zlib.zstdDecompressSync(frame);
    parts.push(new Uint8Array(out.buffer, out.byteOffset, out.byteLength)); // not a Buffer
  }
  return parts.length === 1 ? parts[0] : concatBytes(parts);
}

/** Compresses `data` as one zstd frame (level 3, with a checksum). */
export function encodeZstd(data: Uint8Array): Uint8Array {
  return zlib.zstdCompressSync(data, {
    params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 },
  });
}
