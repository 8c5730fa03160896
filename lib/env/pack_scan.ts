/**
 * The scan step of packing: which files of a prefix hold the prefix (and are
 * binary), read in batches by the pack workers (`pack_worker.ts`) or in this
 * thread, with the same handler either way.
 *
 * @module
 */

import type { JobHandlers, JobResult } from "../archive/worker_pool.ts";
import { ZSTD_HANDLERS } from "../archive/zstd_compress.ts";
import { tarFrameJob } from "../archive/tar_frames.ts";
import { indexOfBytes, isBinary } from "./prefix.ts";

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

/** The handlers of the pack workers: scanning, tar frames and zstd frames. */
export const PACK_HANDLERS: JobHandlers = {
  ...ZSTD_HANDLERS,
  scan: (job: ScanJob) => scanJob(job),
  tarframe: tarFrameJob,
};
