/**
 * File digests, in one place: the streamed sha256 that identifies archives,
 * verifies cached ones and records files rewritten in a prefix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const f = await Deno.makeTempFile();
 * await Deno.writeTextFile(f, "abc");
 * assert.equal(
 *   await fileSha256(f),
 *   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
 * );
 * await Deno.remove(f);
 * ```
 *
 * @module
 */

import { readFileChunks } from "./archive/file_chunks.ts";
import { lazyImporter } from "./lazy.ts";

/** Lower-case hex sha256 of a whole file, read in chunks (never held in memory). */
export async function fileSha256(path: string): Promise<string> {
  // Lazily: a literal import() would put node:crypto in the graph of every module importing this.
  const { createHash } = await lazyImporter(import.meta.url)<typeof import("node:crypto")>(
    "node:crypto",
  );
  const hash = createHash("sha256");
  for await (const chunk of readFileChunks(path)) hash.update(chunk);
  return hash.digest("hex");
}
