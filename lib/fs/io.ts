/**
 * Whole reads and writes on an open file, synchronously: a write that a
 * short `writeSync` does not cut, and a read of a range that only the
 * file's end cuts.
 *
 * @module
 */

/** Writes all of `data` to `file` at its position (`writeSync` may write less each call). */
export function writeAllSync(file: Deno.FsFile, data: Uint8Array): void {
  for (let off = 0; off < data.length;) off += file.writeSync(data.subarray(off));
}

/**
 * Up to `n` bytes of the open `file` from `offset` (fewer only at its end).
 *
 * @example
 * ```ts
 * import { readAtSync, writeAllSync } from "./io.ts";
 *
 * const path = Deno.makeTempFileSync();
 * using file = Deno.openSync(path, { read: true, write: true });
 * writeAllSync(file, new TextEncoder().encode("hello world"));
 * console.log(new TextDecoder().decode(readAtSync(file, 6, 100))); // "world"
 * Deno.removeSync(path);
 * ```
 */
export function readAtSync(file: Deno.FsFile, offset: number, n: number): Uint8Array {
  const buf = new Uint8Array(n);
  file.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < n) {
    const k = file.readSync(buf.subarray(got));
    if (k === null) break;
    got += k;
  }
  return buf.subarray(0, got);
}
