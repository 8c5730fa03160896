/**
 * Decompression of a zstd file by the `zstd` program, when it is installed:
 * the same decoder GNU `tar --zstd` runs, in a process of its own (so on its
 * own core), about twice as fast as Deno's `node:zlib` zstd. Used by
 * `openArchive` (`open.ts`, environment archives) and `openDecompressed`
 * (`compress.ts`); without a `zstd` on `PATH` (or without permission to run
 * it) they decompress with `node:zlib` instead. On Linux its output is read
 * with one synchronous `read` per pipe-full (see `ProcPipe`), optionally
 * into two buffers used in turn (`recycle`): a fresh 64 KiB buffer per read
 * cost a cold unpack of 93 MB about 40 ms of page faults and collection.
 * With `recycle` the pipe is also widened to 1 MiB (`pipe_size.ts`).
 *
 * Errors are the same {@link PonchoError}s in-process decompression gives
 * (`is truncated`, `holds bytes that are not a zstd frame`, `is corrupt`),
 * naming the file. zstd verifies each frame's checksum only at the frame's
 * end, so when the consumer stops reading (a tar reader at the end-of-archive
 * marker, with only padding left) the rest of the output is read and the
 * exit status checked, up to {@link DRAIN_MAX} bytes by default; past that
 * the process is killed (the consumer stopped for a reason of its own).
 *
 * @module
 */

import { PonchoError } from "../errors.ts";
import { widenPipe } from "./pipe_size.ts";

/** Most output read after the consumer stopped, to learn zstd's verdict. */
export const DRAIN_MAX = 1 << 20;

/** The error of a zstd file `name` cut inside a frame (every decoder's words). */
export function truncatedError(name: string): PonchoError {
  return new PonchoError(`${name} is truncated (a zstd frame is cut short); re-create it`);
}

/** The error of a zstd file `name` holding bytes that are not a frame (every decoder's words). */
export function notZstdError(name: string): PonchoError {
  return new PonchoError(`${name} holds bytes that are not a zstd frame; re-create it`);
}

/** The error for zstd's exit with `stderr`, naming the file as `name`. */
export function zstdProcessError(name: string, stderr: string): PonchoError {
  const why = stderr.trim().split("\n").pop()?.replace(/^zstd: /, "") ?? "";
  if (/premature end|truncated/i.test(why)) return truncatedError(name);
  if (/unsupported format|unknown frame/i.test(why)) return notZstdError(name);
  const detail = why.slice(why.lastIndexOf(" : ") + 1).replace(/^:?\s*/, "") || "zstd failed";
  return new PonchoError(`${name} is corrupt: ${detail}`);
}

/**
 * Starts `zstd -d` on `path` and returns its output stream, or `undefined`
 * when there is no `zstd` program to start. `name` names the file in errors;
 * `drainMax` is how much output is still read, for zstd's verdict, when the
 * consumer stops early (0: none, the process is killed at once). With
 * `recycle`, the chunks are views of two buffers used in turn (on Linux): a
 * chunk stays valid until the second `next()` after it, so only a consumer
 * that copies whatever it keeps longer (the tar extractor writes each piece
 * at once) may ask for it.
 */
export function zstdProcess(
  path: string,
  name = path,
  drainMax = DRAIN_MAX,
  recycle = false,
): AsyncIterableIterator<Uint8Array> | undefined {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("zstd", {
      args: ["-d", "-c", "-q", "--", path],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    const cannot = err instanceof Deno.errors.NotFound ||
      err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable;
    if (cannot) return undefined;
    throw err;
  }
  return new Output(child, name, drainMax, recycle);
}

/** Bytes read from the pipe at a time (a Linux pipe holds 64 KiB unless widened). */
const PIPE_READ = 64 << 10;
/** The capacity asked for zstd's pipe, and the reads from it then (see `pipe_size.ts`). */
const WIDE_PIPE = 1 << 20;

/** The read side of zstd's stdout. */
interface Pipe {
  /** The next bytes (fresh), or `undefined` at the end. */
  read(): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Stops reading (also after the end); idempotent. */
  close(): Promise<void>;
}

/**
 * The pipe read synchronously through `/proc/<pid>/fd/1` (Linux: a second
 * read descriptor of the same pipe): one `read` per piece, without the
 * stream machinery of `child.stdout` (about a tenth of an unpack's CPU on
 * the main thread). The stream is never read, so no byte goes to it.
 */
class ProcPipe implements Pipe {
  #open = true;
  /** With `recycle`: the two buffers used in turn, and which was used last. */
  #bufs: Uint8Array[] | undefined;
  #last = 0;
  readonly #size: number;
  constructor(
    readonly file: Deno.FsFile,
    readonly stream: ReadableStream<Uint8Array>,
    recycle: boolean,
    wide: boolean,
  ) {
    this.#size = wide ? WIDE_PIPE : PIPE_READ;
    if (recycle) this.#bufs = [new Uint8Array(this.#size), new Uint8Array(this.#size)];
  }

  read(): Uint8Array | undefined {
    let buf: Uint8Array;
    if (this.#bufs) {
      this.#last ^= 1;
      buf = this.#bufs[this.#last];
    } else buf = new Uint8Array(this.#size);
    const n = this.file.readSync(buf);
    return n === null ? undefined : buf.subarray(0, n);
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    this.file.close();
    await this.stream.cancel();
  }
}

/** The pipe read through `child.stdout` (where `/proc` is not there to open it). */
class StreamPipe implements Pipe {
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  #open = true;
  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  async read(): Promise<Uint8Array | undefined> {
    const r = await this.reader.read();
    return r.done ? undefined : r.value;
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    await this.reader.cancel();
    this.reader.releaseLock();
  }
}

function openPipe(child: Deno.ChildProcess, recycle: boolean): Pipe {
  if (Deno.build.os === "linux") {
    try {
      const file = Deno.openSync(`/proc/${child.pid}/fd/1`, { read: true });
      // Only zstd's pipe: a process that has exited has no fd/1 (NotFound).
      if (file.statSync().isFifo) {
        // Wider only for a long read: not for an identity read, which stops after one member.
        const wide = recycle && widenPipe(`/proc/${child.pid}/fd/1`, WIDE_PIPE);
        return new ProcPipe(file, child.stdout, recycle, wide);
      }
      file.close();
    } catch (err) {
      // zstd has exited already (a tiny file), or no /proc: read the stream.
      if (!(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied)) {
        throw err;
      }
    }
  }
  return new StreamPipe(child.stdout);
}

/** zstd's output; the exit status is checked at the end, and on an early `return()`. */
class Output implements AsyncIterableIterator<Uint8Array> {
  #child: Deno.ChildProcess;
  #pipe: Pipe;
  #stderr: Promise<string>;
  #finished = false;

  constructor(
    child: Deno.ChildProcess,
    readonly name: string,
    readonly drainMax: number,
    recycle: boolean,
  ) {
    this.#child = child;
    this.#stderr = new Response(child.stderr).text();
    this.#pipe = openPipe(child, recycle);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#finished) return { done: true, value: undefined };
    const value = await this.#pipe.read();
    if (value !== undefined) return { done: false, value };
    await this.#finish(true);
    return { done: true, value: undefined };
  }

  /** The consumer stops: the rest (up to `drainMax` bytes) is read for zstd's verdict. */
  async return(): Promise<IteratorResult<Uint8Array>> {
    if (!this.#finished) {
      await this.#finish(this.drainMax > 0 && await drain(this.#pipe, this.drainMax));
    }
    return { done: true, value: undefined };
  }

  /** Ends the process (killed unless its output `ended`); throws its error if it failed. */
  async #finish(ended: boolean): Promise<void> {
    this.#finished = true;
    if (!ended) kill(this.#child);
    await this.#pipe.close();
    const [status, text] = await Promise.all([this.#child.status, this.#stderr]);
    if (ended && !status.success) throw zstdProcessError(this.name, text);
  }
}

/** Kills `child` unless it has exited already (then there is nothing to stop). */
function kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch (err) {
    // Deno's kill() throws a TypeError only for a child that has already terminated.
    if (!(err instanceof TypeError)) throw err;
  }
}

/** Reads and drops up to `max` bytes; whether the output ended. */
async function drain(pipe: Pipe, max: number): Promise<boolean> {
  let left = max;
  while (left > 0) {
    const chunk = await pipe.read();
    if (chunk === undefined) return true;
    left -= chunk.length;
  }
  return false;
}
