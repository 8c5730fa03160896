/**
 * The channel indexer's door (`poncho index`): a directory of conda packages
 * becomes a channel (repodata, CEP-16 shards) with its import map, the
 * modules each package provides.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const mods = packageModules({
 *   paths: ["lib/python3.11/site-packages/yaml/__init__.py", "lib/libyaml.so"],
 * });
 * assert.ok(mods.includes("yaml"));
 * ```
 *
 * @module
 */

export { indexChannel } from "./channel_index.ts";
export type { IndexOptions, IndexResult, SubdirSummary } from "./channel_index.ts";
export { packageModules } from "./modules.ts";
export type { PackageFiles } from "./modules.ts";
export { IMPORT_MAP_VERSION, parseImportMap } from "./import_map.ts";
export type { ImportMapDoc } from "./import_map.ts";
