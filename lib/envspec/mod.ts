/**
 * The environment spec's door: reading specs (poncho JSON, legacy JSON, JSONC,
 * conda `environment.yml`) and their canonical form and hash, the identity
 * under which environments are built once and found again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const a = await parseSpec('{"conda": {"dependencies": ["numpy >=1.2", "python=3.11"]}}', "a.json");
 * const b = await parseSpec('{"conda": {"dependencies": ["python=3.11", "NumPy>=1.2",]}}', "b.json");
 * assert.equal(specHash(canonicalSpec(a, "linux-64")), specHash(canonicalSpec(b, "linux-64")));
 * assert.equal(canonicalMatchSpec("NumPy >= 1.2"), "numpy>=1.2");
 * ```
 *
 * @module
 */

export { parseJsonc, parseSpec, readSpec } from "./parse.ts";
export { canonicalMatchSpec, canonicalSpec, specHash, specToJson } from "./canonical.ts";
export type { CanonicalSpec } from "./canonical.ts";
export type { EnvSpec, GitSource, HttpSource } from "./types.ts";
