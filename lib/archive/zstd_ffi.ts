/**
 * Decompression of a zstd file by the system's libzstd, called by FFI
 * without blocking (`ZSTD_decompressStream` runs on one of Deno's blocking
 * threads): the decoder fills the next buffer while the consumer works on
 * the last one, without the `zstd` program's process, pipe and copies. On a
 * 2-core machine, where the decoder and the extractor share the cores, that
 * took a cold unpack of 93 MB from 135-150 ms to 100-145 ms of wall time
 * and from 130-150 to 90-110 ms of CPU (decoding alone).
 *
 * The decoded bytes come in views of 1 MiB buffers that are decoded into
 * again; a chunk stays valid until the second `next()` after it (as the
 * `zstd` program's output with `recycle`, `zstd_process.ts`), so only
 * consumers that copy whatever they keep longer may use it. A decode can
 * begin before its consumer exists ({@link startHeadStart}): a cold
 * `poncho run` is bound by the decoder, so the decoder starts first. {@link zstdLibrary} says
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

import { errnoOf, PonchoError } from "../errors.ts";
import { DRAIN_MAX, notZstdError, truncatedError } from "./zstd_process.ts";
import { magicKind } from "./zstd_frame.ts";

/** Bytes of the file read at a time, and of each output buffer. */
const CHUNK = 1 << 20;
/**
 * Decoded chunks kept ready for a consumer that reads: with the call in
 * flight and the two chunks the consumer may hold, four buffers at most.
 */
const AHEAD = 1;
/**
 * Decoded chunks a head start keeps ready until its consumer comes: enough
 * for the 10-20 ms the CLI takes to get there, each a buffer of its own.
 */
const HEAD_AHEAD = 8;

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

function pointerOf(bytes: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
}

/** Whether the 4 bytes at `offset` of `file` start a zstd or skippable frame. */
function startsFrame(file: Deno.FsFile, offset: number): boolean {
  const magic = new Uint8Array(4);
  file.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < 4) {
    const n = file.readSync(magic.subarray(got));
    if (n === null) return false;
    got += n;
  }
  return magicKind(magic) !== undefined;
}

/** One decode of one file: the input side and the decoder's state. */
class Decode {
  readonly input = new Uint8Array(CHUNK);
  readonly inDesc = new BigUint64Array([pointerOf(this.input), 0n, 0n]);
  readonly outDesc = new BigUint64Array(3);
  read = 0;
  /** File offset where the last whole frame ended. */
  frameEnd = 0;
  /** What `ZSTD_decompressStream` last returned (0: at a frame's end). */
  hint = 1n;
  eof = false;
  /** The last call filled its buffer: decoded bytes may still wait inside the decoder. */
  flushing = false;
  #closed = false;

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
   * Decodes into `out` until it holds bytes; the filled view, or `undefined`
   * at the end of the data (checked: a frame cut short or bytes that are not
   * a frame throw). One call at a time.
   */
  async into(out: Uint8Array): Promise<Uint8Array | undefined> {
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
    return out.subarray(0, Number(this.outDesc[2]));
  }

  /** Frees the decoder and closes the file (once; never while a call is in flight). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.lib.symbols.ZSTD_freeDCtx(this.dctx);
    this.file.close();
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
 * A decode that runs ahead of its consumer: up to `limit` decoded chunks
 * wait in a queue (one call in flight at a time), each in a 1 MiB buffer of
 * its own; the consumer gives buffers back ({@link Ahead.release}) for reuse.
 * A decoder error is thrown to the consumer after the chunks decoded before it.
 */
class Ahead {
  readonly #queue: Uint8Array[] = [];
  readonly #free: Uint8Array[] = [];
  #inflight: Promise<void> | undefined;
  #end = false;
  #failed = false;
  #error: unknown;
  #stopped = false;

  constructor(readonly decode: Decode, public limit: number) {
    this.#step();
  }

  /** Starts the next decode call when none is in flight and the queue has room. */
  #step(): void {
    if (this.#inflight || this.#stopped || this.#end || this.#failed) return;
    if (this.#queue.length >= this.limit) return;
    const out = this.#free.pop() ?? new Uint8Array(CHUNK);
    this.#inflight = this.decode.into(out).then(
      (chunk) => {
        if (chunk === undefined) this.#end = true;
        else this.#queue.push(chunk);
      },
      (err) => {
        this.#failed = true;
        this.#error = err;
      },
    ).finally(() => {
      this.#inflight = undefined;
      this.#step();
    });
  }

  /** The next decoded chunk, or `undefined` at the end; throws the decoder's error in turn. */
  async pull(): Promise<Uint8Array | undefined> {
    while (true) {
      const chunk = this.#queue.shift();
      if (chunk !== undefined) {
        this.#step();
        return chunk;
      }
      if (this.#failed) throw this.#error;
      if (this.#end || this.#stopped) return undefined;
      this.#step();
      await this.#inflight;
    }
  }

  /** Gives the buffer under `chunk` (from {@link pull}) back for reuse. */
  release(chunk: Uint8Array): void {
    this.#free.push(new Uint8Array(chunk.buffer));
  }

  /** Stops decoding; frees the decoder and closes the file once no call is in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#queue.length = 0;
    this.#free.length = 0;
    await this.#inflight;
    this.decode.close();
  }
}

/** A decode of `path` begun before anyone asked for it ({@link startHeadStart}). */
let head: { path: string; ahead: Ahead } | undefined;

/** Whether the open `file` is still the file at `path` (same device, inode, size and mtime). */
function stillAt(file: Deno.FsFile, path: string): boolean {
  try {
    const [a, b] = [file.statSync(), Deno.statSync(path)];
    return a.dev === b.dev && a.ino === b.ino && a.size === b.size &&
      a.mtime?.getTime() === b.mtime?.getTime();
  } catch (err) {
    // Gone or unreadable since: not the file the head start read; the consumer opens it anew.
    if (errnoOf(err) !== undefined) return false;
    throw err;
  }
}

/**
 * Starts decoding the zstd file `path` (absolute) now, before its consumer
 * exists: a cold `poncho run` of the single file calls this as soon as its
 * CLI starts, so that libzstd works on the other core while the CLI and the
 * unpack modules load, instead of after. Up to {@link HEAD_AHEAD} chunks
 * (32 MiB) wait for the consumer: the first {@link zstdFfi} of `path` takes
 * them over, if the file is still the one opened here. A later start
 * replaces an untaken one; {@link dropHeadStart} frees one nobody took.
 * Does nothing when `path` cannot be opened.
 */
export function startHeadStart(lib: Libzstd, path: string): void {
  dropHeadStart();
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (err) {
    // Missing or unreadable: the consumer, if any, reports it when it opens the file itself.
    if (errnoOf(err) !== undefined) return;
    throw err;
  }
  const decode = new Decode(lib, lib.symbols.ZSTD_createDCtx(), file, path);
  head = { path, ahead: new Ahead(decode, HEAD_AHEAD) };
}

/** Stops and frees a head start that no consumer took (there may be none). */
export function dropHeadStart(): Promise<void> {
  const h = head;
  head = undefined;
  return h ? h.ahead.stop() : Promise.resolve();
}

/** The head start of `path` (now the caller's), when there is one for that same file. */
function takeHeadStart(path: string, name: string): Ahead | undefined {
  const h = head;
  if (h === undefined || h.path !== path || h.ahead.decode.name !== name) return undefined;
  head = undefined;
  if (stillAt(h.ahead.decode.file, path)) return h.ahead;
  void h.ahead.stop();
  return undefined;
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
  let ahead = takeHeadStart(path, name);
  if (ahead) ahead.limit = AHEAD;
  else {
    const file = Deno.openSync(path, { read: true });
    ahead = new Ahead(new Decode(lib, lib.symbols.ZSTD_createDCtx(), file, name), AHEAD);
  }
  const held: Uint8Array[] = [];
  let finished = false;
  try {
    while (true) {
      const chunk = await ahead.pull();
      if (chunk === undefined) {
        finished = true;
        return;
      }
      // The chunk two pulls back is the consumer's no more: its buffer is decoded into again.
      if (held.push(chunk) > 2) ahead.release(held.shift()!);
      yield chunk;
    }
  } finally {
    try {
      if (!finished) await drainForVerdict(ahead);
    } finally {
      await ahead.stop();
    }
  }
}

/**
 * When the consumer stopped early: decodes up to {@link DRAIN_MAX} more bytes
 * (counting those already decoded) so that a corrupt tail is still reported.
 */
async function drainForVerdict(ahead: Ahead): Promise<void> {
  let left = DRAIN_MAX;
  while (left > 0) {
    const chunk = await ahead.pull();
    if (chunk === undefined) return;
    left -= chunk.length;
    ahead.release(chunk);
  }
}
