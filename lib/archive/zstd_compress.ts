/**
 * Multi-frame zstd compression on several cores.
 *
 * The input stream is cut into frames of a fixed uncompressed size
 * ({@link ZSTD_FRAME_SIZE}, the last one shorter), each compressed on its own
 * (level, content checksum, content size in the header) by a pool of workers
 * ({@link ZstdWorkers}), and the frames are written in input order. The
 * result is one valid zstd stream (RFC 8878 allows any number of frames) that
 * `zstd -d`, GNU `tar --zstd` and Poncho's own decoder read. Since every
 * frame depends only on its own bytes and the level, the output is the same
 * byte for byte whatever the number of workers (none included: frames are
 * then compressed in this thread) and whatever order they finish in.
 *
 * Memory stays bounded: at most two frames per worker are in flight (sent
 * and not yet written), and reading the source waits meanwhile.
 *
 * @module
 */

import * as zlib from "node:zlib";
import { CorruptError } from "../errors.ts";
import type { FrameJob } from "./zstd_compress_worker.ts";

/** Uncompressed size of every frame but the last (4 MiB: within 0.5% of one frame's ratio). */
export const ZSTD_FRAME_SIZE = 4 << 20;

/** Default number of compression workers: the machine's cores, at most 8. */
export function defaultZstdThreads(): number {
  return Math.max(1, Math.min(8, navigator.hardwareConcurrency || 1));
}

/** Compresses `data` as one zstd frame at `level` with a content checksum. */
export function compressFrame(data: Uint8Array, level: number): Uint8Array {
  const c = zlib.constants;
  const out = zlib.zstdCompressSync(data, {
    params: { [c.ZSTD_c_compressionLevel]: level, [c.ZSTD_c_checksumFlag]: 1 },
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength); // not a Buffer
}

/** Frames posted to one worker at a time: one being compressed, one queued behind it. */
const PER_WORKER = 2;

/** The outcome of one frame: its bytes or the error. */
type Outcome = { frame: Uint8Array } | { error: Error };

interface Pending {
  job: FrameJob;
  resolve: (o: Outcome) => void;
}

interface Slot {
  worker: Worker;
  /** Whether the worker has loaded (it says so with its first message). */
  ready: boolean;
  /** Jobs posted to it and not answered. */
  pending: Map<number, Pending>;
}

/**
 * A pool of zstd compression workers. Workers start when the pool is made
 * (so they boot while the caller does other work) and are stopped by
 * {@link ZstdWorkers.close} (or `using`). Frames wait in the pool until a
 * loaded worker holds fewer than two, then go to the one with the fewest. A worker
 * that cannot load is dropped; with none left, frames are compressed in this
 * thread. A worker that fails after loading fails the frames it holds.
 */
export class ZstdWorkers implements Disposable {
  #slots: Slot[] = [];
  #waiting: Pending[] = [];
  #nextId = 0;

  /** Starts `count` workers (0: compress in this thread). */
  constructor(readonly count: number = defaultZstdThreads()) {
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL("./zstd_compress_worker.ts", import.meta.url).href, {
        type: "module",
      });
      const slot: Slot = { worker, ready: false, pending: new Map() };
      worker.onmessage = (e: MessageEvent) => this.#reply(slot, e.data);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        this.#drop(slot);
      };
      this.#slots.push(slot);
    }
  }

  /**
   * Compresses one frame. The buffer of `data` is transferred to a worker
   * (detached here) when `data` spans all of it; otherwise it is copied.
   * Never rejects: the outcome carries a codec error.
   */
  compress(data: Uint8Array, level: number): Promise<Outcome> {
    if (this.#slots.length === 0) return Promise.resolve(inProcess(data, level));
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength &&
      !(data.buffer instanceof SharedArrayBuffer);
    const buf = whole ? data : data.slice();
    const job: FrameJob = {
      id: this.#nextId++,
      buffer: buf.buffer as ArrayBuffer,
      length: buf.length,
      level,
    };
    return new Promise<Outcome>((resolve) => {
      this.#waiting.push({ job, resolve });
      this.#dispatch();
    });
  }

  /** Posts waiting frames to the loaded workers, fewest pending first. */
  #dispatch(): void {
    const ready = this.#slots.filter((s) => s.ready);
    if (this.#slots.length === 0) {
      for (const p of this.#waiting.splice(0)) {
        p.resolve(inProcess(new Uint8Array(p.job.buffer, 0, p.job.length), p.job.level));
      }
    }
    while (ready.length && this.#waiting.length) {
      const slot = ready.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
      if (slot.pending.size >= PER_WORKER) return;
      const p = this.#waiting.shift()!;
      slot.pending.set(p.job.id, p);
      slot.worker.postMessage(p.job, [p.job.buffer]);
    }
  }

  #reply(slot: Slot, msg: { id?: number; buffer?: ArrayBuffer; length?: number; error?: string }) {
    if (msg.id === undefined) {
      slot.ready = true; // the worker's first message: loaded
      this.#dispatch();
      return;
    }
    const p = slot.pending.get(msg.id);
    if (!p) return;
    slot.pending.delete(msg.id);
    if (msg.error !== undefined) p.resolve({ error: zstdError(msg.error) });
    else p.resolve({ frame: new Uint8Array(msg.buffer!, 0, msg.length) });
    this.#dispatch();
  }

  /** Drops a failed worker; frames it holds were transferred to it, so they fail. */
  #drop(slot: Slot): void {
    slot.worker.terminate();
    this.#slots = this.#slots.filter((s) => s !== slot);
    for (const p of slot.pending.values()) {
      p.resolve({ error: zstdError("a compression worker failed") });
    }
    slot.pending.clear();
    this.#dispatch();
  }

  /** Stops every worker. Frames still in flight are never answered. */
  close(): void {
    for (const s of this.#slots) s.worker.terminate();
    this.#slots = [];
    this.#waiting = [];
  }

  /** Same as {@link ZstdWorkers.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function inProcess(data: Uint8Array, level: number): Outcome {
  try {
    return { frame: compressFrame(data, level) };
  } catch (err) {
    return { error: zstdError(err instanceof Error ? err.message : String(err)) };
  }
}

function zstdError(message: string): Error {
  return new CorruptError(`cannot compress zstd output: ${message}`);
}

/** Options of {@link compressZstdFrames}. */
export interface ZstdFramesOptions {
  /** zstd level (default 3). */
  level?: number;
  /** Uncompressed bytes per frame (default {@link ZSTD_FRAME_SIZE}). Changes the output. */
  frameSize?: number;
  /** Workers to start when the input is more than one frame (default: the cores, at most 8). */
  threads?: number;
  /** An already started pool to use instead (left running). */
  workers?: ZstdWorkers;
}

/**
 * Compresses a stream as frames of `frameSize` uncompressed bytes,
 * compressed in parallel and yielded in order. Input of at most one frame is
 * compressed in this thread (no worker is started for it). Chunks of exactly
 * one frame that span their whole buffer are transferred to a worker without
 * a copy, so the source must yield fresh buffers (every stream of this
 * package does).
 */
export async function* compressZstdFrames(
  source: AsyncIterable<Uint8Array>,
  options: ZstdFramesOptions = {},
): AsyncGenerator<Uint8Array> {
  const level = options.level ?? 3;
  const frameSize = options.frameSize ?? ZSTD_FRAME_SIZE;
  let pool = options.workers;
  let own: ZstdWorkers | undefined;
  const inFlight: Promise<Outcome>[] = [];
  try {
    for await (const frame of framesOf(source, frameSize)) {
      if (!pool && frame.length === frameSize) pool = own = new ZstdWorkers(options.threads);
      inFlight.push(pool ? pool.compress(frame, level) : Promise.resolve(inProcess(frame, level)));
      const most = Math.max(2, 2 * (pool?.count ?? 1));
      while (inFlight.length >= most) yield unwrap(await inFlight.shift()!);
    }
    while (inFlight.length) yield unwrap(await inFlight.shift()!);
  } finally {
    own?.close();
  }
}

function unwrap(o: Outcome): Uint8Array {
  if ("error" in o) throw o.error;
  return o.frame;
}

/**
 * Re-cuts a stream into pieces of exactly `size` bytes (the last one
 * shorter, never empty). A chunk that is exactly one piece and starts a
 * piece is passed on as it is.
 */
export async function* framesOf(
  source: AsyncIterable<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  let buf: Uint8Array | undefined;
  let fill = 0;
  for await (const chunk of source) {
    if (fill === 0 && chunk.length === size) {
      yield chunk;
      continue;
    }
    for (let off = 0; off < chunk.length;) {
      buf ??= new Uint8Array(size);
      const n = Math.min(size - fill, chunk.length - off);
      buf.set(chunk.subarray(off, off + n), fill);
      fill += n;
      off += n;
      if (fill === size) {
        yield buf;
        buf = undefined;
        fill = 0;
      }
    }
  }
  if (fill > 0) yield buf!.subarray(0, fill);
}
