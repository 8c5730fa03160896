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

/** Bytes moved at a time by {@link moveRangeSync}. */
const MOVE_CHUNK = 1 << 20;

/**
 * Moves the `length` bytes of the open `file` (opened read-write) at `from`
 * to `to`, overlapping or not: piece by piece, from the front when the
 * range moves down and from the back when it moves up, so that no byte is
 * overwritten before it is read. The bytes left behind are not cleared.
 *
 * @example
 * ```ts
 * import { moveRangeSync, readAtSync, writeAllSync } from "./io.ts";
 *
 * const path = Deno.makeTempFileSync();
 * using file = Deno.openSync(path, { read: true, write: true });
 * writeAllSync(file, new TextEncoder().encode("..abcdef"));
 * moveRangeSync(file, 2, 0, 6);
 * console.log(new TextDecoder().decode(readAtSync(file, 0, 6))); // "abcdef"
 * Deno.removeSync(path);
 * ```
 */
export function moveRangeSync(file: Deno.FsFile, from: number, to: number, length: number): void {
  if (from === to || length === 0) return;
  const down = to < from;
  for (let done = 0; done < length;) {
    const n = Math.min(MOVE_CHUNK, length - done);
    const at = down ? done : length - done - n; // offset of this piece within the range
    const piece = readAtSync(file, from + at, n);
    if (piece.length !== n) {
      throw new Error(`cannot move ${length} bytes from ${from}: file too short`);
    }
    file.seekSync(to + at, Deno.SeekMode.Start);
    writeAllSync(file, piece);
    done += n;
  }
}
