/**
 * Decompression of a zstd file by the system's libzstd, called by FFI
 * without blocking (`ZSTD_decompressStream` runs on one of Deno's blocking
 * threads): the decoder fills the next buffer while the consumer works on
 * the last one, without the `zstd` program's process, pipe and copies. On a
 * 2-core machine, where the decoder and the extractor share the cores, that
 * took a cold unpack of 93 MB from 135-150 ms to 100-145 ms of wall time
 * and from 130-150 to 90-110 ms of CPU (decoding alone).
 *
 * The decoded bytes come in views of four 1 MiB buffers used in turn; a
 * chunk stays valid until the second `next()` after it (as the `zstd`
 * program's output with `recycle`, `zstd_process.ts`), so only consumers
 * that copy whatever they keep longer may use it. {@link zstdLibrary} says
 * whether libzstd can be loaded here (glibc's `libzstd.so.1`, FFI allowed);
 * else the caller decodes another way.
 *
 * Errors are the same {@link PonchoError}s as the other decoders'
 * (`is truncated`, `holds bytes that are not a zstd frame`, `is corrupt`),
 * naming the file. As with the `zstd` program, a consumer that stops early
 * still learns of a corrupt tail within {@link DRAIN_MAX} bytes.
 *
 * @module
 */

import { PonchoError } from "../errors.ts";
import { DRAIN_MAX, notZstdError, truncatedError } from "./zstd_process.ts";
import { magicKind } from "./zstd_frame.ts";
import { readAtSync } from "../fs/io.ts";
import { pointerOf } from "../libc.ts";

/** Bytes of the file read at a time, and of each output buffer. */
const CHUNK = 1 << 20;
/** Output buffers used in turn: two held by the consumer, one being filled, one spare. */
const BUFFERS = 4;

const SYMBOLS = {
  ZSTD_createDCtx: { parameters: [], result: "pointer" },
  ZSTD_freeDCtx: { parameters: ["pointer"], result: "usize" },
  ZSTD_decompressStream: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "usize",
    nonblocking: true,
  },
  ZSTD_isError: { parameters: ["usize"], result: "u32" },
  ZSTD_getErrorName: { parameters: ["usize"], result: "pointer" },
} as const;

type Libzstd = Deno.DynamicLibrary<typeof SYMBOLS>;
let loaded: Libzstd | null | undefined;

/** libzstd, loaded once; `null` when it cannot be (no library, no FFI permission). */
export function zstdLibrary(): Libzstd | null {
  if (loaded !== undefined) return loaded;
  try {
    loaded = Deno.build.os === "linux" ? Deno.dlopen("libzstd.so.1", SYMBOLS) : null;
  } catch (err) {
    // No libzstd here, or FFI not allowed: the caller decodes with the zstd program.
    if (err instanceof Error) loaded = null;
    else throw err;
  }
  return loaded;
}

/** Whether the 4 bytes at `offset` of `file` start a zstd or skippable frame. */
function startsFrame(file: Deno.FsFile, offset: number): boolean {
  return magicKind(readAtSync(file, offset, 4)) !== undefined;
}

/** One decode of one file: the input side, the decoder's state and the output buffers. */
class Decode {
  readonly input = new Uint8Array(CHUNK);
  readonly inDesc = new BigUint64Array([pointerOf(this.input), 0n, 0n]);
  readonly outDesc = new BigUint64Array(3);
  readonly outputs = Array.from({ length: BUFFERS }, () => new Uint8Array(CHUNK));
  next = 0;
  read = 0;
  /** File offset where the last whole frame ended. */
  frameEnd = 0;
  /** What `ZSTD_decompressStream` last returned (0: at a frame's end). */
  hint = 1n;
  eof = false;
  /** The last call filled its buffer: decoded bytes may still wait inside the decoder. */
  flushing = false;

  constructor(
    readonly lib: Libzstd,
    readonly dctx: Deno.PointerValue,
    readonly file: Deno.FsFile,
    readonly name: string,
  ) {}

  /** Refills the input when it is used up; false at the end of the file. */
  #fill(): boolean {
    if (this.inDesc[2] < this.inDesc[1] || this.flushing) return true;
    if (this.eof) return false;
    const n = this.file.readSync(this.input);
    if (n === null) {
      this.eof = true;
      return false;
    }
    this.inDesc[1] = BigInt(n);
    this.inDesc[2] = 0n;
    this.read += n;
    return true;
  }

  /**
   * Decodes into the next buffer until it holds bytes; the filled view, or
   * `undefined` at the end of the data (checked: a frame cut short or bytes
   * that are not a frame throw).
   */
  async chunk(): Promise<Uint8Array | undefined> {
    const out = this.outputs[this.next];
    this.outDesc[0] = pointerOf(out);
    this.outDesc[1] = BigInt(out.length);
    this.outDesc[2] = 0n;
    while (this.outDesc[2] === 0n) {
      if (!this.#fill()) return this.#end();
      this.hint = BigInt(
        await this.lib.symbols.ZSTD_decompressStream(this.dctx, this.outDesc, this.inDesc),
      );
      if (this.lib.symbols.ZSTD_isError(this.hint)) throw this.#failure();
      if (this.hint === 0n) this.frameEnd = this.read - Number(this.inDesc[1] - this.inDesc[2]);
      this.flushing = this.outDesc[2] === this.outDesc[1];
    }
    this.next = (this.next + 1) % BUFFERS;
    return out.subarray(0, Number(this.outDesc[2]));
  }

  #end(): undefined {
    if (this.read === 0) throw truncatedError(this.name);
    if (this.hint !== 0n) {
      const junk = this.read - this.frameEnd < 4 || !startsFrame(this.file, this.frameEnd);
      throw junk ? notZstdError(this.name) : truncatedError(this.name);
    }
    return undefined;
  }

  #failure(): PonchoError {
    const why = new Deno.UnsafePointerView(this.lib.symbols.ZSTD_getErrorName(this.hint)!)
      .getCString();
    if (/unknown frame|prefix unknown/i.test(why)) return notZstdError(this.name);
    return new PonchoError(`${this.name} is corrupt: ${why}`);
  }
}

/**
 * Streams the zstd file `path` decoded by `lib` (from {@link zstdLibrary});
 * errors name it as `name`. See the module documentation for how long a
 * chunk stays valid.
 */
export async function* zstdFfi(
  lib: Libzstd,
  path: string,
  name = path,
): AsyncGenerator<Uint8Array> {
  using file = Deno.openSync(path, { read: true });
  const dctx = lib.symbols.ZSTD_createDCtx();
  const d = new Decode(lib, dctx, file, name);
  let pending: Promise<Uint8Array | undefined> | undefined = d.chunk();
  let finished = false;
  try {
    while (true) {
      const chunk = await pending;
      pending = undefined;
      if (chunk === undefined) {
        finished = true;
        return;
      }
      pending = d.chunk(); // the next buffer fills while the consumer works on this one
      yield chunk;
    }
  } finally {
    try {
      await drainForVerdict(d, pending, finished);
    } finally {
      lib.symbols.ZSTD_freeDCtx(dctx);
    }
  }
}

/**
 * When the consumer stopped early: decodes up to {@link DRAIN_MAX} more bytes
 * so that a corrupt tail is still reported; waits for a call in flight.
 */
async function drainForVerdict(
  d: Decode,
  pending: Promise<Uint8Array | undefined> | undefined,
  finished: boolean,
): Promise<void> {
  if (finished) return;
  let left = DRAIN_MAX;
  let next = pending;
  while (next) {
    const chunk = await next;
    if (chunk === undefined) return;
    left -= chunk.length;
    next = left > 0 ? d.chunk() : undefined;
  }
}
