/**
 * The warm record of an archive (`index/sources/<key>.warm`): what the sh
 * launcher of the single file (`lib/dist/launcher.sh`) reads to start a
 * command in an already unpacked environment without starting Deno. `<key>`
 * is the first 32 hex digits of the sha256 of the archive's absolute path
 * (as for the identity cache, `index/sources/<key>.json`), which the
 * launcher computes with `sha256sum`. Five lines, read with sh's `read`:
 *
 * ```
 * 1 <size> <mtime seconds>.<milliseconds, 3 digits> <inode>
 * <archive absolute path>
 * <environment id>
 * <environment directory>
 * <environment lock file>
 * ```
 *
 * The first line is what GNU `stat -L -c '1 %s %.3Y %i'` prints for the
 * archive when it is unchanged. The launcher trusts none of it blindly: it
 * takes the shared lock on the lock file, then checks the environment's
 * ready marker names that id and directory, and falls back to Deno on any
 * mismatch. Paths that sh or JSON would need to escape get no record.
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import { sourcePath } from "./index.ts";
import { ownerTmp } from "./owner.ts";
import { errnoOf } from "../lib/errors.ts";
import { writeFileAtomicSync } from "../lib/fs/atomic.ts";

/** What a warm record says. */
export interface WarmRecord {
  /** Absolute path of the archive. */
  archive: string;
  /** Its stat when the environment was found or unpacked. */
  info: Deno.FileInfo;
  /** The environment id. */
  id: string;
  /** The environment directory (its ready marker's `prefix`). */
  envPath: string;
  /** Its lock file. */
  lockPath: string;
}

/** The record's text, or null when a field cannot be written plainly. */
export function renderWarmRecord(r: WarmRecord): string | null {
  const ms = r.info.mtime?.getTime();
  if (ms === undefined || ms < 0 || r.info.ino === null) return null;
  const plain = (s: string) => s.startsWith("/") && JSON.stringify(s) === `"${s}"`;
  if (![r.archive, r.envPath, r.lockPath].every(plain) || !/^[A-Za-z0-9._-]+$/.test(r.id)) {
    return null;
  }
  const mtime = `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}`;
  return [`1 ${r.info.size} ${mtime} ${r.info.ino}`, r.archive, r.id, r.envPath, r.lockPath, ""]
    .join("\n");
}

/** Whether the warm record at `path` already says `text` (false when there is none yet). */
function sameRecord(path: string, text: string): boolean {
  try {
    return Deno.readTextFileSync(path) === text;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false; // none yet
    throw err;
  }
}

/**
 * Writes (atomically) the warm record of `r.archive` unless the same one is
 * there. Never throws an operating-system error: without the record the
 * launcher only takes the slower path.
 */
export async function writeWarmRecord(layout: StoreLayout, r: WarmRecord): Promise<void> {
  const text = renderWarmRecord(r);
  if (text === null) return;
  try {
    const path = await sourcePath(layout, r.archive, "warm");
    if (sameRecord(path, text)) return;
    Deno.mkdirSync(`${layout.index}/sources`, { recursive: true }); // small: synchronous calls
    writeFileAtomicSync(path, text, { tmpDir: ownerTmp(layout) }); // a cache: checked when read
  } catch (err) {
    // A read-only or full store, another user's record: no fast path, the run itself goes on.
    if (errnoOf(err) === undefined) throw err;
  }
}
