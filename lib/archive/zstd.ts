/**
 * Streaming zstd decompression that decodes every frame.
 *
 * The `node:zlib` zstd decompressor in Deno stops silently after the first
 * frame, but multi-threaded `zstd -T0`, `pzstd` and concatenated files give
 * several frames, and skippable frames may appear anywhere. So this module
 * splits the compressed stream into frames itself, by parsing each frame
 * header and the 3-byte block headers (RFC 8878), and runs one decompressor
 * per frame. Skippable frames are dropped; a stream that ends inside a frame
 * or holds bytes that are not a frame is an error.
 *
 * @module
 */

import * as zlib from "node:zlib";
import { PonchoError } from "../errors.ts";
import { ChunkReader } from "./chunk_reader.ts";
import { throughNode } from "./node_stream.ts";

const ZSTD_MAGIC = 0xfd2fb528;
/** Output chunk size of the decompressor (large chunks are much faster). */
const OUT_CHUNK = 256 * 1024;

/** Streams the concatenation of all frames' content. `name` appears in error messages. */
export async function* zstdDecompress(
  source: AsyncIterable<Uint8Array>,
  name = "zstd stream",
): AsyncGenerator<Uint8Array> {
  const reader = new ChunkReader(source);
  try {
    while (true) {
      const magicBytes = await reader.read(4);
      if (magicBytes.length === 0) return;
      if (magicBytes.length < 4) throw cut(name);
      const magic = le(magicBytes, 0, 4);
      if ((magic & 0xfffffff0) >>> 0 === 0x184d2a50) {
        const sizeBytes = await reader.read(4);
        if (sizeBytes.length < 4) throw cut(name);
        const size = le(sizeBytes, 0, 4);
        if ((await reader.skip(size)) !== size) throw cut(name);
        continue;
      }
      if (magic !== ZSTD_MAGIC) {
        throw new PonchoError(
          `${name} holds bytes that are not a zstd frame at offset ${reader.offset - 4}`,
        );
      }
      const dec = zlib.createZstdDecompress({ chunkSize: OUT_CHUNK });
      yield* throughNode(
        framePieces(reader, magicBytes, name),
        dec,
        (e) => e instanceof PonchoError ? e : new PonchoError(`${name} is corrupt: ${errText(e)}`),
      );
    }
  } finally {
    await reader.cancel();
  }
}

/** Yields the bytes of one frame (after its magic), merging adjacent views. */
async function* framePieces(
  reader: ChunkReader,
  magic: Uint8Array,
  name: string,
): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array | undefined = magic.slice();
  const emit = (piece: Uint8Array): Uint8Array | undefined => {
    // Merge with the pending view when both lie back to back in one buffer.
    if (
      pending && pending.buffer === piece.buffer &&
      pending.byteOffset + pending.length === piece.byteOffset
    ) {
      pending = new Uint8Array(pending.buffer, pending.byteOffset, pending.length + piece.length);
      return undefined;
    }
    const out = pending;
    pending = piece;
    return out;
  };
  const need = async (n: number): Promise<Uint8Array> => {
    const b = await reader.read(n);
    if (b.length < n) throw cut(name);
    return b;
  };

  const fhdBytes = await need(1);
  let ready = emit(fhdBytes);
  if (ready) yield ready;
  const fhd = fhdBytes[0];
  if (fhd & 0x08) throw new PonchoError(`${name} is corrupt (reserved frame header bit set)`);
  const single = (fhd >> 5) & 1;
  const fcsSize = [single ? 1 : 0, 2, 4, 8][fhd >> 6];
  const headerRest = (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3] + fcsSize;
  const checksum = (fhd >> 2) & 1;
  if (headerRest > 0) {
    ready = emit(await need(headerRest));
    if (ready) yield ready;
  }
  while (true) {
    const bh = await need(3);
    ready = emit(bh);
    if (ready) yield ready;
    const v = le(bh, 0, 3);
    const last = v & 1;
    const type = (v >> 1) & 3;
    if (type === 3) throw new PonchoError(`${name} is corrupt (reserved block type)`);
    let left = type === 1 ? 1 : v >>> 3;
    while (left > 0) {
      const piece = await reader.next(left);
      if (piece === null) throw cut(name);
      left -= piece.length;
      ready = emit(piece);
      if (ready) yield ready;
    }
    if (last) break;
  }
  if (checksum) {
    ready = emit(await need(4));
    if (ready) yield ready;
  }
  if (pending) yield pending;
}

function le(b: Uint8Array, off: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + b[off + i];
  return v;
}

function cut(name: string): PonchoError {
  return new PonchoError(`${name} is truncated (a zstd frame is cut short); re-create it`);
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
