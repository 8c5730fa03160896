/**
 * A pull reader over an async stream of byte chunks: read exactly N bytes,
 * stream N bytes as views, or skip N bytes, without copying data that already
 * sits inside one chunk.
 *
 * Views returned by {@link ChunkReader} alias the source's chunks. The reader
 * never writes into them and holds only the current chunk, so they stay valid
 * as long as the source does not reuse its buffers; a source that does (the
 * `zstd` program's output with `recycle`, `zstd_process.ts`) must keep each
 * chunk until its second successor is pulled, and the consumer must copy what
 * it keeps longer.
 *
 * @module
 */

const EMPTY = new Uint8Array(0);

/** Pulls bytes from an `AsyncIterable<Uint8Array>` in exact amounts. */
export class ChunkReader {
  #it: AsyncIterator<Uint8Array>;
  #buf: Uint8Array = EMPTY;
  #pos = 0;
  #done = false;
  #offset = 0;

  /** @param source The byte stream; empty chunks are allowed. */
  constructor(source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  /** Number of bytes consumed so far (read or skipped). */
  get offset(): number {
    return this.#offset;
  }

  /** Makes bytes available; returns false at the end of the source. */
  async #fill(): Promise<boolean> {
    while (this.#pos >= this.#buf.length) {
      if (this.#done) return false;
      const r = await this.#it.next();
      if (r.done) {
        this.#done = true;
        this.#buf = EMPTY;
        this.#pos = 0;
        return false;
      }
      this.#buf = r.value;
      this.#pos = 0;
    }
    return true;
  }

  /**
   * Reads exactly `n` bytes. Returns fewer only when the source ends first
   * (an empty array at the very end). The result is a view when the bytes
   * lie in one chunk, else a fresh copy.
   */
  async read(n: number): Promise<Uint8Array> {
    if (!(await this.#fill())) return EMPTY;
    const avail = this.#buf.length - this.#pos;
    if (avail >= n) {
      const view = this.#buf.subarray(this.#pos, this.#pos + n);
      this.#pos += n;
      this.#offset += n;
      return view;
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n && (await this.#fill())) {
      const take = Math.min(n - got, this.#buf.length - this.#pos);
      out.set(this.#buf.subarray(this.#pos, this.#pos + take), got);
      this.#pos += take;
      got += take;
      this.#offset += take;
    }
    return got === n ? out : out.subarray(0, got);
  }

  /**
   * Returns the next piece of at most `max` bytes as a view (never copies),
   * or `null` at the end of the source.
   */
  async next(max: number): Promise<Uint8Array | null> {
    if (max <= 0) return EMPTY;
    if (!(await this.#fill())) return null;
    const take = Math.min(max, this.#buf.length - this.#pos);
    const view = this.#buf.subarray(this.#pos, this.#pos + take);
    this.#pos += take;
    this.#offset += take;
    return view;
  }

  /**
   * Like {@link read} but synchronous: returns a view of the next `n` bytes
   * when they lie in the current chunk, else `undefined` (nothing consumed).
   */
  readBuffered(n: number): Uint8Array | undefined {
    const end = this.#pos + n;
    if (end > this.#buf.length) return undefined;
    const view = this.#buf.subarray(this.#pos, end);
    this.#pos = end;
    this.#offset += n;
    return view;
  }

  /**
   * Like {@link next} but synchronous: the next piece of at most `max` bytes
   * when the current chunk has any left, else `undefined`.
   */
  nextBuffered(max: number): Uint8Array | undefined {
    if (max <= 0 || this.#pos >= this.#buf.length) return undefined;
    const take = Math.min(max, this.#buf.length - this.#pos);
    const view = this.#buf.subarray(this.#pos, this.#pos + take);
    this.#pos += take;
    this.#offset += take;
    return view;
  }

  /** Skips `n` bytes when they lie in the current chunk (returns true), else does nothing. */
  skipBuffered(n: number): boolean {
    const end = this.#pos + n;
    if (end > this.#buf.length) return false;
    this.#pos = end;
    this.#offset += n;
    return true;
  }

  /** Skips up to `n` bytes; returns how many were skipped (fewer at the end). */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0 && (await this.#fill())) {
      const take = Math.min(left, this.#buf.length - this.#pos);
      this.#pos += take;
      left -= take;
      this.#offset += take;
    }
    return n - left;
  }

  /** Stops the source early (calls its iterator's `return`). Safe to call twice. */
  async cancel(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    this.#buf = EMPTY;
    this.#pos = 0;
    await this.#it.return?.();
  }
}
