/**
 * Worker entry point of the pack workers (`pack.ts`): scans files for the
 * prefix (`"scan"` jobs, `pack_scan.ts`), then compresses the archive's zstd
 * frames (`"zstd"` jobs, `lib/archive/zstd_compress.ts`), so one pool serves
 * both steps (protocol: `lib/archive/worker_pool.ts`).
 *
 * @module
 */

import { serveJobs } from "../archive/worker_pool.ts";
import { PACK_HANDLERS } from "./pack_scan.ts";

serveJobs(PACK_HANDLERS);
