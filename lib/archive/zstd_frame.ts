/**
 * The one parser of zstd's frame layout (RFC 8878), used wherever Poncho
 * splits zstd data into frames: the streaming decoder (`zstd.ts`, archives,
 * packages, repodata), the in-memory decoder (`lib/conda/zstd_bytes.ts`,
 * shards) and the tests of the multi-frame writer.
 *
 * A zstd stream is a sequence of frames: zstd frames (magic `0xFD2FB528`,
 * a header, blocks, an optional checksum) and skippable frames (magic
 * `0x184D2A5?`, a 4-byte length, that many bytes). `node:zlib`'s zstd
 * decoder stops after the first frame, so callers split the stream here and
 * decode each zstd frame on its own. Every error is a {@link CorruptError}
 * naming the data (`name`): bytes that are not a frame, a reserved bit or
 * block type, and a stream that ends inside a frame of either kind.
 *
 * @module
 */

import { CorruptError } from "../errors.ts";

/** Magic number of a zstd frame (little-endian on the wire). */
export const ZSTD_MAGIC = 0xfd2fb528;

/** What the first four bytes of a frame say it is. */
export type FrameKind = "zstd" | "skippable";

/** Reads `n` (<= 6) little-endian bytes of `b` at `off` as a number. */
export function readLE(b: Uint8Array, off: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + b[off + i];
  return v;
}

/**
 * The kind of the frame whose four magic bytes are `magic`; `offset` (where
 * they start) and `name` go into the error for bytes that are not a frame.
 */
export function frameKind(magic: Uint8Array, offset: number, name: string): FrameKind {
  const m = readLE(magic, 0, 4);
  if (m === ZSTD_MAGIC) return "zstd";
  if ((m & 0xfffffff0) >>> 0 === 0x184d2a50) return "skippable";
  throw new CorruptError(
    `${name} is not zstd data: the bytes at offset ${offset} are not a zstd frame`,
  );
}

/** The layout of a zstd frame header, read from its descriptor byte. */
export interface FrameHeader {
  /** Header bytes after the descriptor (window, dictionary id, content size). */
  rest: number;
  /** Whether a 4-byte content checksum follows the last block. */
  checksum: boolean;
}

/** Decodes a frame header descriptor byte (the byte after the magic). */
export function frameHeader(descriptor: number, name: string): FrameHeader {
  if (descriptor & 0x08) {
    throw new CorruptError(`${name} is corrupt (reserved frame header bit set)`);
  }
  const single = (descriptor >> 5) & 1;
  const contentSize = [single ? 1 : 0, 2, 4, 8][descriptor >> 6];
  const dictId = [0, 1, 2, 4][descriptor & 3];
  return { rest: (single ? 0 : 1) + dictId + contentSize, checksum: ((descriptor >> 2) & 1) === 1 };
}

/** Size of a block header. */
export const BLOCK_HEADER = 3;

/** A block header: how many bytes of block content follow it, and whether it is the last. */
export interface BlockHeader {
  /** Bytes of content after the 3-byte header (1 for an RLE block). */
  size: number;
  /** Whether it is the frame's last block. */
  last: boolean;
}

/** Decodes the 3-byte block header at `off` of `b`. */
export function blockHeader(b: Uint8Array, off: number, name: string): BlockHeader {
  const v = readLE(b, off, BLOCK_HEADER);
  const type = (v >> 1) & 3;
  if (type === 3) throw new CorruptError(`${name} is corrupt (reserved block type)`);
  return { size: type === 1 ? 1 : v >>> 3, last: (v & 1) === 1 };
}

/** The error for data that ends inside a frame. */
export function truncatedFrame(name: string, kind: FrameKind = "zstd"): CorruptError {
  const what = kind === "zstd" ? "a zstd frame" : "a skippable zstd frame";
  return new CorruptError(`${name} is truncated (${what} is cut short); re-create it`);
}

/**
 * The zstd frames of in-memory data, as views in order, skippable frames
 * left out. Throws a {@link CorruptError} naming `name` for anything that is
 * not a whole frame.
 */
export function* zstdFrames(data: Uint8Array, name = "zstd data"): Generator<Uint8Array> {
  let pos = 0;
  while (pos < data.length) {
    if (pos + 4 > data.length) throw truncatedFrame(name);
    const kind = frameKind(data.subarray(pos, pos + 4), pos, name);
    const end = kind === "zstd" ? zstdFrameEnd(data, pos, name) : skippableEnd(data, pos, name);
    if (kind === "zstd") yield data.subarray(pos, end);
    pos = end;
  }
}

/** End offset of the skippable frame at `pos`. */
function skippableEnd(data: Uint8Array, pos: number, name: string): number {
  if (pos + 8 > data.length) throw truncatedFrame(name, "skippable");
  const end = pos + 8 + readLE(data, pos + 4, 4);
  if (end > data.length) throw truncatedFrame(name, "skippable");
  return end;
}

/** End offset of the zstd frame at `pos`. */
function zstdFrameEnd(data: Uint8Array, pos: number, name: string): number {
  if (pos + 5 > data.length) throw truncatedFrame(name);
  const header = frameHeader(data[pos + 4], name);
  pos += 5 + header.rest;
  while (true) {
    if (pos + BLOCK_HEADER > data.length) throw truncatedFrame(name);
    const block = blockHeader(data, pos, name);
    pos += BLOCK_HEADER + block.size;
    if (block.last) break;
  }
  if (header.checksum) pos += 4;
  if (pos > data.length) throw truncatedFrame(name);
  return pos;
}
