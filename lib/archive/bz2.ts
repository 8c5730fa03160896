/**
 * bzip2 decompression (read-only), streamed.
 *
 * When `lbzip2` or `bzip2` is on PATH (Debian: `bzip2` is essential on most
 * installs), the data is piped through `lbzip2 -dc` / `bzip2 -dc`: constant
 * memory, multi-threaded with lbzip2. Otherwise `seek-bzip` decodes in
 * process; it needs the whole compressed input in memory (its API is
 * buffer-based) but streams the output one bzip2 block at a time. Both paths
 * decode concatenated streams (pbzip2), check CRCs and report input that ends
 * early as truncated. `PONCHO_BZIP2=builtin` forces the in-process decoder.
 *
 * @module
 */

import Bunzip from "../deps/seek_bzip.ts";
import { CorruptError } from "../errors.ts";
import { concatBytes } from "../bytes.ts";

let external: string | null | undefined;

/** The external decompressor to use (`lbzip2` preferred), or null for the built-in one. */
export function externalBzip2(): string | null {
  if (external !== undefined) return external;
  external = null;
  if (Deno.env.get("PONCHO_BZIP2") === "builtin") return external;
  for (const tool of ["lbzip2", "bzip2"]) {
    try {
      const ok = new Deno.Command(tool, { args: ["--help"], stdout: "null", stderr: "null" })
        .outputSync();
      if (ok.code === 0 || ok.code === 1) return (external = tool);
    } catch { /* not installed: try the next one */ }
  }
  return external;
}

/**
 * Streams the decompressed content of bzip2 data. `name` appears in error messages.
 * `decoder` picks the external tool (a command name) or the built-in decoder (`null`);
 * by default {@link externalBzip2} decides.
 *
 * @example
 * ```ts ignore
 * for await (const chunk of bz2Decompress(readFileChunks("pkg.tar.bz2"), "pkg.tar.bz2")) {
 *   console.log(chunk.length);
 * }
 * ```
 */
export function bz2Decompress(
  source: AsyncIterable<Uint8Array>,
  name = "bzip2 stream",
  decoder: string | null = externalBzip2(),
): AsyncGenerator<Uint8Array> {
  return decoder ? bz2External(decoder, source, name) : bz2Builtin(source, name);
}

async function* bz2External(
  tool: string,
  source: AsyncIterable<Uint8Array>,
  name: string,
): AsyncGenerator<Uint8Array> {
  const child = new Deno.Command(tool, {
    args: ["-dc"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let inputBytes = 0;
  const pump = (async () => {
    const w = child.stdin.getWriter();
    try {
      for await (const c of source) {
        inputBytes += c.length;
        await w.write(c);
      }
      await w.close();
    } catch {
      // The decompressor stopped reading (it failed, or we stopped consuming): its exit
      // status and message below say why.
      await w.abort().catch(() => {});
    }
  })();
  const stderr = new Response(child.stderr).text();
  let done = false;
  try {
    for await (const c of child.stdout) yield c;
    done = true;
  } finally {
    if (!done) {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
    }
    await pump;
  }
  const status = await child.status;
  const msg = (await stderr).trim();
  if (inputBytes === 0) throw new CorruptError(`${name} is empty, not bzip2 data`);
  if (!status.success) throw bz2Failure(name, msg);
}

function bz2Failure(name: string, msg: string): CorruptError {
  if (/ends unexpectedly|unexpected end of file|unterminated|premature|truncat/i.test(msg)) {
    return new CorruptError(`${name} is truncated (the bzip2 data ends early); re-download it`);
  }
  const line = msg.split("\n").find((l) => l.trim() !== "") ?? "decoder failed";
  return new CorruptError(`${name} is not valid bzip2 data: ${line.replace(/^\S+: /, "")}`);
}

async function* bz2Builtin(
  source: AsyncIterable<Uint8Array>,
  name: string,
): AsyncGenerator<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of source) parts.push(c);
  const input = concatBytes(parts);
  parts.length = 0;
  yield* bz2Blocks(input, name);
}

class Truncated extends Error {}

/** The input side `seek-bzip` reads from: a cursor over the whole compressed buffer. */
function byteInput(input: Uint8Array) {
  return {
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
}

/** The output side: a growing buffer the caller drains after every block. */
function blockOutput() {
  return {
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
    /** The bytes written since the last call. */
    take(): Uint8Array | undefined {
      if (this.pos === 0) return undefined;
      const out = this.buf.slice(0, this.pos);
      this.pos = 0;
      return out;
    },
  };
}

/** The decoder's failure as one line naming the file: truncated or not bzip2 data. */
function decodeFailure(name: string, e: unknown): CorruptError {
  return e instanceof Truncated
    ? new CorruptError(`${name} is truncated (the bzip2 data ends early); re-download it`)
    : new CorruptError(`${name} is not valid bzip2 data: ${(e as Error).message ?? e}`);
}

/**
 * Decodes the next block into `out`; false at the end of a stream, after its CRC is checked.
 * Every decoder failure comes out as {@link decodeFailure}.
 */
function nextBlock(bz: Bunzip, name: string): boolean {
  try {
    if (bz._init_block()) {
      bz._read_bunzip();
      return true;
    }
    const crc = bz.reader.read(32) >>> 0;
    if (crc !== bz.streamCRC) throw new Error("bad stream CRC");
    return false;
  } catch (e) {
    throw decodeFailure(name, e);
  }
}

function* bz2Blocks(input: Uint8Array, name: string): Generator<Uint8Array> {
  if (input.length === 0) throw new CorruptError(`${name} is empty, not bzip2 data`);
  const inStream = byteInput(input);
  const outStream = blockOutput();
  let bz: Bunzip;
  try {
    bz = new Bunzip(inStream, outStream);
  } catch (e) {
    throw decodeFailure(name, e);
  }
  while (true) {
    if (nextBlock(bz, name)) {
      const block = outStream.take();
      if (block) yield block;
      continue;
    }
    if (inStream.eof()) return;
    try {
      bz._start_bunzip(inStream, outStream); // a concatenated stream follows
    } catch (e) {
      throw decodeFailure(name, e);
    }
  }
}
