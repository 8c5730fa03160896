/**
 * Runs an async stream of bytes through a Node transform stream (the
 * `node:zlib` codecs) with backpressure in both directions, as an async
 * generator.
 *
 * @module
 */

import type { Transform } from "node:stream";

/** Output bytes buffered before the transform is paused. */
const HIGH_WATER = 8 << 20;

/** The state of one {@link throughNode} stream: output queue, failure, wake-ups. */
class Through {
  readonly queue: Uint8Array[] = [];
  queued = 0;
  ended = false;
  failure: unknown;
  /** Set when the consumer stopped early: the feeder stops too. */
  stop = false;
  #wake: (() => void) | undefined;
  #drainWake: (() => void) | undefined;

  constructor(readonly transform: Transform) {
    transform.on("data", (c: Uint8Array) => {
      this.queue.push(c);
      this.queued += c.length;
      if (this.queued > HIGH_WATER) transform.pause();
      this.notify();
    });
    transform.on("end", () => {
      this.ended = true;
      this.notify();
    });
    transform.on("error", (e) => this.fail(e));
    transform.on("drain", () => this.#drainWake?.());
    transform.on("close", () => this.#drainWake?.());
  }

  notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  fail(e: unknown): void {
    this.failure ??= e;
    this.notify();
  }

  /**
   * Deno's node:zlib throws some decoding errors (a zstd checksum mismatch) from a later tick
   * instead of emitting them: while this stream runs, such an uncaught zlib error is its
   * failure, not a crash with a stack trace.
   */
  readonly uncaught = (e: ErrorEvent): void => {
    const err = e.error;
    // Deno's node:zlib zstd errors carry neither a class nor a code: only their text says zlib.
    if (
      !(err instanceof Error) || !/^(Zstd|zlib|Brotli)\b|^ERR_ZLIB|decompress/i.test(err.message)
    ) {
      return;
    }
    e.preventDefault();
    this.fail(err);
  };

  /** Writes the source into the transform, pausing while it asks to drain. */
  async feed(it: AsyncIterator<Uint8Array>): Promise<void> {
    const going = () => !this.stop && this.failure === undefined;
    try {
      while (going()) {
        const r = await it.next();
        if (r.done || !going()) break;
        if (!this.transform.write(r.value) && going()) {
          await new Promise<void>((resolve) => (this.#drainWake = resolve));
          this.#drainWake = undefined;
        }
      }
      if (going()) this.transform.end();
    } catch (e) {
      this.fail(e);
    }
  }

  /** The next output chunk, or `undefined` at the end; throws the failure. */
  async next(wrapError: (err: unknown) => Error): Promise<Uint8Array | undefined> {
    while (true) {
      if (this.failure !== undefined) throw wrapError(this.failure);
      if (this.queue.length) {
        const c = this.queue.shift()!;
        this.queued -= c.length;
        if (this.queued <= HIGH_WATER / 2 && this.transform.isPaused()) this.transform.resume();
        return c;
      }
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** Stops the feeder and the transform (an early stop or a failure). */
  async abort(it: AsyncIterator<Uint8Array>): Promise<void> {
    this.stop = true;
    this.transform.destroy();
    this.#drainWake?.();
    await it.return?.();
  }
}

/**
 * Feeds `source` into `transform` and yields its output. Stops feeding while
 * more than 8 MiB of output wait for the consumer. Errors from either side
 * are thrown to the consumer; stopping early destroys the transform and
 * returns the source iterator. `wrapError` turns a codec error into a
 * user-facing one.
 */
export async function* throughNode(
  source: AsyncIterable<Uint8Array>,
  transform: Transform,
  wrapError: (err: unknown) => Error = (e) => e as Error,
): AsyncGenerator<Uint8Array> {
  const t = new Through(transform);
  globalThis.addEventListener("error", t.uncaught);
  const it = source[Symbol.asyncIterator]();
  const feeder = t.feed(it);
  try {
    let c: Uint8Array | undefined;
    while ((c = await t.next(wrapError)) !== undefined) yield c;
    await feeder;
    if (t.failure !== undefined) throw wrapError(t.failure);
  } finally {
    globalThis.removeEventListener("error", t.uncaught);
    if (!t.ended || t.failure !== undefined) await t.abort(it);
  }
}
