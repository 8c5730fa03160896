/**
 * Bytes held back until they can be written (an archive's frames, made
 * before the member that must precede them is known): in memory up to a
 * cap, then appended to a temp file, and given back in order by
 * {@link SpillBuffer.drain}. The temp file is made only when the cap is
 * passed and is removed by {@link SpillBuffer.close} (or `using`), whatever
 * happened.
 *
 * @module
 */

import { writeAllSync } from "./io.ts";

/** Memory held before a {@link SpillBuffer} spills (256 MiB). */
export const SPILL_CAP = 256 << 20;

/** Size of the chunks read back from the temp file. */
const READ_CHUNK = 1 << 20;

/** Chunks in memory up to `cap` bytes, the rest in the temp file `path` (made new). */
export class SpillBuffer implements Disposable {
  #chunks: Uint8Array[] = [];
  #held = 0;
  #file?: Deno.FsFile;
  #spilled = 0;

  constructor(readonly path: string, readonly cap: number = SPILL_CAP) {}

  /** Bytes held so far, in memory and in the file. */
  get length(): number {
    return this.#held + this.#spilled;
  }

  /** Bytes written to the temp file so far. */
  get spilled(): number {
    return this.#spilled;
  }

  /** Holds `chunk` (kept as it is in memory: the caller must not reuse it). */
  add(chunk: Uint8Array): void {
    if (!this.#file && this.#held + chunk.length <= this.cap) {
      this.#chunks.push(chunk);
      this.#held += chunk.length;
      return;
    }
    this.#file ??= Deno.openSync(this.path, {
      read: true,
      write: true,
      createNew: true,
      mode: 0o600,
    });
    writeAllSync(this.#file, chunk);
    this.#spilled += chunk.length;
  }

  /** Everything held, in order (the memory chunks, then the file's in fresh 1 MiB chunks). */
  async *drain(): AsyncGenerator<Uint8Array> {
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#held = 0;
    yield* chunks;
    if (!this.#file) return;
    await this.#file.seek(0, Deno.SeekMode.Start);
    for (let left = this.#spilled; left > 0;) {
      const buf = new Uint8Array(Math.min(READ_CHUNK, left));
      let got = 0;
      while (got < buf.length) {
        const n = await this.#file.read(buf.subarray(got));
        if (n === null) throw new Error(`${this.path} is shorter than what was written to it`);
        got += n;
      }
      left -= got;
      yield buf;
    }
  }

  /** Drops what is held and removes the temp file. */
  close(): void {
    this.#chunks = [];
    if (!this.#file) return;
    this.#file.close();
    this.#file = undefined;
    try {
      Deno.removeSync(this.path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  /** Same as {@link SpillBuffer.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
