/**
 * Decompression of a zstd file by the `zstd` program, when it is installed:
 * the same decoder GNU `tar --zstd` runs, in a process of its own (so on its
 * own core), about twice as fast as Deno's `node:zlib` zstd. Used by
 * `openDecompressed` (`compress.ts`) for environment archives; without a
 * `zstd` on `PATH` the caller falls back to the decompression worker.
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

/** Most output read after the consumer stopped, to learn zstd's verdict. */
export const DRAIN_MAX = 1 << 20;

/** The error for zstd's exit with `stderr`, naming the file as `name`. */
export function zstdProcessError(name: string, stderr: string): PonchoError {
  const why = stderr.trim().split("\n").pop()?.replace(/^zstd: /, "") ?? "";
  if (/premature end|truncated/i.test(why)) {
    return new PonchoError(`${name} is truncated (a zstd frame is cut short); re-create it`);
  }
  if (/unsupported format|unknown frame/i.test(why)) {
    return new PonchoError(`${name} holds bytes that are not a zstd frame; re-create it`);
  }
  const detail = why.slice(why.lastIndexOf(" : ") + 1).replace(/^:?\s*/, "") || "zstd failed";
  return new PonchoError(`${name} is corrupt: ${detail}`);
}

/**
 * Starts `zstd -d` on `path` and returns its output stream, or `undefined`
 * when there is no `zstd` program to start. `name` names the file in errors;
 * `drainMax` is how much output is still read, for zstd's verdict, when the
 * consumer stops early (0: none, the process is killed at once).
 */
export function zstdProcess(
  path: string,
  name = path,
  drainMax = DRAIN_MAX,
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
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
      return undefined;
    }
    throw err;
  }
  return new Output(child, name, drainMax);
}

/** zstd's output; the exit status is checked at the end, and on an early `return()`. */
class Output implements AsyncIterableIterator<Uint8Array> {
  #child: Deno.ChildProcess;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #stderr: Promise<string>;
  #finished = false;

  constructor(child: Deno.ChildProcess, readonly name: string, readonly drainMax: number) {
    this.#child = child;
    this.#stderr = new Response(child.stderr).text();
    this.#reader = child.stdout.getReader();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#finished) return { done: true, value: undefined };
    const r = await this.#reader.read();
    if (!r.done) return r;
    await this.#finish(true);
    return { done: true, value: undefined };
  }

  /** The consumer stops: the rest (up to `drainMax` bytes) is read for zstd's verdict. */
  async return(): Promise<IteratorResult<Uint8Array>> {
    if (!this.#finished) {
      await this.#finish(this.drainMax > 0 && await drain(this.#reader, this.drainMax));
    }
    return { done: true, value: undefined };
  }

  /** Ends the process (killed unless its output `ended`); throws its error if it failed. */
  async #finish(ended: boolean): Promise<void> {
    this.#finished = true;
    if (!ended) {
      kill(this.#child);
      await this.#reader.cancel();
    }
    this.#reader.releaseLock();
    const [status, text] = await Promise.all([this.#child.status, this.#stderr]);
    if (ended && !status.success) throw zstdProcessError(this.name, text);
  }
}

/** Kills `child` unless it has exited already (then there is nothing to stop). */
function kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch (err) {
    if (!(err instanceof TypeError && /already terminated/.test(err.message))) throw err;
  }
}

/** Reads and drops up to `max` bytes; whether the stream ended. */
async function drain(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  max: number,
): Promise<boolean> {
  let left = max;
  while (left > 0) {
    const r = await reader.read();
    if (r.done) return true;
    left -= r.value.length;
  }
  return false;
}
