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
  type Job,
  type JobHandlers,
  type JobOutcome,
  type JobResult,
  type PoolOptions,
  WorkerPool,
  yieldToEventLoop,
} from "./worker_pool.ts";
import { moduleUrl } from "../lazy.ts";
import { ZSTD_FRAME_SIZE } from "./zstd_frame.ts";

export { ZSTD_FRAME_SIZE };

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
}

/** The frame a {@link ZstdReply} carries, as bytes. */
export function replyFrame(reply: ZstdReply): Uint8Array {
  return new Uint8Array(reply.buffer, 0, reply.length);
}

/** The job handler of `"zstd"` jobs (in a worker or in this thread). */
export function zstdJob(job: ZstdJob): JobResult<ZstdReply> {
  const frame = compressFrame(new Uint8Array(job.buffer, 0, job.length), job.level);
  const whole = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength;
  const out = whole ? frame : frame.slice();
  const buffer = out.buffer as ArrayBuffer;
  return { reply: { buffer, length: out.length }, transfer: [buffer] };
}

/** The handlers of {@link ZstdWorkers}. */
export const ZSTD_HANDLERS: JobHandlers = { zstd: zstdJob };

/**
 * A pool of workers that compress frames (`zstd_compress_worker.ts`, or a
 * module whose `serveJobs` handlers include {@link zstdJob}: pass its
 * URL and handlers to share one pool between several kinds of job).
 */
export class ZstdWorkers extends WorkerPool {
  /**
   * Starts `count` workers (default: one less than the cores, 1 to 8; 0:
   * compress in this thread), handing out jobs as `options` says.
   */
  constructor(
    count: number = defaultWorkerCount(),
    module: URL = moduleUrl("./zstd_compress_worker.ts", import.meta.url),
    handlers: JobHandlers = ZSTD_HANDLERS,
    options: PoolOptions = {},
  ) {
    super(module, handlers, count, options);
  }

  /**
   * Compresses one frame, in a worker or, with `here`, in this thread. The
   * buffer of `data` is transferred to a worker (detached here) when `data`
   * spans all of it; otherwise it is copied. Never rejects: the outcome
   * carries the error.
   */
  compress(data: Uint8Array, level: number, here = false): Promise<JobOutcome<Uint8Array>> {
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength &&
      !(data.buffer instanceof SharedArrayBuffer);
    const buf = whole ? data : data.slice();
    const buffer = buf.buffer as ArrayBuffer;
    const job: ZstdJob = { type: "zstd", buffer, length: buf.length, level };
    return this.frame(
      job,
      [buffer],
      here,
      (e) => new CorruptError(`cannot compress zstd output: ${e.message}`),
    );
  }

  /**
   * Runs a job whose reply is a {@link ZstdReply} (a frame), in a worker or,
   * with `here`, in this thread; `errorOf` turns a failure into the error to
   * report. Never rejects.
   */
  async frame(
    job: Job,
    transfer: ArrayBuffer[],
    here: boolean,
    errorOf: (e: Error) => Error,
  ): Promise<JobOutcome<Uint8Array>> {
    const o = here ? this.runHere<ZstdReply>(job) : await this.run<ZstdReply>(job, transfer);
    if ("error" in o) return { error: errorOf(o.error) };
    return { reply: replyFrame(o.reply) };
  }
}

/** Options of {@link compressZstdFrames}. */
export interface ZstdFramesOptions {
  /** zstd level (default 3). */
  level?: number;
  /** Uncompressed bytes per frame (default {@link ZSTD_FRAME_SIZE}). Changes the output. */
  frameSize?: number;
  /** Workers to start when the input is more than one frame (default: one less than the cores, 1 to 8). */
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
  async function* tasks(): AsyncGenerator<FrameTask> {
    for await (const frame of framesOf(source, frameSize)) {
      if (!pool && frame.length === frameSize) pool = own = new ZstdWorkers(options.threads);
      const p = pool ?? IN_THREAD;
      yield (here) => p.compress(frame, level, here);
    }
  }
  try {
    yield* framesInOrder(tasks(), () => pool);
  } finally {
    own?.close();
  }
}

/** One frame to make: started on the pool's workers, or in this thread with `here`. */
export type FrameTask = (here: boolean) => Promise<JobOutcome<Uint8Array>>;

/**
 * Runs frame tasks, in parallel on `pool()`'s workers (read when each task
 * comes: the pool may start late) and in this thread, and yields the frames
 * in order. The workers hold up to two frames each; past that this thread
 * makes frames too. At most two frames per worker plus two are in flight;
 * the source of tasks waits meanwhile.
 */
export async function* framesInOrder(
  tasks: AsyncIterable<FrameTask>,
  pool: () => WorkerPool | undefined,
): AsyncGenerator<Uint8Array> {
  const inFlight: Flight[] = [];
  for await (const task of tasks) {
    const p = pool();
    const workers = p?.count ?? 0;
    if (workers > 0) await yieldToEventLoop(); // the workers' replies and readiness get through
    while (inFlight[0]?.done) yield unwrap(await inFlight.shift()!.outcome);
    const here = workers === 0 || (inFlight.length >= 2 * workers && p!.saturated());
    inFlight.push(flight(task(here)));
    while (inFlight.length >= 2 * (workers + 1)) {
      // Waiting for the oldest frame: make one still queued here rather than idle.
      if (!inFlight[0].done && p!.runOneHere()) continue;
      yield unwrap(await inFlight.shift()!.outcome);
    }
  }
  while (inFlight.length) yield unwrap(await inFlight.shift()!.outcome);
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
