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

import { PonchoError } from "../errors.ts";
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
let outstanding = 0;
let wake: (() => void) | undefined;

async function run(start: StartMessage): Promise<void> {
  let buf = new Uint8Array(start.batch);
  let fill = 0;
  const flush = async () => {
    if (fill === 0) return;
    const out = buf;
    const length = fill;
    buf = new Uint8Array(start.batch);
    fill = 0;
    outstanding += length;
    scope.postMessage({ type: "data", buffer: out.buffer, length }, [out.buffer]);
    while (outstanding > start.window) await new Promise<void>((resolve) => (wake = resolve));
  };
  const source = decompressZlib(readFileChunks(start.path), start.compression, start.name);
  for await (const chunk of source) {
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(chunk.length - off, buf.length - fill);
      buf.set(chunk.subarray(off, off + take), fill);
      fill += take;
      off += take;
      if (fill === buf.length) await flush();
    }
  }
  await flush();
  scope.postMessage({ type: "end" });
}

scope.onmessage = (e: MessageEvent) => {
  const msg = e.data as StartMessage | { type: "ack"; bytes: number };
  if (msg.type === "ack") {
    outstanding -= msg.bytes;
    const w = wake;
    wake = undefined;
    w?.();
    return;
  }
  run(msg).catch((err: unknown) => {
    scope.postMessage({
      type: "error",
      message: err instanceof Error ? err.message : String(err),
      exitCode: err instanceof PonchoError ? err.exitCode : undefined,
    });
  });
};
