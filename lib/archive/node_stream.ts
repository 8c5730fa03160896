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
  const queue: Uint8Array[] = [];
  let queued = 0;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  transform.on("data", (c: Uint8Array) => {
    queue.push(c);
    queued += c.length;
    if (queued > HIGH_WATER) transform.pause();
    notify();
  });
  transform.on("end", () => {
    ended = true;
    notify();
  });
  transform.on("error", (e) => {
    failure ??= e;
    notify();
  });
  // Deno's node:zlib throws some decoding errors (a zstd checksum mismatch) from a later tick
  // instead of emitting them: while this stream runs, such an uncaught zlib error is its failure,
  // not a crash with a stack trace.
  const uncaught = (e: ErrorEvent) => {
    const err = e.error;
    if (
      !(err instanceof Error) || !/^(Zstd|zlib|Brotli)\b|^ERR_ZLIB|decompress/i.test(err.message)
    ) {
      return;
    }
    e.preventDefault();
    failure ??= err;
    notify();
  };
  globalThis.addEventListener("error", uncaught);
  let drainWake: (() => void) | undefined;
  transform.on("drain", () => drainWake?.());
  transform.on("close", () => drainWake?.());

  let stop = false;
  const it = source[Symbol.asyncIterator]();
  const feeder = (async () => {
    try {
      while (!stop && failure === undefined) {
        const r = await it.next();
        if (r.done || stop || failure !== undefined) break;
        if (!transform.write(r.value) && !stop && failure === undefined) {
          await new Promise<void>((resolve) => (drainWake = resolve));
          drainWake = undefined;
        }
      }
      if (!stop && failure === undefined) transform.end();
    } catch (e) {
      failure ??= e;
      notify();
    }
  })();

  try {
    while (true) {
      if (failure !== undefined) throw wrapError(failure);
      if (queue.length) {
        const c = queue.shift()!;
        queued -= c.length;
        if (queued <= HIGH_WATER / 2 && transform.isPaused()) transform.resume();
        yield c;
        continue;
      }
      if (ended) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    await feeder;
    if (failure !== undefined) throw wrapError(failure);
  } finally {
    globalThis.removeEventListener("error", uncaught);
    if (!ended || failure !== undefined) {
      stop = true;
      transform.destroy();
      drainWake?.();
      await it.return?.();
    }
  }
}
