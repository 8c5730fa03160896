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

async function run(start: StartMessage): Promise<void> {
  let buf = new Uint8Array(start.batch);
  let fill = 0;
  const send = async (buffer: ArrayBufferLike, length: number) => {
    outstanding += length;
    scope.postMessage({ type: "data", buffer, length }, [buffer as ArrayBuffer]);
    while (outstanding > start.window) await new Promise<void>((resolve) => (wake = resolve));
  };
  const flush = async () => {
    if (fill === 0) return;
    const out = buf;
    const length = fill;
    buf = new Uint8Array(start.batch);
    fill = 0;
    await send(out.buffer, length);
  };
  const copy = async (chunk: Uint8Array) => {
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(chunk.length - off, buf.length - fill);
      buf.set(chunk.subarray(off, off + take), fill);
      fill += take;
      off += take;
      if (fill === buf.length) await flush();
    }
  };
  // The zlib stream emits views that fill its output buffer from the start and
  // moves to a fresh buffer once one is full. A full buffer whose views all
  // came here in order is sent as it is (transferred, not copied); anything
  // else is copied into `buf`.
  let views: Uint8Array[] = [];
  let viewsEnd = 0;
  const copyViews = async () => {
    for (const v of views) await copy(v);
    views = [];
    viewsEnd = 0;
  };
  const source = decompressZlib(readFileChunks(start.path), start.compression, start.name);
  for await (const chunk of source) {
    if (views.length && (chunk.buffer !== views[0].buffer || chunk.byteOffset !== viewsEnd)) {
      await copyViews();
    }
    const whole = chunk.buffer.byteLength;
    if (
      whole >= MIN_TRANSFER && chunk.byteOffset === viewsEnd &&
      !(chunk.buffer instanceof SharedArrayBuffer)
    ) {
      views.push(chunk);
      viewsEnd = chunk.byteOffset + chunk.length;
      if (viewsEnd === whole) {
        await flush();
        views = [];
        viewsEnd = 0;
        await send(chunk.buffer, whole);
      }
    } else {
      await copy(chunk);
    }
  }
  await copyViews();
  await flush();
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
