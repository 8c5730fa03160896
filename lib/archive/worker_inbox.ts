/**
 * The parent side of the decompression worker (`decompress_worker.ts`, with
 * `node:zlib`): starts it, streams the
 * buffers it transfers, acknowledges each (the worker runs at most
 * {@link WORKER_WINDOW} bytes ahead), and turns its failures into the same
 * {@link PonchoError}s in-process decompression gives.
 *
 * @module
 */

import { PonchoError } from "../errors.ts";
import type { StartMessage } from "./decompress_worker.ts";

/** Size of the buffers a decompression worker posts. */
export const WORKER_BATCH = 1 << 20;
/** Most decompressed bytes a worker runs ahead of the consumer. */
export const WORKER_WINDOW = 16 << 20;

/** What a decompression worker posted: data buffers, the end, or a failure. */
class WorkerInbox {
  readonly queue: Uint8Array[] = [];
  ended = false;
  /** Whether the worker posted data, its end or an error. */
  started = false;
  failure: Error | undefined;
  /** Whether the worker itself failed (as opposed to reporting an error). */
  broken = false;
  #wake: (() => void) | undefined;

  constructor(worker: Worker, name: string) {
    worker.onmessage = (e: MessageEvent) => {
      const msg = e.data;
      this.started = true;
      if (msg.type === "data") this.queue.push(new Uint8Array(msg.buffer, 0, msg.length));
      else if (msg.type === "end") this.ended = true;
      else if (msg.type === "error") {
        this.failure ??= msg.exitCode === undefined
          ? new Error(msg.message)
          : new PonchoError(msg.message, msg.exitCode);
      }
      this.#notify();
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.broken = true;
      this.failure ??= new PonchoError(`cannot decompress ${name}: ${e.message}`);
      this.#notify();
    };
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /** The next buffer; `undefined` at the end or on a failure (then `failure` is set). */
  async next(): Promise<Uint8Array | undefined> {
    while (true) {
      if (this.queue.length) return this.queue.shift()!;
      if (this.failure || this.ended) return undefined;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}

/** Whether `err`, thrown by `new Worker`, means workers cannot run here. */
function workersUnsupported(err: unknown): boolean {
  return err instanceof TypeError || err instanceof DOMException ||
    err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied;
}

/**
 * Streams what the worker module at `url` decompresses for `start`. Stopping
 * early terminates the worker. When no worker can be started, or when it
 * fails before posting anything (it could not load), streams `fallback()`
 * instead.
 */
export async function* workerStream(
  url: string,
  start: StartMessage,
  fallback: () => AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  let worker: Worker;
  try {
    worker = new Worker(url, { type: "module" });
  } catch (err) {
    if (!workersUnsupported(err)) throw err;
    yield* fallback();
    return;
  }
  const inbox = new WorkerInbox(worker, start.name);
  worker.postMessage(start);
  try {
    let chunk: Uint8Array | undefined;
    while ((chunk = await inbox.next()) !== undefined) {
      worker.postMessage({ type: "ack", bytes: chunk.length });
      yield chunk;
    }
    if (!inbox.failure) return;
  } finally {
    worker.terminate();
  }
  if (inbox.broken && !inbox.started) {
    yield* fallback();
    return;
  }
  throw inbox.failure;
}
