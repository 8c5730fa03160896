/**
 * The single pass of a `.tar.zst` pack: each file of the prefix is read
 * once, by the `"packframe"` job (`pack_scan.ts`) that puts it into its
 * zstd frame, which also scans it for the build prefix. The manifest, the
 * archive's first member, needs what the scans found, but the frames after
 * it do not depend on it (`firstEntryFrames` in `lib/archive/tar_frames.ts`):
 * they are made first, in parallel on the pack workers and this thread, and
 * written behind room guessed for the manifest; the manifest's frame is
 * made last and written in front (the frames are moved when the guess was
 * wrong, see {@link writeZstdPack}).
 * The archive's bytes are what planning every entry with the manifest first
 * gives, whatever the number of workers.
 *
 * @module
 */

import {
  firstEntryFrames,
  planTarFrames,
  type TarFrameJob,
  tarFrameJob,
} from "../archive/tar_frames.ts";
import type { TarWriteEntry, TarWriteOptions } from "../archive/tar_writer.ts";
import type { JobOutcome } from "../archive/worker_pool.ts";
import { replyFrame, ZSTD_FRAME_SIZE, type ZstdWorkers } from "../archive/zstd_compress.ts";
import {
  type FrameScan,
  FrameScans,
  type PackFrameJob,
  type PackFrameReply,
  type ScannedPiece,
  scannedPieces,
} from "./pack_scan.ts";
import { moveRangeSync, writeAllSync } from "../fs/io.ts";

/** What {@link zstdPackChunks} packs. */
export interface ZstdPackInput {
  /** The members after the first (the manifest), in order. */
  entries: TarWriteEntry[];
  /** Paths of the entries whose bodies are scanned for `needle`. */
  scan: ReadonlySet<string>;
  /** The build prefix's bytes. */
  needle: Uint8Array;
  /** Owners and other options of every member. */
  options: TarWriteOptions;
  /** zstd level. */
  level: number;
  /** The pool that makes frames beside this thread. */
  workers: ZstdWorkers;
  /**
   * The first member from the scans (called with those of the first frames
   * for a guess of its size, then with all of them for the member written).
   */
  first: (scans: FrameScans) => TarWriteEntry;
}

/**
 * Writes the archive to `path` (a new file): every frame after the first
 * member is made (and its files scanned) and written, then the first
 * member's frames, built from the scans by `input.first`, go in front.
 * Returns the archive's size.
 *
 * Once the first frame is in, the first member's size is guessed from the
 * scans so far (conda environments hold the build prefix in `bin/`, at the
 * start), and the frames are written as they come behind that much room.
 * When the guess holds, the first member only fills the room; otherwise the
 * frames written are moved within the file to where the first member ends
 * (one pass over them; nothing is held in memory or in a second file).
 */
export async function writeZstdPack(path: string, input: ZstdPackInput): Promise<number> {
  using file = await Deno.open(path, { read: true, write: true, createNew: true, mode: 0o644 });
  const scans = new FrameScans(input.needle);
  let room: number | undefined;
  let written = 0;
  for await (const made of framesMade(input)) {
    scans.add(made.pieces, made.scan);
    if (room === undefined) {
      room = length(await firstFrames(input, scans));
      file.seekSync(room, Deno.SeekMode.Start);
    }
    writeAllSync(file, made.frame);
    written += made.frame.length;
  }
  const first = await firstFrames(input, scans);
  const head = length(first);
  if (room !== undefined && room !== head) {
    moveRangeSync(file, room, head, written);
    file.truncateSync(head + written);
  }
  file.seekSync(0, Deno.SeekMode.Start);
  for (const frame of first) writeAllSync(file, frame);
  return head + written;
}

/** The first member's frames, built from the scans by `input.first`. */
async function firstFrames(input: ZstdPackInput, scans: FrameScans): Promise<Uint8Array[]> {
  const jobs = await firstEntryFrames(
    input.first(scans),
    input.options,
    ZSTD_FRAME_SIZE,
    input.level,
  );
  return jobs.map((job) => replyFrame(tarFrameJob(job).reply));
}

function length(chunks: Uint8Array[]): number {
  return chunks.reduce((n, c) => n + c.length, 0);
}

/**
 * Frame jobs planned and handed to the pool ahead of the oldest not yet
 * made: 32 (128 MiB of tar). A job holds its frame's headers and file
 * ranges, not its bytes; the workers are given them all (`PACK_POOL`).
 */
const AHEAD = 32;

/** Jobs kept planned and not started while more can be planned: two per worker plus one. */
const READY_JOBS = 3;

/** How the pack pool hands out frame jobs: all at once, before the workers load. */
export const PACK_POOL = { perWorker: AHEAD, early: true };

/** A frame made: its bytes, its scanned pieces and what the scan found. */
interface Made {
  frame: Uint8Array;
  pieces: ScannedPiece[];
  scan: FrameScan;
}

/** A frame job handed to the pool, or kept for this thread ({@link reserved}). */
interface Flight {
  job: PackFrameJob;
  outcome: Promise<JobOutcome<PackFrameReply>>;
  done: boolean;
  /** Makes a reserved flight's outcome known (until this thread has made it). */
  run?: (o: JobOutcome<PackFrameReply>) => void;
}

/**
 * Makes the frames of the members after the first and yields them in
 * stream order. Up to {@link AHEAD} jobs are in the pool at a time, posted
 * to the workers at once (`PACK_POOL`), which make them from the oldest;
 * this thread makes them from the newest, taking back jobs no worker has
 * started, without letting its event loop run (the workers need nothing
 * from it meanwhile), and waits only when every job left has started.
 */
async function* framesMade(input: ZstdPackInput): AsyncGenerator<Made> {
  const { workers } = input;
  const jobs = new FrameJobs(input);
  const flights: Flight[] = [];
  let planned = false;
  while (true) {
    // Planned just ahead of the work (planning is this thread's work too): the workers keep jobs
    // queued, and this thread one of its own.
    while (!planned && flights.length < AHEAD && workers.unstarted() < READY_JOBS) {
      const next = await jobs.next();
      if (!next) planned = true;
      // The last frame (the shortest, as a rule) is kept for this thread to make once nothing
      // else is left, rather than wait: the threads finish closer together.
      else flights.push(next.last ? reserved(next.job) : flight(workers, next.job));
    }
    if (flights.length === 0) return;
    const more = () =>
      workers.runOneHere(true) || workers.stealOne() || runReserved(flights, workers);
    if (!flights[0].done && more()) continue;
    const f = flights.shift()!;
    yield made(f.job, await f.outcome, workers);
  }
}

/** The frame jobs of the members after the first, in stream order, each known to be last or not. */
class FrameJobs {
  #plan: AsyncGenerator<TarFrameJob>;
  #ahead?: Promise<IteratorResult<TarFrameJob>>;

  constructor(readonly input: ZstdPackInput) {
    const { entries, options, level } = input;
    this.#plan = planTarFrames(entries, options, ZSTD_FRAME_SIZE, level);
  }

  /** The next job, or undefined after the last. */
  async next(): Promise<{ job: PackFrameJob; last: boolean } | undefined> {
    const r = await (this.#ahead ?? this.#plan.next());
    if (r.done) return undefined;
    this.#ahead = this.#plan.next();
    return { job: packFrame(r.value, this.input), last: (await this.#ahead).done === true };
  }
}

function flight(workers: ZstdWorkers, job: PackFrameJob): Flight {
  const f: Flight = { job, outcome: workers.run<PackFrameReply>(job), done: false };
  f.outcome.then(() => (f.done = true));
  return f;
}

/** A flight this thread makes itself, when {@link runReserved} is called. */
function reserved(job: PackFrameJob): Flight {
  let resolve!: (o: JobOutcome<PackFrameReply>) => void;
  const outcome = new Promise<JobOutcome<PackFrameReply>>((r) => (resolve = r));
  const f: Flight = { job, outcome, done: false, run: resolve };
  f.outcome.then(() => (f.done = true));
  return f;
}

/** Makes the reserved flight, if one is left; false when none is. */
function runReserved(flights: Flight[], workers: ZstdWorkers): boolean {
  const f = flights.find((f) => f.run);
  if (!f) return false;
  const run = f.run!;
  f.run = undefined;
  run(workers.runHere<PackFrameReply>(f.job));
  return true;
}

/**
 * The frame of an outcome. A job that failed in a worker is run again in
 * this thread, so its error is the genuine one (a file removed meanwhile, a
 * permission denied), not a message.
 */
function made(job: PackFrameJob, o: JobOutcome<PackFrameReply>, workers: ZstdWorkers): Made {
  if ("error" in o) o = workers.runHere<PackFrameReply>(job);
  if ("error" in o) throw o.error;
  return { frame: replyFrame(o.reply), pieces: scannedPieces(job), scan: o.reply.scan };
}

function packFrame(frame: TarFrameJob, input: ZstdPackInput): PackFrameJob {
  const scan: number[] = [];
  frame.files.forEach((p, k) => {
    if (input.scan.has(p.entry)) scan.push(k);
  });
  return { ...frame, type: "packframe", needle: input.needle, scan };
}
