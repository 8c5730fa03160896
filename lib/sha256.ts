/**
 * The sha256 of bytes or text in memory, as hex, computed synchronously by
 * `node:crypto`: for package files as they are linked, shards, pack's scans,
 * spec and build hashes. Importing it loads `node:crypto`, so the cold
 * `poncho run` path does not: it hashes files with `fileSha256`
 * (`digest.ts`, which imports `node:crypto` only when called) and short
 * texts with `crypto.subtle` (`sha256Hex` in `store/index.ts`).
 *
 * @module
 */

import { createHash } from "node:crypto";

/**
 * Lower-case hex sha256 of `data` (a string: of its UTF-8).
 *
 * @example
 * ```ts
 * import { bytesSha256 } from "./sha256.ts";
 *
 * console.log(bytesSha256(new TextEncoder().encode("abc")).slice(0, 8)); // "ba7816bf"
 * ```
 */
export function bytesSha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}
