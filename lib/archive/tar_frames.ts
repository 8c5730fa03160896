/**
 * A tar stream cut into zstd frames whose bytes are gathered where they are
 * compressed: the parent lays the stream out ({@link planTarFrames}: header
 * blocks in memory, file bodies as ranges of files on disk), and each
 * `"tarframe"` job ({@link tarFrameJob}) reads its file ranges into a
 * zeroed buffer, puts the headers in and compresses it as one frame. So
 * reading file bodies runs on every worker, not only in the parent.
 *
 * The stream is exactly what `writeTar` writes for the same entries and
 * options, cut at multiples of the frame size (after a first frame holding
 * only the first entry, with `firstAlone`), so the archive is the same
 * whichever thread builds which frame. A file whose size on disk differs from
 * the size given is an error (the archive would be corrupt).
 *
 * @module
 */

import { PonchoError } from "../errors.ts";
import { BLOCK } from "./tar_header.ts";
import { entryHeader, type TarWriteEntry, type TarWriteOptions } from "./tar_writer.ts";
import type { JobResult } from "./worker_pool.ts";
import { compressFrame, type ZstdReply } from "./zstd_compress.ts";
import { rawFrame, STORED_FRAME_MAX } from "./zstd_frame.ts";

/** Bytes of the stream held in memory (headers, in-memory bodies). */
interface Literal {
  /** Offset in the frame. */
  at: number;
  bytes: Uint8Array;
}

/** A range of a file's body. */
export interface FilePiece {
  /** Offset in the frame. */
  at: number;
  /** The file on disk. */
  path: string;
  /** Offset in the file. */
  offset: number;
  length: number;
  /** Whether the range ends the body (the file must end there). */
  last: boolean;
  /** The entry's path, for errors. */
  entry: string;
}

/** One frame to build and compress. */
export interface TarFrameJob {
  /** Always `"tarframe"`. */
  type: "tarframe";
  /** Uncompressed length of the frame. */
  length: number;
  /** zstd level. */
  level: number;
  /** Stored as raw blocks, not compressed (`rawFrame` of `zstd_frame.ts`). */
  raw?: boolean;
  literals: Literal[];
  files: FilePiece[];
}

/**
 * Lays out the tar stream of `entries` (each file with a `data` body or a
 * `file` and `size`) as frames of `frameSize` bytes, the last one shorter,
 * in order. With `firstAlone`, the first entry (header, body and padding)
 * is a frame of its own, stored uncompressed when it is at most
 * {@link STORED_FRAME_MAX} bytes (so that an archive's manifest can be read
 * without a zstd decoder); the frames after it are cut from there.
 */
export async function* planTarFrames(
  entries: Iterable<TarWriteEntry>,
  options: TarWriteOptions,
  frameSize: number,
  level: number,
  firstAlone = false,
): AsyncGenerator<TarFrameJob> {
  const plan = new Planner(frameSize, level);
  let seen = 0;
  for (const e of entries) {
    if (firstAlone && seen++ === 1) yield* plan.endFirstFrame();
    const { header, size } = await entryHeader(e, options);
    yield* plan.bytes(header);
    if (e.type !== "file") continue;
    if (e.data) yield* plan.bytes(e.data);
    else if (e.file !== undefined) yield* plan.file(e.file, size, e.path);
    else throw new PonchoError(`tar entry ${e.path}: file without a data or file body`);
    yield* plan.skip((BLOCK - (size % BLOCK)) % BLOCK);
  }
  if (firstAlone && seen === 1) yield* plan.endFirstFrame();
  yield* plan.skip(2 * BLOCK);
  const last = plan.end();
  if (last) yield last;
}

/**
 * The frames of `entry` alone at the start of a stream: what
 * {@link planTarFrames} with `firstAlone` yields before the second entry.
 * Since the frames after it are cut from where it ends, `planTarFrames` of
 * the other entries (without `firstAlone`) gives the rest of the stream: the
 * first entry can be laid out (and its frames made) after the others.
 */
export async function firstEntryFrames(
  entry: TarWriteEntry,
  options: TarWriteOptions,
  frameSize: number,
  level: number,
): Promise<TarFrameJob[]> {
  const frames: TarFrameJob[] = [];
  for await (const job of planTarFrames([entry], options, frameSize, level, true)) {
    frames.push(job);
  }
  frames.pop(); // the end-of-archive blocks: a frame of their own after the first entry's
  return frames;
}

/** Cuts the stream into frames as its pieces come. */
class Planner {
  #job: TarFrameJob;
  constructor(readonly frameSize: number, readonly level: number) {
    this.#job = this.#fresh();
  }

  #fresh(): TarFrameJob {
    return { type: "tarframe", length: 0, level: this.level, literals: [], files: [] };
  }

  /** Room left in the current frame; a full frame is handed out first. */
  *#room(): Generator<TarFrameJob, number> {
    if (this.#job.length === this.frameSize) {
      this.#emitted = true;
      yield this.#job;
      this.#job = this.#fresh();
    }
    return this.frameSize - this.#job.length;
  }

  /** Whether a frame was handed out. */
  #emitted = false;

  /**
   * Ends the frame holding the stream so far (the first entry): raw when it
   * is the first frame and at most {@link STORED_FRAME_MAX} bytes.
   */
  *endFirstFrame(): Generator<TarFrameJob> {
    if (this.#job.length === 0) return;
    this.#job.raw = !this.#emitted && this.#job.length <= STORED_FRAME_MAX;
    this.#emitted = true;
    yield this.#job;
    this.#job = this.#fresh();
  }

  /** Bytes held in memory. */
  *bytes(data: Uint8Array): Generator<TarFrameJob> {
    for (let off = 0; off < data.length;) {
      const n = Math.min(yield* this.#room(), data.length - off);
      this.#job.literals.push({ at: this.#job.length, bytes: data.subarray(off, off + n) });
      this.#job.length += n;
      off += n;
    }
  }

  /** A file body of `size` bytes. */
  *file(path: string, size: number, entry: string): Generator<TarFrameJob> {
    for (let off = 0; off < size;) {
      const n = Math.min(yield* this.#room(), size - off);
      const last = off + n === size;
      this.#job.files.push({ at: this.#job.length, path, offset: off, length: n, last, entry });
      this.#job.length += n;
      off += n;
    }
    if (size === 0) {
      const at = this.#job.length;
      this.#job.files.push({ at, path, offset: 0, length: 0, last: true, entry });
    }
  }

  /** Zero bytes (padding). */
  *skip(n: number): Generator<TarFrameJob> {
    while (n > 0) {
      const k = Math.min(yield* this.#room(), n);
      this.#job.length += k;
      n -= k;
    }
  }

  /** The last frame, if it holds anything. */
  end(): TarFrameJob | undefined {
    return this.#job.length > 0 ? this.#job : undefined;
  }
}

/** This thread's frame buffer, reused from job to job. */
let scratch = new Uint8Array(0);

/**
 * The job handler of `"tarframe"` jobs (in a worker or in this thread).
 * `inspect`, when given, sees the frame's uncompressed bytes once they are
 * read, before they are compressed (a job type built on this one reads
 * what it needs from the file bodies there, without reading them again).
 */
export function tarFrameJob(
  job: Omit<TarFrameJob, "type">,
  inspect?: (frame: Uint8Array) => void,
): JobResult<ZstdReply> {
  if (scratch.length < job.length) scratch = new Uint8Array(job.length);
  const buf = scratch.subarray(0, job.length);
  zeroGaps(buf, job);
  for (const l of job.literals) buf.set(l.bytes, l.at);
  for (const p of job.files) readPiece(p, buf);
  inspect?.(buf);
  const frame = job.raw ? rawFrame(buf) : compressFrame(buf, job.level);
  const whole = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength;
  const out = whole ? frame : frame.slice();
  const buffer = out.buffer as ArrayBuffer;
  return { reply: { buffer, length: out.length }, transfer: [buffer] };
}

/**
 * Zeroes what no literal or file piece of the frame fills (the padding), so
 * a reused buffer holds nothing of the frame before. Literals and pieces
 * are each in stream order.
 */
function zeroGaps(buf: Uint8Array, job: Omit<TarFrameJob, "type">): void {
  const { literals, files } = job;
  let pos = 0;
  for (let i = 0, j = 0; i < literals.length || j < files.length;) {
    const literal = j >= files.length || (i < literals.length && literals[i].at <= files[j].at);
    const at = literal ? literals[i].at : files[j].at;
    const end = at + (literal ? literals[i++].bytes.length : files[j++].length);
    if (at > pos) buf.fill(0, pos, at);
    pos = Math.max(pos, end);
  }
  if (pos < buf.length) buf.fill(0, pos);
}

/** A byte to read past a file's expected end (it must not be there). */
const PAST_END = new Uint8Array(1);

/** Reads a file range into the frame; the file must not be shorter (or, at its end, longer). */
function readPiece(p: FilePiece, buf: Uint8Array): void {
  using f = openPiece(p);
  if (p.offset > 0) f.seekSync(p.offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < p.length) {
    const n = f.readSync(buf.subarray(p.at + got, p.at + p.length));
    if (n === null || n === 0) {
      throw new PonchoError(`${p.path} shrank while being archived as ${p.entry}; retry`);
    }
    got += n;
  }
  if (p.last && f.readSync(PAST_END) !== null) {
    throw new PonchoError(`${p.path} grew while being archived as ${p.entry}; retry`);
  }
}

function openPiece(p: FilePiece): Deno.FsFile {
  try {
    return Deno.openSync(p.path, { read: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    throw new PonchoError(`${p.path} was removed while being archived as ${p.entry}; retry`);
  }
}
