/**
 * The conda engine's door: channels, repodata (monolithic or CEP-16 shards),
 * the solver, and the shard codec. The install steps themselves (fetch,
 * extract, link, link scripts, clobbers, `.pyc`, conda-meta) are composed by
 * `lib/create.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseChannel("conda-forge").url, "https://conda.anaconda.org/conda-forge");
 * const shard = { packages: {}, "packages.conda": {}, removed: [] };
 * const { bytes, sha256 } = encodeShard(shard);
 * assert.deepEqual(decodeShard(bytes, sha256)["packages.conda"], {});
 * ```
 *
 * @module
 */

export { cacheKey, DEFAULT_CHANNEL_ALIAS, parseChannel } from "./channel.ts";
export type { Channel } from "./channel.ts";
export { detectVirtualPackages, installOrder, solve } from "./solve.ts";
export type { RepodataRecord, SolvedRecord, SolveOptions, VirtualPackage } from "./solve.ts";
export { decodeShard, decodeShardIndex, encodeShard, encodeShardIndex } from "./shards.ts";
export type { EncodedShard, Shard, ShardIndex, ShardIndexInfo } from "./shards.ts";
export type { NameRecords } from "./records.ts";
export type { RepodataOptions } from "./repodata.ts";
export { RepodataProgress } from "./repodata_progress.ts";
