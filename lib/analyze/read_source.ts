/**
 * Reads one source's bytes for the analysis: stdin from the caller, files
 * only when they are regular and not larger than the limit
 * (`PONCHO_MAX_SOURCE_MB`); a refused one is skipped with a warning.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { SourceFile } from "./sources.ts";

/** Default limit on one source file's size, in MB (`PONCHO_MAX_SOURCE_MB` changes it). */
export const DEFAULT_MAX_SOURCE_MB = 16;

/** A source that is refused (not a regular file, too large): skipped with a warning. */
export class RefusedSource extends Error {}

function maxSourceBytes(): number {
  const raw = Deno.env.get("PONCHO_MAX_SOURCE_MB");
  const mb = raw === undefined || raw === "" ? DEFAULT_MAX_SOURCE_MB : Number(raw);
  if (!Number.isFinite(mb) || mb <= 0) {
    throw new UsageError(`PONCHO_MAX_SOURCE_MB='${raw}' is not a positive number of megabytes`);
  }
  return Math.floor(mb * 1024 * 1024);
}

/**
 * The bytes of one source: `stdin` for `-`, else the file's.
 *
 * @throws {RefusedSource} for a file that is not regular or is too large.
 * @throws the operating system's error when it cannot be read (or, for a
 *   directory that could not be listed, the error that stopped the listing).
 */
export async function readSource(
  file: SourceFile,
  stdin: Uint8Array | string | undefined,
): Promise<Uint8Array> {
  if (file.stdin) {
    if (stdin === undefined) return new Uint8Array();
    return typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin;
  }
  if (file.unlisted !== undefined) throw file.unlisted;
  const max = maxSourceBytes();
  const st = await Deno.stat(file.absPath);
  if (!st.isFile) throw new RefusedSource("not a regular file (a device, FIFO or socket)");
  const tooBig = () =>
    new RefusedSource(`larger than ${max / 1048576} MB (raise PONCHO_MAX_SOURCE_MB to read it)`);
  if (st.size > max) throw tooBig();
  using f = await Deno.open(file.absPath);
  const buf = new Uint8Array(Math.min(st.size, max) + 1);
  let n = 0;
  for (let r; n < buf.length && (r = await f.read(buf.subarray(n))) !== null;) n += r;
  if (n > max) throw tooBig(); // it grew meanwhile
  return buf.subarray(0, n);
}

/** Whether stdin's bytes are a notebook: JSON, which no Python statement can start like. */
export function looksLikeNotebook(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return bytes[i] === 0x7b; // "{": Python source cannot start a statement with a dict display
}
