/**
 * The archive engine's door: one extractor with one safety model for every
 * tar Poncho unpacks (see `extract.ts`), and streamed (de)compression for
 * zstd (multi-frame), gzip and bzip2.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(compressionFromPath("env.tar.zst"), "zst");
 * assert.equal(compressionFromPath("pkg.tar.bz2"), "bz2");
 * ```
 *
 * @module
 */

export { extractMembers, EXTRACTOR_FORMAT, extractTar } from "./extract.ts";
export type {
  ExtractOptions,
  ExtractSource,
  ExtractStats,
  ExtractTarOptions,
  Member,
} from "./extract.ts";
export {
  ARCHIVE_SUFFIXES,
  compress,
  compressionFromPath,
  decompress,
  openDecompressed,
} from "./compress.ts";
export type { Compression, CompressOptions } from "./compress.ts";
export type { TarEntryType } from "./tar.ts";
