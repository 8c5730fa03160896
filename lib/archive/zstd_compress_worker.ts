/**
 * Worker entry point of {@link ZstdWorkers} (`zstd_compress.ts`): compresses
 * one frame per `"zstd"` job with `node:zlib`, so several frames of an
 * archive are compressed on several cores (protocol: `worker_pool.ts`).
 *
 * @module
 */

import { serveJobs } from "./worker_pool.ts";
import { ZSTD_HANDLERS } from "./zstd_compress.ts";

serveJobs(ZSTD_HANDLERS);
