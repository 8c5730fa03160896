/**
 * Worker entry point of `decompressFileInWorker` (in `compress.ts`): reads a
 * compressed file, decompresses it with `node:zlib` and posts the output to
 * the parent in batches of fresh, transferred buffers, so decompression runs
 * on its own core while the parent writes files.
 *
 * Protocol (all messages are plain objects):
 * - parent -> worker `{ type: "start", path, compression, name, batch, window }`:
 *   begin; at most `window` bytes may be posted and not yet acknowledged.
 * - parent -> worker `{ type: "ack", bytes }`: the parent took `bytes` bytes.
 * - worker -> parent `{ type: "data", buffer, length }` (the buffer is
 *   transferred), then `{ type: "end" }`, or `{ type: "error", message,
 *   exitCode }` (`exitCode` set when the error was a `PonchoError`).
 *
 * @module
 */

import { EXIT_FAILED, PonchoError } from "../errors.ts";
import { decompressZlib, readFileChunks } from "./codec.ts";

/** The message that starts the worker. */
export interface StartMessage {
  /** Always `"start"`. */
  type: "start";
  /** The compressed file. */
  path: string;
  /** Its compression. */
  compression: "zst" | "gz";
  /** Names the file in error messages. */
  name: string;
  /** Size of the buffers posted to the parent. */
  batch: number;
  /** Most bytes posted and not yet acknowledged. */
  window: number;
}

interface WorkerScope {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent) => void) | null;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
/** Smallest codec output buffer that is transferred rather than copied. */
const MIN_TRANSFER = 64 * 1024;
let outstanding = 0;
let wake: (() => void) | undefined;

/** Waits until the parent has acknowledged enough that at most `window` bytes are in flight. */
async function post(buffer: ArrayBufferLike, length: number, window: number): Promise<void> {
  outstanding += length;
  scope.postMessage({ type: "data", buffer, length }, [buffer as ArrayBuffer]);
  while (outstanding > window) await new Promise<void>((resolve) => (wake = resolve));
}

/** Copies small pieces into fresh `batch`-sized buffers and posts each one once full. */
class Batcher {
  #buf: Uint8Array;
  #fill = 0;

  constructor(readonly start: StartMessage) {
    this.#buf = new Uint8Array(start.batch);
  }

  async copy(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(chunk.length - off, this.#buf.length - this.#fill);
      this.#buf.set(chunk.subarray(off, off + take), this.#fill);
      this.#fill += take;
      off += take;
      if (this.#fill === this.#buf.length) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.#fill === 0) return;
    const out = this.#buf;
    const length = this.#fill;
    this.#buf = new Uint8Array(this.start.batch);
    this.#fill = 0;
    await post(out.buffer, length, this.start.window);
  }
}

/**
 * Passes the codec's output on. The zlib stream emits views that fill its
 * output buffer from the start and moves to a fresh buffer once one is full.
 * A full buffer whose views all came here in order is sent as it is
 * (transferred, not copied); anything else is copied into batches.
 */
class Forwarder {
  #views: Uint8Array[] = [];
  #viewsEnd = 0;
  readonly batcher: Batcher;

  constructor(readonly start: StartMessage) {
    this.batcher = new Batcher(start);
  }

  async push(chunk: Uint8Array): Promise<void> {
    const views = this.#views;
    if (views.length && (chunk.buffer !== views[0].buffer || chunk.byteOffset !== this.#viewsEnd)) {
      await this.copyViews();
    }
    const whole = chunk.buffer.byteLength;
    if (
      whole < MIN_TRANSFER || chunk.byteOffset !== this.#viewsEnd ||
      chunk.buffer instanceof SharedArrayBuffer
    ) {
      return await this.batcher.copy(chunk);
    }
    this.#views.push(chunk);
    this.#viewsEnd = chunk.byteOffset + chunk.length;
    if (this.#viewsEnd === whole) {
      await this.batcher.flush();
      this.#views = [];
      this.#viewsEnd = 0;
      await post(chunk.buffer, whole, this.start.window);
    }
  }

  async copyViews(): Promise<void> {
    for (const v of this.#views) await this.batcher.copy(v);
    this.#views = [];
    this.#viewsEnd = 0;
  }
}

async function run(start: StartMessage): Promise<void> {
  const forward = new Forwarder(start);
  const source = decompressZlib(readFileChunks(start.path), start.compression, start.name);
  for await (const chunk of source) await forward.push(chunk);
  await forward.copyViews();
  await forward.batcher.flush();
  scope.postMessage({ type: "end" });
}

/** The file being decompressed, for errors reported from outside `run()`. */
let current = "the archive";
let reported = false;

scope.onmessage = (e: MessageEvent) => {
  const msg = e.data as StartMessage | { type: "ack"; bytes: number };
  if (msg.type === "ack") {
    outstanding -= msg.bytes;
    const w = wake;
    wake = undefined;
    w?.();
    return;
  }
  current = msg.name;
  run(msg).catch((err: unknown) => {
    scope.postMessage({
      type: "error",
      message: err instanceof Error ? err.message : String(err),
      exitCode: err instanceof PonchoError ? err.exitCode : undefined,
    });
  });
};

// node:zlib reports some decoding errors (a zstd checksum mismatch) from a later tick, outside
// run()'s promise chain: report those like the others, never as a printed "Uncaught" trace.
const reportUncaught = (e: Event, err: unknown) => {
  e.preventDefault();
  if (reported) return;
  reported = true;
  const why = err instanceof Error ? err.message : String(err);
  const message =
    `cannot decompress ${current}: corrupt data (${why}); re-create or re-download it`;
  scope.postMessage({ type: "error", message, exitCode: EXIT_FAILED });
};
globalThis.addEventListener(
  "error",
  (e) => reportUncaught(e, (e as ErrorEvent).error ?? e.message),
);
globalThis.addEventListener(
  "unhandledrejection",
  (e) => reportUncaught(e, (e as PromiseRejectionEvent).reason),
);
