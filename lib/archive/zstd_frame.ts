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
import { concatBytes } from "../bytes.ts";

/**
 * Uncompressed size of every frame but the last that `pack` writes (4 MiB:
 * within 0.5% of one frame's ratio); the libzstd decoder (`zstd_ffi.ts`)
 * decodes frames up to this size in one call each.
 */
export const ZSTD_FRAME_SIZE = 4 << 20;

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
  const kind = magicKind(magic);
  if (kind) return kind;
  throw new CorruptError(
    `${name} is not zstd data: the bytes at offset ${offset} are not a zstd frame`,
  );
}

/** The kind of frame the four bytes `magic` start, or `undefined` for bytes that start none. */
export function magicKind(magic: Uint8Array): FrameKind | undefined {
  if (magic.length < 4) return undefined;
  const m = readLE(magic, 0, 4);
  if (m === ZSTD_MAGIC) return "zstd";
  if ((m & 0xfffffff0) >>> 0 === 0x184d2a50) return "skippable";
  return undefined;
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

/**
 * Most bytes of a first entry that `pack` stores uncompressed (a larger
 * manifest is compressed, and read with a decoder).
 */
export const STORED_FRAME_MAX = 1 << 20;

/** Most content of one block (RFC 8878: a block holds at most 128 KiB). */
const BLOCK_MAX = 128 << 10;
/** Descriptor of a raw frame: single segment, 4-byte content size, no checksum, no dictionary. */
const RAW_DESCRIPTOR = 0xa0;

/**
 * `data` (under 4 GiB) as one zstd frame of raw (stored) blocks, with its
 * content size in the header and no checksum: a frame every zstd decoder
 * reads, and whose content {@link rawFrameContent} takes back without one
 * (how an archive's manifest is read without starting a decoder).
 *
 * @example
 * ```ts
 * import { rawFrame, rawFrameContent } from "./zstd_frame.ts";
 * const frame = rawFrame(new TextEncoder().encode("hello"));
 * console.log(new TextDecoder().decode(rawFrameContent(frame)!)); // "hello"
 * ```
 */
export function rawFrame(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / BLOCK_MAX));
  const out = new Uint8Array(9 + blocks * BLOCK_HEADER + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, ZSTD_MAGIC, true);
  out[4] = RAW_DESCRIPTOR;
  view.setUint32(5, data.length, true);
  let pos = 9;
  for (let b = 0; b < blocks; b++) {
    const piece = data.subarray(b * BLOCK_MAX, (b + 1) * BLOCK_MAX);
    const header = (piece.length << 3) | (b === blocks - 1 ? 1 : 0); // block type 0: raw
    out[pos] = header & 0xff;
    out[pos + 1] = (header >> 8) & 0xff;
    out[pos + 2] = (header >> 16) & 0xff;
    out.set(piece, pos + BLOCK_HEADER);
    pos += BLOCK_HEADER + piece.length;
  }
  return out;
}

/**
 * How many bytes the stored frame (as {@link rawFrame} writes it) at the
 * start of `head` takes, from its header alone; `undefined` when `head` does
 * not start with a single-segment frame stating its content size.
 */
export function storedFrameLength(head: Uint8Array): number | undefined {
  const h = singleSegmentHeader(head);
  if (!h) return undefined;
  return h.length + Math.max(1, Math.ceil(h.size / BLOCK_MAX)) * BLOCK_HEADER + h.size;
}

/**
 * The header of the single-segment frame without checksum or dictionary at
 * the start of `head`: its length and the content size it states.
 */
function singleSegmentHeader(head: Uint8Array): { length: number; size: number } | undefined {
  if (head.length < 6 || readLE(head, 0, 4) !== ZSTD_MAGIC) return undefined;
  const descriptor = head[4];
  if (descriptor & 0x0f || !(descriptor & 0x20)) return undefined;
  const sizeBytes = [1, 2, 4, 8][descriptor >> 6];
  if (5 + sizeBytes > head.length) return undefined;
  const size = readLE(head, 5, Math.min(sizeBytes, 6)) + (sizeBytes === 2 ? 256 : 0);
  return { length: 5 + sizeBytes, size };
}

/**
 * The content of the zstd frame at the start of `head` when that frame is
 * made of raw blocks only, has no checksum, states its content size, and lies
 * wholly within `head`; else `undefined` (decode it as any other frame: a
 * decoder also checks what this does not, such as a compressed block).
 */
export function rawFrameContent(head: Uint8Array): Uint8Array | undefined {
  const h = singleSegmentHeader(head);
  if (!h) return undefined;
  const pieces: Uint8Array[] = [];
  let total = 0;
  let pos = h.length;
  while (true) {
    if (pos + BLOCK_HEADER > head.length) return undefined;
    const v = readLE(head, pos, BLOCK_HEADER);
    const size = v >>> 3;
    if (((v >> 1) & 3) !== 0 || pos + BLOCK_HEADER + size > head.length) return undefined;
    pieces.push(head.subarray(pos + BLOCK_HEADER, pos + BLOCK_HEADER + size));
    total += size;
    pos += BLOCK_HEADER + size;
    if (v & 1) break;
  }
  return total === h.size ? concatBytes(pieces) : undefined;
}
