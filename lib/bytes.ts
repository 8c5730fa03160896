/**
 * Byte-array helpers shared by the archive, conda and environment code.
 *
 * @module
 */

/**
 * The bytes of `parts`, in order, in one new array.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { concatBytes } from "./bytes.ts";
 * const enc = new TextEncoder();
 * assert.equal(new TextDecoder().decode(concatBytes([enc.encode("ab"), enc.encode("c")])), "abc");
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
