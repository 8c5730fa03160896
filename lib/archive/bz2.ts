/**
 * bzip2 decompression (read-only) with `seek-bzip` (2.0.0, from package.json).
 *
 * seek-bzip decodes from a buffer, not a stream, so the compressed input is
 * held in memory (conda `.tar.bz2` packages are small enough); the output is
 * streamed one bzip2 block (at most a few MiB) at a time, so a large archive
 * is never held decompressed. Concatenated streams (pbzip2) are decoded in
 * full; every block and stream CRC is checked, and input that ends early is
 * reported as truncated.
 *
 * @module
 */

import Bunzip from "../deps/seek_bzip.ts";
import { PonchoError } from "../errors.ts";

/** Streams the decompressed content of bzip2 data. `name` appears in error messages. */
export async function* bz2Decompress(
  source: AsyncIterable<Uint8Array>,
  name = "bzip2 stream",
): AsyncGenerator<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const c of source) {
    parts.push(c);
    total += c.length;
  }
  const input = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    input.set(p, off);
    off += p.length;
  }
  parts.length = 0;
  yield* bz2Blocks(input, name);
}

class Truncated extends Error {}

function* bz2Blocks(input: Uint8Array, name: string): Generator<Uint8Array> {
  const inStream = {
    pos: 0,
    readByte(): number {
      if (this.pos >= input.length) throw new Truncated();
      return input[this.pos++];
    },
    read(buf: Uint8Array, off: number, len: number): number {
      let n = 0;
      while (n < len && this.pos < input.length) buf[off + n++] = input[this.pos++];
      return n === 0 ? -1 : n;
    },
    seek(pos: number): void {
      this.pos = pos;
    },
    eof(): boolean {
      return this.pos >= input.length;
    },
  };
  const outStream = {
    buf: new Uint8Array(1 << 20),
    pos: 0,
    writeByte(b: number): void {
      if (this.pos === this.buf.length) {
        const bigger = new Uint8Array(this.buf.length * 2);
        bigger.set(this.buf);
        this.buf = bigger;
      }
      this.buf[this.pos++] = b;
    },
    flush(): void {},
  };
  const fail = (e: unknown): PonchoError =>
    e instanceof Truncated
      ? new PonchoError(`${name} is truncated (the bzip2 data ends early); re-download it`)
      : new PonchoError(`${name} is not valid bzip2 data: ${(e as Error).message ?? e}`);
  if (input.length === 0) throw new PonchoError(`${name} is empty, not bzip2 data`);
  let bz: Bunzip;
  try {
    bz = new Bunzip(inStream, outStream);
  } catch (e) {
    throw fail(e);
  }
  while (true) {
    let more: boolean;
    try {
      more = bz._init_block();
      if (more) bz._read_bunzip();
      else {
        const crc = bz.reader.read(32) >>> 0;
        if (crc !== bz.streamCRC) throw new Error("bad stream CRC");
      }
    } catch (e) {
      throw fail(e);
    }
    if (more) {
      if (outStream.pos > 0) {
        yield outStream.buf.slice(0, outStream.pos);
        outStream.pos = 0;
      }
      continue;
    }
    if (inStream.eof()) return;
    try {
      bz._start_bunzip(inStream, outStream); // a concatenated stream follows
    } catch (e) {
      throw fail(e);
    }
  }
}
