/**
 * The environment archive's door: packing a prefix into a relocatable
 * archive whose manifest (written first) names the spec, its hash and every
 * file that holds the build prefix, so any worker can relocate it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(MANIFEST_PATH, ".poncho/manifest.json");
 * assert.equal(typeof MANIFEST_FORMAT, "number");
 * ```
 *
 * @module
 */

export { packPrefix } from "./pack.ts";
export type { PackOptions, PackResult, PristineFile } from "./pack.ts";
export { MANIFEST_FORMAT, MANIFEST_PATH } from "./manifest.ts";
export type { EnvManifest, RelocationRecord } from "./manifest.ts";
