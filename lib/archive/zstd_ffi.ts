/**
 * Decompression of a zstd file by the system's libzstd, called by FFI
 * without blocking (the calls run on one of Deno's blocking threads): the
 * decoder fills the next buffer while the consumer works on
 * the last one, without the `zstd` program's process, pipe and copies. On a
 * 2-core machine, where the decoder and the extractor share the cores, that
 * took a cold unpack of 93 MB from 135-150 ms to 100-145 ms of wall time
 * and from 130-150 to 90-110 ms of CPU (decoding alone).
 *
 * Each frame of up to 4 MiB (every frame `pack` writes) is decoded whole by
 * one call, straight into a 4 MiB output buffer: no window buffer, no copy
 * out of it, a call per 4 MiB rather than per MiB; up to three frames are
 * decoded at once, ahead of the consumer. On the same machine that took a
 * cold `poncho run -e` of a 91.5 MB environment from 264-298 ms to 226-266
 * ms and of the Python stdlib from 698 to 536 ms (`bench/cold_ab.ts`,
 * medians of 15-21 interleaved runs; one frame at a time). A decode can also
 * begin before anything reads the file ({@link prefetchZstd}): `poncho run`
 * begins it when it finds the archive unknown, so that the first frames are
 * decoded while it reads the manifest and takes the locks (another 6-20 ms
 * off the cold start of the 91.5 MB environment, 58 ms off the stdlib's).
 * From the first frame that does not fit (a single-frame archive of another
 * tool), the streaming decoder takes over, into four 1 MiB buffers. Either
 * way a chunk stays valid until the second `next()` after it (as the `zstd`
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
import { magicKind, ZSTD_FRAME_SIZE } from "./zstd_frame.ts";
import { readAtSync } from "../fs/io.ts";
import { pointerOf } from "../libc.ts";

/** Bytes of the file read at a time by the streaming decoder, and of each of its output buffers. */
const CHUNK = 1 << 20;
/** The streaming decoder's output buffers used in turn: two held by the consumer, one being filled, one spare. */
const BUFFERS = 4;
/** Output capacity of a whole-frame decode: every frame `pack` writes fits. */
const FRAME_OUT = ZSTD_FRAME_SIZE;
/** Compressed bytes held at once: any frame of {@link FRAME_OUT} bytes, even stored raw. */
const FRAME_IN = FRAME_OUT + (FRAME_OUT >> 4);
/**
 * Whole-frame decodes in flight at a time (each on a blocking thread of its
 * own): the decoder runs up to three frames ahead of the consumer, and of its
 * start when the decode was begun early ({@link prefetchZstd}).
 */
const FRAME_JOBS = 3;
/**
 * The whole-frame decoder's output buffers: two the consumer may still read,
 * the one just returned, and those being filled.
 */
const FRAME_BUFFERS = FRAME_JOBS + 3;
/** `ZSTD_getErrorCode`'s code for an output buffer too small for the frame. */
const DST_TOO_SMALL = 70;
/** `ZSTD_getFrameContentSize`'s "not in the header" (and, one less, "error"). */
const SIZE_UNKNOWN = (1n << 64n) - 1n;

const SYMBOLS = {
  ZSTD_createDCtx: { parameters: [], result: "pointer" },
  ZSTD_freeDCtx: { parameters: ["pointer"], result: "usize" },
  ZSTD_decompressStream: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "usize",
    nonblocking: true,
  },
  ZSTD_decompressDCtx: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize"],
    result: "usize",
    nonblocking: true,
  },
  ZSTD_findFrameCompressedSize: { parameters: ["buffer", "usize"], result: "usize" },
  ZSTD_getFrameContentSize: { parameters: ["buffer", "usize"], result: "u64" },
  ZSTD_isError: { parameters: ["usize"], result: "u32" },
  ZSTD_getErrorCode: { parameters: ["usize"], result: "i32" },
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

/** The error libzstd's result `code` stands for, naming the file `name`. */
function failure(lib: Libzstd, code: bigint, name: string): PonchoError {
  const why = new Deno.UnsafePointerView(lib.symbols.ZSTD_getErrorName(code)!).getCString();
  if (/unknown frame|prefix unknown/i.test(why)) return notZstdError(name);
  return new PonchoError(`${name} is corrupt: ${why}`);
}

/** A whole-frame decode in flight: where its frame starts in the file, and what it holds. */
interface FrameJob {
  /** File offset of the frame. */
  offset: number;
  /** Its compressed size. */
  size: number;
  /** The input buffer its bytes are in. */
  input: HeldInput;
  /** The output buffer it decodes into. */
  out: Uint8Array<ArrayBuffer>;
  /** The decoder state it uses. */
  dctx: Deno.PointerValue;
  /** What `ZSTD_decompressDCtx` returns. */
  result: Promise<number | bigint>;
}

/** An input buffer, with the number of decodes in flight that read it. */
interface HeldInput {
  bytes: Uint8Array;
  busy: number;
}

/**
 * One decode of one file, a whole frame per call (`ZSTD_decompressDCtx`,
 * straight into the output: no window buffer, no copy out of it), up to
 * {@link FRAME_JOBS} frames at a time, as long as each frame fits
 * ({@link FRAME_IN} compressed, {@link FRAME_OUT} decoded). From the first
 * frame that does not (a single-frame archive of another tool, bytes that
 * are not a frame, a frame cut short), the streaming decoder goes on from
 * that frame's start, and names any error.
 *
 * The file is read into two input buffers in turn: the bytes after the last
 * whole frame of one move to the front of the other, which is refilled only
 * once no decode reads it.
 */
class Decode {
  readonly inputs: HeldInput[] = [0, 1].map(() => ({ bytes: new Uint8Array(FRAME_IN), busy: 0 }));
  /** The input the next frame is taken from, and its unconsumed bytes `[start, end)`. */
  current = 0;
  start = 0;
  end = 0;
  /** File offset of `start`. */
  at = 0;
  /** Bytes of the file read so far. */
  read = 0;
  eof = false;
  /** Set once the next frame cannot be decoded whole: where the streaming decoder starts. */
  streamAt?: number;
  readonly jobs: FrameJob[] = [];
  readonly freeOutputs = Array.from({ length: FRAME_BUFFERS }, () => new Uint8Array(FRAME_OUT));
  /** The outputs of the chunks returned that the consumer may still read. */
  readonly returned: Uint8Array<ArrayBuffer>[] = [];
  readonly dctxs: Deno.PointerValue[];
  stream?: StreamDecode;

  constructor(readonly lib: Libzstd, readonly file: Deno.FsFile, public name: string) {
    this.dctxs = Array.from({ length: FRAME_JOBS }, () => lib.symbols.ZSTD_createDCtx());
  }

  /**
   * Decodes the next frame that holds bytes; its view, or `undefined` at the
   * end of the data (checked as the streaming decoder checks it).
   */
  async chunk(): Promise<Uint8Array | undefined> {
    // The consumer has pulled twice since the chunk before the last: its buffer is free.
    while (this.returned.length > 2) this.freeOutputs.push(this.returned.shift()!);
    while (this.streamAt === undefined || this.jobs.length > 0) {
      this.#issue();
      const job = this.jobs.shift();
      if (!job) break;
      const n = BigInt(await job.result);
      job.input.busy--;
      this.dctxs.push(job.dctx);
      if (this.lib.symbols.ZSTD_isError(n)) {
        this.freeOutputs.push(job.out);
        if (this.lib.symbols.ZSTD_getErrorCode(n) !== DST_TOO_SMALL) {
          throw failure(this.lib, n, this.name);
        }
        await this.#settle(); // the frames after it are streamed again
        this.streamAt = job.offset;
        break;
      }
      if (n === 0n) { // a skippable or empty frame
        this.freeOutputs.push(job.out);
        continue;
      }
      this.returned.push(job.out);
      this.#issue();
      return job.out.subarray(0, Number(n));
    }
    if (this.streamAt === undefined) return undefined;
    this.stream ??= new StreamDecode(this.lib, this.file, this.name, this.streamAt);
    return await this.stream.chunk();
  }

  /** Starts the first decodes (before the first {@link chunk}). */
  begin(): void {
    this.#issue();
  }

  /** Starts whole-frame decodes until {@link FRAME_JOBS} are in flight, where it can. */
  #issue(): void {
    while (
      this.streamAt === undefined && this.jobs.length < FRAME_JOBS && this.freeOutputs.length > 0
    ) {
      const src = this.#frame();
      if (src === undefined) return; // the end, or an input still being read
      if (src === null) {
        this.streamAt = this.at;
        return;
      }
      const out = this.freeOutputs.pop()!;
      const dctx = this.dctxs.pop()!;
      const input = this.inputs[this.current];
      input.busy++;
      const result = this.lib.symbols.ZSTD_decompressDCtx(
        dctx,
        out,
        BigInt(out.length),
        src,
        BigInt(src.length),
      );
      this.jobs.push({ offset: this.at, size: src.length, input, out, dctx, result });
      this.start += src.length;
      this.at += src.length;
    }
  }

  /**
   * The compressed bytes of the next frame, whole, in the current input;
   * `null` when it cannot be decoded whole here; `undefined` at the end of
   * the file, or when the input to refill is still being read.
   */
  #frame(): Uint8Array | null | undefined {
    const { lib } = this;
    while (true) {
      const view = this.inputs[this.current].bytes.subarray(this.start, this.end);
      if (view.length > 0) {
        const size = lib.symbols.ZSTD_findFrameCompressedSize(view, BigInt(view.length));
        if (!lib.symbols.ZSTD_isError(size)) {
          const content = lib.symbols.ZSTD_getFrameContentSize(view, BigInt(view.length));
          if (content < SIZE_UNKNOWN - 1n && content > BigInt(FRAME_OUT)) return null;
          return view.subarray(0, Number(size));
        }
      } else if (this.eof) {
        if (this.read === 0) throw truncatedError(this.name);
        return undefined;
      }
      if (this.eof || view.length === FRAME_IN) return null;
      if (this.inputs[1 - this.current].busy > 0) return undefined;
      this.#refill();
    }
  }

  /** Moves the unconsumed bytes to the front of the other input and reads the file after them. */
  #refill(): void {
    const from = this.inputs[this.current].bytes;
    this.current = 1 - this.current;
    const to = this.inputs[this.current].bytes;
    to.set(from.subarray(this.start, this.end));
    this.end -= this.start;
    this.start = 0;
    while (this.end < to.length) {
      const n = this.file.readSync(to.subarray(this.end));
      if (n === null) {
        this.eof = true;
        return;
      }
      this.end += n;
      this.read += n;
    }
  }

  /** Waits for the decodes in flight (their results unused). */
  async #settle(): Promise<void> {
    for (const job of this.jobs.splice(0)) {
      await job.result;
      job.input.busy--;
      this.dctxs.push(job.dctx);
      this.freeOutputs.push(job.out);
    }
  }

  /** Frees the decoder state, once no decode is in flight. */
  async free(): Promise<void> {
    await this.#settle();
    this.freeIdle();
  }

  /** Frees the decoder state of a decode with none in flight. */
  freeIdle(): void {
    this.stream?.free();
    for (const dctx of this.dctxs) this.lib.symbols.ZSTD_freeDCtx(dctx);
  }
}

/** A streaming decode of the file from `offset` (`ZSTD_decompressStream`, 1 MiB at a time). */
class StreamDecode {
  readonly input = new Uint8Array(CHUNK);
  readonly inDesc = new BigUint64Array([pointerOf(this.input), 0n, 0n]);
  readonly outDesc = new BigUint64Array(3);
  readonly outputs = Array.from({ length: BUFFERS }, () => new Uint8Array(CHUNK));
  readonly dctx: Deno.PointerValue;
  next = 0;
  read: number;
  /** File offset where the last whole frame ended. */
  frameEnd: number;
  /** What `ZSTD_decompressStream` last returned (0: at a frame's end). */
  hint = 1n;
  eof = false;
  /** The last call filled its buffer: decoded bytes may still wait inside the decoder. */
  flushing = false;

  constructor(
    readonly lib: Libzstd,
    readonly file: Deno.FsFile,
    readonly name: string,
    offset: number,
  ) {
    this.dctx = lib.symbols.ZSTD_createDCtx();
    file.seekSync(offset, Deno.SeekMode.Start);
    this.read = this.frameEnd = offset;
  }

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
      if (this.lib.symbols.ZSTD_isError(this.hint)) throw failure(this.lib, this.hint, this.name);
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

  /** Frees the decoder state. */
  free(): void {
    this.lib.symbols.ZSTD_freeDCtx(this.dctx);
  }
}

/** Decodes begun ahead of their reader ({@link prefetchZstd}), by path. */
const ahead = new Map<string, { decode: Decode; file: Deno.FsFile }>();

/**
 * Begins decoding the zstd file `path`, open as `file` (which this takes
 * over), before anything reads it: the next {@link zstdFfi} of the same path
 * goes on with this decode, whose first frames are by then decoded, while
 * the caller did other work. Whether it began: not (`file` is closed) when a
 * decode of `path` is already waiting, or the file is empty.
 * {@link dropPrefetchedZstd} frees a decode nobody took.
 */
export function prefetchZstd(lib: Libzstd, path: string, file: Deno.FsFile): boolean {
  if (ahead.has(path)) {
    file.close();
    return false;
  }
  const decode = new Decode(lib, file, path);
  try {
    decode.begin();
  } catch (err) {
    // An empty file: nothing began; the read that follows reports it.
    decode.freeIdle();
    file.close();
    if (err instanceof PonchoError) return false;
    throw err;
  }
  ahead.set(path, { decode, file });
  return true;
}

/** Frees the decode of `path` begun by {@link prefetchZstd} if nothing took it. */
export async function dropPrefetchedZstd(path: string): Promise<void> {
  const entry = ahead.get(path);
  if (!entry) return;
  ahead.delete(path);
  try {
    await entry.decode.free();
  } finally {
    entry.file.close();
  }
}

/**
 * Streams the zstd file `path` decoded by `lib` (from {@link zstdLibrary});
 * errors name it as `name`. See the module documentation for how long a
 * chunk stays valid. Goes on with the decode {@link prefetchZstd} began for
 * `path`, if one waits.
 */
export async function* zstdFfi(
  lib: Libzstd,
  path: string,
  name = path,
): AsyncGenerator<Uint8Array> {
  const taken = ahead.get(path);
  ahead.delete(path);
  using file = taken?.file ?? Deno.openSync(path, { read: true });
  const d = taken?.decode ?? new Decode(lib, file, name);
  d.name = name;
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
      await d.free();
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
