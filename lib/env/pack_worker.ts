/**
 * Worker entry point of the pack workers (`pack.ts`): builds, scans and
 * compresses a `.tar.zst`'s frames (`"packframe"` jobs, `pack_scan.ts`) and
 * scans the files of a `.tar.gz` or `.tar` for the prefix (`"scan"` jobs), so
 * one pool serves every step (protocol: `lib/archive/worker_pool.ts`).
 *
 * @module
 */

import { serveJobs } from "../archive/worker_pool.ts";
import { PACK_HANDLERS } from "./pack_scan.ts";

serveJobs(PACK_HANDLERS);
