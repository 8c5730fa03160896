/**
 * Streaming zstd decompression that decodes every frame.
 *
 * The `node:zlib` zstd decompressor in Deno stops silently after the first
 * frame, but Poncho's own packer (`zstd_compress.ts`), multi-threaded
 * `zstd -T0`, `pzstd` and concatenated files give several frames, and
 * skippable frames may appear anywhere. So this module splits the compressed
 * stream into frames with the frame parser of `zstd_frame.ts` and runs one
 * decompressor per frame. Skippable frames are dropped; a stream that ends
 * inside a frame or holds bytes that are not a frame is a `CorruptError`
 * naming the stream.
 *
 * @module
 */

import * as zlib from "node:zlib";
import { CorruptError, PonchoError } from "../errors.ts";
import { ChunkReader } from "./chunk_reader.ts";
import { throughNode } from "./node_stream.ts";
import {
  BLOCK_HEADER,
  blockHeader,
  frameHeader,
  frameKind,
  readLE,
  truncatedFrame,
} from "./zstd_frame.ts";

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
      const magic = await reader.read(4);
      if (magic.length === 0) return;
      if (magic.length < 4) throw truncatedFrame(name);
      if (frameKind(magic, reader.offset - 4, name) === "skippable") {
        await skipSkippable(reader, name);
        continue;
      }
      yield* throughNode(
        framePieces(reader, magic, name),
        zlib.createZstdDecompress({ chunkSize: OUT_CHUNK }),
        (e) => e instanceof PonchoError ? e : new CorruptError(`${name} is corrupt: ${errText(e)}`),
      );
    }
  } finally {
    await reader.cancel();
  }
}

/** Skips a skippable frame whose magic was read. */
async function skipSkippable(reader: ChunkReader, name: string): Promise<void> {
  const sizeBytes = await reader.read(4);
  if (sizeBytes.length < 4) throw truncatedFrame(name, "skippable");
  const size = readLE(sizeBytes, 0, 4);
  if ((await reader.skip(size)) !== size) throw truncatedFrame(name, "skippable");
}

/**
 * Collects views into as few pieces as possible: a view that continues the
 * pending one in the same buffer extends it.
 */
class Merger {
  #pending: Uint8Array | undefined;

  /** Adds a view; returns a finished piece to pass on, if any. */
  add(piece: Uint8Array): Uint8Array | undefined {
    const p = this.#pending;
    if (p && p.buffer === piece.buffer && p.byteOffset + p.length === piece.byteOffset) {
      this.#pending = new Uint8Array(p.buffer, p.byteOffset, p.length + piece.length);
      return undefined;
    }
    this.#pending = piece;
    return p;
  }

  /** The last pending piece. */
  flush(): Uint8Array | undefined {
    const p = this.#pending;
    this.#pending = undefined;
    return p;
  }
}

/** Yields the bytes of one zstd frame whose magic was read (magic included). */
async function* framePieces(
  reader: ChunkReader,
  magic: Uint8Array,
  name: string,
): AsyncGenerator<Uint8Array> {
  const merger = new Merger();
  const need = async (n: number): Promise<Uint8Array> => {
    const b = await reader.read(n);
    if (b.length < n) throw truncatedFrame(name);
    return b;
  };
  merger.add(magic.slice());
  const descriptor = await need(1);
  let ready = merger.add(descriptor);
  if (ready) yield ready;
  const header = frameHeader(descriptor[0], name);
  if (header.rest > 0 && (ready = merger.add(await need(header.rest)))) yield ready;
  while (true) {
    const bh = await need(BLOCK_HEADER);
    if ((ready = merger.add(bh))) yield ready;
    const block = blockHeader(bh, 0, name);
    for (let left = block.size; left > 0;) {
      const piece = await reader.next(left);
      if (piece === null) throw truncatedFrame(name);
      left -= piece.length;
      if ((ready = merger.add(piece))) yield ready;
    }
    if (block.last) break;
  }
  if (header.checksum && (ready = merger.add(await need(4)))) yield ready;
  const last = merger.flush();
  if (last) yield last;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
