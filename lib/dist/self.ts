/**
 * What the single-file launcher (`lib/dist/launcher.sh`) tells the Poncho it
 * starts: the file's own path and its payload hash, passed in the
 * environment as `PONCHO_LAUNCHER` and `PONCHO_PAYLOAD` together with
 * `DENO_DIR` (the runtime's own cache). {@link takeLauncherEnv} reads them
 * once and removes them, restoring the user's `DENO_DIR`, so that commands
 * Poncho runs never see them.
 *
 * @module
 */

import { errnoOf } from "../errors.ts";
import { lazyImporter } from "../lazy.ts";

/** The single file a process was started from. */
export interface Launcher {
  /** Absolute path of the file as invoked (maybe a symlink to it). */
  path: string;
  /** sha256 of its payload. */
  payload: string;
  /** The directory the runtime was unpacked to (`<store>/v1/runtime/<payload>`). */
  runtime: string;
}

let launcher: Launcher | undefined;

/**
 * Reads and clears the launcher's variables (call once, at startup); returns
 * them, or undefined when Poncho was not started by the single file.
 */
export function takeLauncherEnv(): Launcher | undefined {
  const path = Deno.env.get("PONCHO_LAUNCHER");
  const payload = Deno.env.get("PONCHO_PAYLOAD");
  if (!path || !payload) return launcher = undefined;
  const userDenoDir = Deno.env.get("PONCHO_USER_DENO_DIR");
  for (const v of ["PONCHO_LAUNCHER", "PONCHO_PAYLOAD", "PONCHO_USER_DENO_DIR", "DENO_DIR"]) {
    Deno.env.delete(v);
  }
  if (userDenoDir !== undefined) Deno.env.set("DENO_DIR", userDenoDir);
  launcher = { path, payload, runtime: Deno.execPath().replace(/\/[^/]*$/, "") };
  markRuntimeUsed(launcher.runtime);
  return launcher;
}

/**
 * Stamps the runtime's directory as used now (its mtime): `poncho store gc`
 * never collects a runtime started within the last day (`store/runtime_gc.ts`).
 * One `utime`; best effort.
 */
function markRuntimeUsed(runtime: string): void {
  try {
    const now = new Date();
    Deno.utimeSync(runtime, now, now);
  } catch (err) {
    // A read-only store or another user's runtime (EPERM): gc then goes by its unpack time and
    // by the processes it sees running from it.
    if (errnoOf(err) === undefined) throw err;
  }
}

/** The single file this process was started from, if it was (after {@link takeLauncherEnv}). */
export function currentLauncher(): Launcher | undefined {
  return launcher;
}

/**
 * When this process runs from the single file: folds its runtime's cache
 * logs ({@link compactRuntimeCaches}). Called once a command's work is done:
 * after it returns, or before `poncho run` gives its process to the command.
 */
export async function compactCurrentRuntime(): Promise<void> {
  if (launcher) await compactRuntimeCaches(launcher.runtime);
}

/** A cache database's write-ahead log larger than this is folded into the database. */
export const WAL_LIMIT = 64 << 10;

/**
 * Folds the write-ahead logs of the runtime's Deno caches (`deno-dir/*_v2`,
 * SQLite databases) into their databases when a log has grown past
 * {@link WAL_LIMIT}; returns the databases it compacted.
 *
 * Deno leaves these logs behind when it exits, and every later start, being
 * the only process with the database open, reads the whole log again before
 * running anything: after a `create` (whose solver leaves megabytes of V8
 * code cache) that cost each warm `poncho run` several milliseconds. A
 * check is three `stat`s; the rare compaction a few milliseconds.
 * Best effort: a database in use elsewhere is left for a later run.
 */
export async function compactRuntimeCaches(runtime: string): Promise<string[]> {
  const dir = `${runtime}/deno-dir`;
  const done: string[] = [];
  for (const db of ["v8_code_cache_v2", "dep_analysis_cache_v2", "node_analysis_cache_v2"]) {
    let size = 0; // synchronous: three stats after every command
    try {
      size = Deno.statSync(`${dir}/${db}-wal`).size;
    } catch (err) {
      // No log (or none readable): nothing to fold.
      if (errnoOf(err) === undefined) throw err;
    }
    if (size <= WAL_LIMIT) continue;
    try {
      const { DatabaseSync } = await lazyImporter(import.meta.url)<typeof import("node:sqlite")>(
        "node:sqlite",
      );
      const conn = new DatabaseSync(`${dir}/${db}`);
      try {
        conn.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        done.push(db);
      } finally {
        conn.close();
      }
    } catch {
      // Best effort after the command has run: a database busy in another process, unreadable
      // or of another SQLite (any error node:sqlite throws) is left for a later run to fold.
    }
  }
  return done;
}
