/**
 * The scan step of packing: which files of a prefix hold the prefix (and are
 * binary), with the same handlers in the pack workers (`pack_worker.ts`) and
 * in this thread. Two ways:
 *
 * - `"scan"` jobs read batches of whole files (a `.tar.gz` or `.tar`,
 *   whose manifest is written before the bodies);
 * - `"packframe"` jobs ({@link packFrameJob}) build and compress a `.tar.zst`
 *   frame (`lib/archive/tar_frames.ts`) and scan the file pieces it holds on
 *   the way, so each file is read once; {@link FrameScans} puts the frames'
 *   findings together in stream order, needles across two frames included.
 *
 * @module
 */

import type { JobHandlers, JobResult } from "../archive/worker_pool.ts";
import type { ZstdReply } from "../archive/zstd_compress.ts";
import { type TarFrameJob, tarFrameJob } from "../archive/tar_frames.ts";
import { indexOfBytes, isBinary } from "./prefix.ts";
import { concatBytes } from "../bytes.ts";

/** Files to scan for `needle`. */
export interface ScanJob {
  /** Always `"scan"`. */
  type: "scan";
  /** Absolute paths. */
  paths: string[];
  /** Their sizes from the walk (a hint; files are read to their end). */
  sizes: number[];
  /** The bytes to look for (the prefix). */
  needle: Uint8Array;
}

/** What the scan found, per file of the job. */
export interface ScanReply {
  /** Bytes read. */
  sizes: number[];
  /** Whether the file holds the needle. */
  hits: boolean[];
  /** Whether it holds a NUL byte (only computed for hits). */
  binary: boolean[];
  /** Each file's digest, when the scan is given a digest function. */
  digests?: string[];
}

/**
 * The job handler of `"scan"` jobs (in a worker or in this thread); with
 * `digest`, also each file's digest (in this thread only: workers load no
 * hashing code).
 */
export function scanJob(
  job: ScanJob,
  digest?: (data: Uint8Array) => string,
): JobResult<ScanReply> {
  const reply: ScanReply = { sizes: [], hits: [], binary: [] };
  if (digest) reply.digests = [];
  let buf = scratch;
  job.paths.forEach((path, i) => {
    if (job.sizes[i] + 1 > buf.length) {
      buf = new Uint8Array(Math.max(job.sizes[i] + 1, 2 * buf.length));
    }
    let data: Uint8Array;
    [data, buf] = readWhole(path, buf);
    const hit = indexOfBytes(data, job.needle) >= 0;
    reply.sizes.push(data.length);
    reply.hits.push(hit);
    reply.binary.push(hit && isBinary(data));
    if (digest) reply.digests!.push(digest(data));
  });
  if (buf.length <= KEEP_SCRATCH) scratch = buf;
  return { reply };
}

/** This thread's read buffer, reused from job to job (grown as needed, kept up to 16 MiB). */
let scratch: Uint8Array = new Uint8Array(1 << 20);
const KEEP_SCRATCH = 16 << 20;

/**
 * Reads a whole file into `buf` (replaced by a larger one when it does not
 * fit); returns the bytes and the buffer to reuse.
 */
function readWhole(path: string, buf: Uint8Array): [Uint8Array, Uint8Array] {
  using f = Deno.openSync(path, { read: true });
  let filled = 0;
  while (true) {
    if (filled === buf.length) {
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    const n = f.readSync(buf.subarray(filled));
    if (n === null) return [buf.subarray(0, filled), buf];
    filled += n;
  }
}

/** A tar frame to build and compress, scanning some of its file pieces for `needle`. */
export interface PackFrameJob extends Omit<TarFrameJob, "type"> {
  /** Always `"packframe"`. */
  type: "packframe";
  /** The bytes to look for (the build prefix). */
  needle: Uint8Array;
  /** Indexes in `files` of the pieces to scan, ascending. */
  scan: number[];
}

/** The piece holds the needle ({@link FrameScan.flags}). */
export const PIECE_HIT = 1;
/** The piece holds a NUL byte ({@link FrameScan.flags}). */
export const PIECE_NUL = 2;

/** What a frame's scan found, per scanned piece (in the order of `scan`). */
export interface FrameScan {
  /**
   * {@link PIECE_HIT} and {@link PIECE_NUL} bits. NUL bytes are looked for
   * in hits and in every piece that is not a whole file.
   */
  flags: Uint8Array;
  /**
   * For each scanned piece that is not a whole file, in order: its first
   * and its last `needle.length - 1` bytes (the whole piece when shorter),
   * to find a needle across two pieces.
   */
  edges: Uint8Array[];
}

/** The reply of a `"packframe"` job: the compressed frame and the scan. */
export interface PackFrameReply extends ZstdReply {
  /** What the scan found. */
  scan: FrameScan;
}

/** The job handler of `"packframe"` jobs (in a worker or in this thread). */
export function packFrameJob(job: PackFrameJob): JobResult<PackFrameReply> {
  let scan: FrameScan = { flags: new Uint8Array(0), edges: [] };
  const { reply, transfer } = tarFrameJob(job, (frame) => (scan = scanPieces(frame, job)));
  return { reply: { ...reply, scan }, transfer };
}

function scanPieces(frame: Uint8Array, job: PackFrameJob): FrameScan {
  const flags = new Uint8Array(job.scan.length);
  const edges: Uint8Array[] = [];
  const keep = job.needle.length - 1;
  job.scan.forEach((k, i) => {
    const p = job.files[k];
    const data = frame.subarray(p.at, p.at + p.length);
    const hit = indexOfBytes(data, job.needle) >= 0;
    const whole = p.offset === 0 && p.last;
    const nul = (hit || !whole) && isBinary(data);
    flags[i] = (hit ? PIECE_HIT : 0) | (nul ? PIECE_NUL : 0);
    if (!whole) edges.push(data.slice(0, keep), data.slice(Math.max(0, data.length - keep)));
  });
  return { flags, edges };
}

/** A scanned piece as the parent knows it: its entry and where it lies in the file. */
export interface ScannedPiece {
  /** The entry's path (one file, whatever its pieces). */
  entry: string;
  /** Whether the piece starts the file's body. */
  first: boolean;
  /** Whether it ends it. */
  last: boolean;
}

/** The scanned pieces of a frame job, in the order of its `scan`. */
export function scannedPieces(job: PackFrameJob): ScannedPiece[] {
  return job.scan.map((k) => {
    const p = job.files[k];
    return { entry: p.entry, first: p.offset === 0, last: p.last };
  });
}

/**
 * The frames' scans put together by file, fed in stream order
 * ({@link FrameScans.add}): a file holds the needle when one of its pieces
 * does or when it straddles two of them; it is binary when one of its
 * pieces holds a NUL byte.
 */
export class FrameScans {
  #found = new Map<string, { hit: boolean; nul: boolean }>();
  /** Each file's last `needle.length - 1` bytes so far, while its pieces come. */
  #carry = new Map<string, Uint8Array>();

  constructor(readonly needle: Uint8Array) {}

  /** Takes the scan of the next frame of the stream. */
  add(pieces: ScannedPiece[], scan: FrameScan): void {
    let e = 0;
    pieces.forEach((p, i) => {
      const hit = (scan.flags[i] & PIECE_HIT) !== 0;
      const nul = (scan.flags[i] & PIECE_NUL) !== 0;
      if (p.first && p.last) {
        this.#found.set(p.entry, { hit, nul });
        return;
      }
      const f = this.#found.get(p.entry) ?? { hit: false, nul: false };
      const [head, tail] = [scan.edges[e++], scan.edges[e++]];
      const carry = this.#carry.get(p.entry);
      f.hit ||= hit ||
        (carry !== undefined && indexOfBytes(concatBytes([carry, head]), this.needle) >= 0);
      f.nul ||= nul;
      this.#found.set(p.entry, f);
      // A piece shorter than the needle is all in its head (= its tail): keep what precedes it.
      const keep = this.needle.length - 1;
      const next = head.length < keep && carry ? concatBytes([carry, tail]) : tail;
      if (p.last) this.#carry.delete(p.entry);
      else this.#carry.set(p.entry, next.subarray(Math.max(0, next.length - keep)));
    });
  }

  /** Whether the file of `entry` holds the needle, and whether it is binary (as `isBinary`). */
  found(entry: string): { hit: boolean; binary: boolean } | undefined {
    const f = this.#found.get(entry);
    return f && { hit: f.hit, binary: f.hit && f.nul };
  }
}

/**
 * The handlers of the pack workers: a `.tar.zst`'s frames, built, scanned
 * and compressed (`packframe`), and the prefix scan of a `.tar.gz` or `.tar`'s
 * files (`scan`): all that `pack.ts` gives them.
 */
export const PACK_HANDLERS: JobHandlers = {
  scan: (job: ScanJob) => scanJob(job),
  packframe: packFrameJob,
};
