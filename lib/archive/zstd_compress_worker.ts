/**
 * Worker entry point of {@link ZstdWorkers} (`zstd_compress.ts`): compresses
 * one frame per message with `node:zlib` and posts it back, so several
 * frames of an archive are compressed on several cores.
 *
 * Protocol (plain objects; buffers are transferred both ways):
 * - parent -> worker `{ id, buffer, length, level }`: compress the first
 *   `length` bytes of `buffer` as one zstd frame at `level`, with a content
 *   checksum;
 * - worker -> parent `{ id, buffer, length }` (the frame) or `{ id, error }`
 *   (the codec's message).
 *
 * The worker's first message, `{}`, says it has loaded. Messages are
 * handled one at a time, in order.
 *
 * @module
 */

import { compressFrame } from "./zstd_compress.ts";

/** A frame to compress. */
export interface FrameJob {
  /** Identifies the job in the reply. */
  id: number;
  /** The uncompressed bytes (transferred). */
  buffer: ArrayBuffer;
  /** How many bytes of `buffer` to compress. */
  length: number;
  /** zstd level. */
  level: number;
}

interface WorkerScope {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent) => void) | null;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (e: MessageEvent) => {
  const job = e.data as FrameJob;
  let frame: Uint8Array;
  try {
    frame = compressFrame(new Uint8Array(job.buffer, 0, job.length), job.level);
  } catch (err) {
    scope.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) });
    return;
  }
  const whole = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength;
  const out = whole ? frame : frame.slice();
  scope.postMessage({ id: job.id, buffer: out.buffer, length: out.length }, [
    out.buffer as ArrayBuffer,
  ]);
};

scope.postMessage({}); // loaded
