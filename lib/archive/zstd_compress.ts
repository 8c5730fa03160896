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
 * Memory stays bounded: at most two frames per worker plus two are in
 * flight (read and not yet written), and reading the source waits
 * meanwhile. This thread compresses frames too when the workers hold two
 * each, or have not loaded yet.
 *
 * @module
 */

import * as zlib from "node:zlib";
import { CorruptError } from "../errors.ts";
import {
  defaultWorkerCount,
  type JobHandlers,
  type JobOutcome,
  type JobResult,
  WorkerPool,
  yieldToEventLoop,
} from "./worker_pool.ts";

/** Uncompressed size of every frame but the last (4 MiB: within 0.5% of one frame's ratio). */
export const ZSTD_FRAME_SIZE = 4 << 20;

/** Compresses `data` as one zstd frame at `level` with a content checksum. */
export function compressFrame(data: Uint8Array, level: number): Uint8Array {
  const c = zlib.constants;
  const out = zlib.zstdCompressSync(data, {
    params: { [c.ZSTD_c_compressionLevel]: level, [c.ZSTD_c_checksumFlag]: 1 },
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength); // not a Buffer
}

/** A frame to compress: the first `length` bytes of `buffer`, at `level`. */
export interface ZstdJob {
  /** Always `"zstd"`. */
  type: "zstd";
  /** The uncompressed bytes (transferred to the worker). */
  buffer: ArrayBuffer;
  /** How many bytes of `buffer` to compress. */
  length: number;
  /** zstd level. */
  level: number;
}

/** The compressed frame: the first `length` bytes of `buffer`. */
export interface ZstdReply {
  /** The frame (transferred back). */
  buffer: ArrayBuffer;
  /** Its length. */
  length: number;
  /** The job's input buffer, handed back for reuse. */
  input: ArrayBuffer;
}

/** The job handler of `"zstd"` jobs (in a worker or in this thread). */
export function zstdJob(job: ZstdJob): JobResult<ZstdReply> {
  const frame = compressFrame(new Uint8Array(job.buffer, 0, job.length), job.level);
  const whole = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength;
  const out = whole ? frame : frame.slice();
  const buffer = out.buffer as ArrayBuffer;
  return {
    reply: { buffer, length: out.length, input: job.buffer },
    transfer: [buffer, job.buffer],
  };
}

/** The handlers of {@link ZstdWorkers}. */
export const ZSTD_HANDLERS: JobHandlers = { zstd: zstdJob };

/**
 * A pool of workers that compress frames (`zstd_compress_worker.ts`, or a
 * module whose `serveJobs` handlers include {@link zstdJob}: pass its
 * URL and handlers to share one pool between several kinds of job).
 */
export class ZstdWorkers extends WorkerPool {
  /** Starts `count` workers (default: the cores, at most 8; 0: compress in this thread). */
  constructor(
    count: number = defaultWorkerCount(),
    module: URL = new URL("./zstd_compress_worker.ts", import.meta.url),
    handlers: JobHandlers = ZSTD_HANDLERS,
  ) {
    super(module, handlers, count);
  }

  /** Input buffers handed back by finished frames, for {@link ZstdWorkers.buffer}. */
  #free: ArrayBuffer[] = [];

  /**
   * A zeroed buffer of `size` bytes for a frame's input: one handed back by
   * an earlier frame when there is one (filling a buffer with zeros again
   * costs less than the page faults of a fresh one).
   */
  buffer(size: number): Uint8Array {
    const i = this.#free.findIndex((b) => b.byteLength === size);
    if (i < 0) return new Uint8Array(size);
    const [b] = this.#free.splice(i, 1);
    return new Uint8Array(b).fill(0);
  }

  /**
   * Compresses one frame, in a worker or, with `here`, in this thread. The
   * buffer of `data` is transferred to a worker (detached here) when `data`
   * spans all of it; otherwise it is copied. Once compressed it is kept for
   * {@link ZstdWorkers.buffer}. Never rejects: the outcome carries the error.
   */
  async compress(data: Uint8Array, level: number, here = false): Promise<JobOutcome<Uint8Array>> {
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength &&
      !(data.buffer instanceof SharedArrayBuffer);
    const buf = whole ? data : data.slice();
    const buffer = buf.buffer as ArrayBuffer;
    const job: ZstdJob = { type: "zstd", buffer, length: buf.length, level };
    const o = here ? this.runHere<ZstdReply>(job) : await this.run<ZstdReply>(job, [buffer]);
    if ("error" in o) {
      return { error: new CorruptError(`cannot compress zstd output: ${o.error.message}`) };
    }
    if (this.#free.length < 2 * this.count + 2) this.#free.push(o.reply.input);
    return { reply: new Uint8Array(o.reply.buffer, 0, o.reply.length) };
  }
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
  const inFlight: Flight[] = [];
  try {
    for await (const frame of framesOf(source, frameSize)) {
      if (!pool && frame.length === frameSize) pool = own = new ZstdWorkers(options.threads);
      const workers = pool?.count ?? 0;
      if (workers > 0) await yieldToEventLoop(); // the workers' replies and readiness get through
      while (inFlight[0]?.done) yield unwrap(await inFlight.shift()!.outcome);
      // The workers hold up to two frames each; past that this thread compresses too.
      const here = workers === 0 || (inFlight.length >= 2 * workers && pool!.saturated());
      inFlight.push(flight((pool ?? IN_THREAD).compress(frame, level, here)));
      while (inFlight.length >= 2 * (workers + 1)) {
        // Waiting for the oldest frame: compress one still queued here rather than idle.
        if (!inFlight[0].done && pool!.runOneHere()) continue;
        yield unwrap(await inFlight.shift()!.outcome);
      }
    }
    while (inFlight.length) yield unwrap(await inFlight.shift()!.outcome);
  } finally {
    own?.close();
  }
}

/** A frame being compressed, and whether it is done. */
interface Flight {
  outcome: Promise<JobOutcome<Uint8Array>>;
  done: boolean;
}

function flight(outcome: Promise<JobOutcome<Uint8Array>>): Flight {
  const f: Flight = { outcome, done: false };
  outcome.then(() => (f.done = true));
  return f;
}

/** Compresses in this thread (no worker). */
const IN_THREAD = new ZstdWorkers(0);

function unwrap(o: JobOutcome<Uint8Array>): Uint8Array {
  if ("error" in o) throw o.error;
  return o.reply;
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
