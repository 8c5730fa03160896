/**
 * Byte-level prefix rewriting shared by the installer (placeholder -> build
 * prefix) and relocation (archived prefix -> unpack location), plus the
 * searching and classifying helpers the packer uses to find files that hold a
 * prefix.
 *
 * - Text mode ({@link replaceText}): every occurrence is replaced; the file
 *   length may change.
 * - Binary mode ({@link replaceBinary}): as conda does, inside each
 *   NUL-terminated string that contains the placeholder every occurrence is
 *   replaced and the string is padded with NULs, so offsets in the file do
 *   not move. The new prefix must not be longer than the placeholder.
 * - {@link fixShebang}: repairs a first line the kernel cannot run (too long,
 *   or an interpreter path with spaces).
 *
 * Functions return their input unchanged (the same object) when there is
 * nothing to do, so callers can skip the write with `out === data`.
 *
 * @module
 */

import { PonchoError } from "../errors.ts";
import { concatBytes } from "../bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Rough commonness of a byte in binaries and text (lower = rarer), to pick a search anchor. */
function commonness(b: number): number {
  if (b === 0 || b === 0xff || b === 0x2f || b === 0x20) return 100; // NUL, 0xff, '/', ' '
  if (b >= 0x61 && b <= 0x7a) return 50; // lowercase
  if (b === 0x2e || b === 0x5f || b === 0x2d) return 40; // . _ -
  if (b >= 0x30 && b <= 0x39) return 20; // digits
  if (b >= 0x41 && b <= 0x5a) return 15; // uppercase
  return 30;
}

/** Picks the index of the rarest-looking byte of `needle`. */
function anchorOf(needle: Uint8Array): number {
  let best = 0;
  let bestScore = Infinity;
  for (let i = 0; i < needle.length; i++) {
    const s = commonness(needle[i]);
    if (s < bestScore) {
      bestScore = s;
      best = i;
    }
  }
  return best;
}

/**
 * Index of the first occurrence of `needle` in `data` at or after `from`, or
 * -1. Needles of at least {@link HORSPOOL_MIN} bytes (prefixes) are found
 * with Horspool's skip table, which looks at about one byte in
 * `needle.length` whatever the data; shorter ones by scanning for the
 * needle's rarest-looking byte with the native `Uint8Array.indexOf`. An
 * empty needle matches at `from`.
 */
export function indexOfBytes(data: Uint8Array, needle: Uint8Array, from = 0): number {
  const n = needle.length;
  if (n === 0) return Math.min(Math.max(from, 0), data.length);
  if (n >= HORSPOOL_MIN) return horspool(data, needle, Math.max(from, 0));
  const k = anchorOf(needle);
  const a = needle[k];
  const last = data.length - n;
  let i = data.indexOf(a, Math.max(from, 0) + k);
  while (i >= 0) {
    const start = i - k;
    if (start > last) return -1;
    let j = 0;
    while (j < n && data[start + j] === needle[j]) j++;
    if (j === n) return start;
    i = data.indexOf(a, i + 1);
  }
  return -1;
}

/** Shortest needle {@link indexOfBytes} searches with Horspool's algorithm. */
export const HORSPOOL_MIN = 8;

/** Horspool's search: compare at the window's last byte, then skip by that byte's table entry. */
function horspool(data: Uint8Array, needle: Uint8Array, from: number): number {
  const n = needle.length;
  const lastIdx = n - 1;
  const skip = new Int32Array(256).fill(n);
  for (let i = 0; i < lastIdx; i++) skip[needle[i]] = lastIdx - i;
  const tail = needle[lastIdx];
  const end = data.length - n;
  for (let i = from; i <= end;) {
    const c = data[i + lastIdx];
    if (c === tail) {
      let j = lastIdx - 1;
      while (j >= 0 && data[i + j] === needle[j]) j--;
      if (j < 0) return i;
    }
    i += skip[c];
  }
  return -1;
}

/** All non-overlapping occurrences of `needle` in `data`, in order. */
export function findAllBytes(data: Uint8Array, needle: Uint8Array): number[] {
  const out: number[] = [];
  if (needle.length === 0) return out;
  for (
    let i = indexOfBytes(data, needle);
    i >= 0;
    i = indexOfBytes(data, needle, i + needle.length)
  ) {
    out.push(i);
  }
  return out;
}

/**
 * True when the data looks binary: it contains a NUL byte (conda-build's
 * rule; text-mode replacement would corrupt such a file, binary mode is safe).
 */
export function isBinary(data: Uint8Array): boolean {
  return data.indexOf(0) >= 0;
}

/** Replaces every occurrence of `placeholder` with `newPrefix` (lengths may differ). */
export function replaceText(data: Uint8Array, placeholder: string, newPrefix: string): Uint8Array {
  const ph = encoder.encode(placeholder);
  const hits = findAllBytes(data, ph);
  if (hits.length === 0) return data;
  const np = encoder.encode(newPrefix);
  const out = new Uint8Array(data.length + hits.length * (np.length - ph.length));
  let src = 0;
  let dst = 0;
  for (const h of hits) {
    out.set(data.subarray(src, h), dst);
    dst += h - src;
    out.set(np, dst);
    dst += np.length;
    src = h + ph.length;
  }
  out.set(data.subarray(src), dst);
  return out;
}

/**
 * Binary-mode replacement: in each NUL-terminated string holding the
 * placeholder, replaces every occurrence and pads the string with NULs so the
 * data keeps its length (end of data counts as a terminator). Throws a
 * {@link PonchoError} when `newPrefix` is longer than the placeholder.
 */
export function replaceBinary(
  data: Uint8Array,
  placeholder: string,
  newPrefix: string,
): Uint8Array {
  const ph = encoder.encode(placeholder);
  const np = encoder.encode(newPrefix);
  let i = indexOfBytes(data, ph);
  if (i < 0) return data;
  if (np.length > ph.length) {
    throw new PonchoError(
      `new prefix ${newPrefix} (${np.length} bytes) is longer than the binary placeholder ` +
        `(${ph.length} bytes)`,
    );
  }
  const out = data.slice();
  while (i >= 0) {
    let end = data.indexOf(0, i + ph.length);
    if (end < 0) end = data.length;
    // Rewrite [i, end): every occurrence replaced, the rest shifted left, NUL-padded.
    let src = i;
    let dst = i;
    let hit = i;
    while (hit >= 0 && hit + ph.length <= end) {
      out.set(data.subarray(src, hit), dst);
      dst += hit - src;
      out.set(np, dst);
      dst += np.length;
      src = hit + ph.length;
      hit = indexOfBytes(data, ph, src);
    }
    out.set(data.subarray(src, end), dst);
    dst += end - src;
    out.fill(0, dst, end);
    i = hit; // -1, or an occurrence in a later string (none can span the NUL)
  }
  return out;
}

/** The maximum shebang line length the kernel runs (Linux before 5.1 reads 128 bytes). */
export const MAX_SHEBANG = 127;

const SPACE = 0x20;
const TAB = 0x09;
const isBlank = (b: number) => b === SPACE || b === TAB;

/** A shebang split into the interpreter path and its argument text, as bytes. */
export interface Shebang {
  /** The interpreter path, byte-exact. */
  interpreter: Uint8Array;
  /** What follows it, blanks (spaces, tabs) at both ends removed; may be empty. */
  args: Uint8Array;
}

/**
 * Splits the first line of a script (`line`, without its newline) into the
 * interpreter and its arguments, byte-exact, or returns undefined when it is
 * not a shebang.
 *
 * With `prefix`, an interpreter that starts with it (after `#!` and any
 * blanks) is the prefix plus the word that follows: spaces, tabs and a
 * component starting with `-` inside the prefix are part of the path.
 * Without one (or when the line does not start with it), the interpreter
 * ends with the last blank-separated word that holds a `/` (`#!/a b/python
 * -E` is `/a b/python` with `-E`; `#!/usr/bin/env python3` is
 * `/usr/bin/env` with `python3`).
 */
export function splitShebang(line: Uint8Array, prefix?: string): Shebang | undefined {
  if (line.length < 2 || line[0] !== 0x23 || line[1] !== 0x21) return undefined;
  let start = 2;
  while (start < line.length && isBlank(line[start])) start++;
  let end = start;
  const p = prefix ? encoder.encode(prefix) : undefined;
  if (p && p.length > 0 && indexOfBytes(line.subarray(start, start + p.length), p) === 0) {
    end = start + p.length;
    while (end < line.length && !isBlank(line[end])) end++;
  } else {
    // The end of the last word holding a '/', else of the first word.
    for (let i = start; i < line.length;) {
      const from = i;
      let slash = false;
      for (; i < line.length && !isBlank(line[i]); i++) if (line[i] === 0x2f) slash = true;
      if (slash || end === start) end = i;
      while (i < line.length && isBlank(line[i])) i++;
      if (i === from) break;
    }
  }
  if (end === start) return undefined;
  let a = end;
  let b = line.length;
  while (a < b && isBlank(line[a])) a++;
  while (b > a && isBlank(line[b - 1])) b--;
  return { interpreter: line.subarray(start, end), args: line.subarray(a, b) };
}

/**
 * Splits a shebang's text into the interpreter path and its arguments (see
 * {@link splitShebang}; `prefix` marks where the interpreter path may hold blanks).
 */
export function parseShebang(
  line: string,
  prefix?: string,
): { interpreter: string; args: string } | undefined {
  const parsed = splitShebang(encoder.encode(line), prefix);
  if (!parsed) return undefined;
  return { interpreter: decoder.decode(parsed.interpreter), args: decoder.decode(parsed.args) };
}

/** `"bytes"` for /bin/sh, with backslash, `"`, `$` and backquote escaped, other bytes as they are. */
function dquoteBytes(bytes: Uint8Array): Uint8Array {
  const out: number[] = [0x22];
  for (const b of bytes) {
    if (b === 0x5c || b === 0x22 || b === 0x24 || b === 0x60) out.push(0x5c);
    out.push(b);
  }
  out.push(0x22);
  return Uint8Array.from(out);
}

/** Splits `bytes` at runs of blanks (spaces, tabs). */
function words(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < bytes.length) {
    while (i < bytes.length && isBlank(bytes[i])) i++;
    const from = i;
    while (i < bytes.length && !isBlank(bytes[i])) i++;
    if (i > from) out.push(bytes.subarray(from, i));
  }
  return out;
}

/**
 * Repairs the first line when the kernel could not run it as meant: a
 * shebang longer than {@link MAX_SHEBANG} bytes, or whose interpreter path
 * holds a space or a tab. Otherwise returns `data` itself.
 *
 * `prefix` (the environment's final path) tells where the interpreter path
 * ends when the prefix holds blanks (see {@link splitShebang}); the
 * interpreter is kept byte-exact (two spaces stay two, tabs stay tabs, a
 * component like ` -x` stays in the path).
 *
 * Python interpreters (`python`, `python3.11`, `pythonw`) get a `/bin/sh`
 * trampoline that runs the exact interpreter and is still valid Python (a
 * string expression), the form pip uses:
 *
 * ```
 * #!/bin/sh
 * '''exec' "/a b/bin/python3.11" "-E" "$0" "$@"
 * ' '''
 * ```
 *
 * Any other interpreter becomes `#!/usr/bin/env <name>` (`#!/usr/bin/env -S
 * <name> <args>` with arguments; GNU env's `-S` splits them), which runs
 * the environment's own interpreter once its `bin` is first on `PATH` (as
 * after activation); that is conda's fix for long shebangs.
 */
export function fixShebang(data: Uint8Array, prefix?: string): Uint8Array {
  if (data.length < 2 || data[0] !== 0x23 || data[1] !== 0x21) return data;
  let nl = data.indexOf(0x0a);
  if (nl < 0) nl = data.length;
  const lineBytes = data.subarray(0, nl);
  const line = lineBytes.at(-1) === 0x0d ? lineBytes.subarray(0, -1) : lineBytes;
  const parsed = splitShebang(line, prefix);
  if (!parsed) return data;
  const { interpreter, args } = parsed;
  if (lineBytes.length <= MAX_SHEBANG && !interpreter.some(isBlank)) return data;
  const name = interpreter.subarray(interpreter.lastIndexOf(0x2f) + 1);
  let head: Uint8Array;
  if (/^pythonw?[0-9.]*$/.test(decoder.decode(name))) {
    const argParts = words(args).flatMap((w) => [encoder.encode(" "), dquoteBytes(w)]);
    head = concatBytes([
      encoder.encode("#!/bin/sh\n'''exec' "),
      dquoteBytes(interpreter),
      ...argParts,
      encoder.encode(` "$0" "$@"\n' '''`),
    ]);
  } else {
    // The kernel passes everything after the interpreter as one argument: `-S` splits it.
    head = args.length
      ? concatBytes([encoder.encode("#!/usr/bin/env -S "), name, encoder.encode(" "), args])
      : concatBytes([encoder.encode("#!/usr/bin/env "), name]);
  }
  return concatBytes([head, data.subarray(nl)]);
}
