/**
 * Per-process temp directories in the store, so that one sweep finds every
 * leftover of a killed process.
 *
 * Each process that writes into a store gets `tmp/o-<pid>-<random>/` (see
 * {@linkcode ownerTmp}) and holds an exclusive `flock` on its `.owner.lock`
 * for as long as it lives (the kernel releases it when the process dies,
 * `kill -9` included). Every temp file or directory that is later renamed
 * into the store (downloads, repodata, extracted packages, packed archives,
 * index records) is made inside it. A temp that must live elsewhere (beside
 * a user's output file, the system temp dir of `poncho run --tmp`) is
 * recorded there instead ({@linkcode recordExternal}: `ext-<random>.json`
 * naming the path).
 *
 * `poncho store gc` ({@linkcode sweepOwnerDir}) removes an owner directory,
 * and the external temps it records, once it can take the `.owner.lock`
 * itself: its process is gone. The directory is also removed at a normal
 * exit.
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import { type HeldLock, tryLock } from "./lock.ts";
import { deleteTree, deleteTreeSync } from "./remove.ts";
import { errnoOf } from "../lib/errors.ts";
import { lstatInStore } from "./walk.ts";

/** Names of owner directories in `tmp/`. */
export const OWNER_DIR_PATTERN = /^o-\d+-[0-9a-f]{8}$/;

/** The lock file inside an owner directory. */
export const OWNER_LOCK = ".owner.lock";

/**
 * Base names an external record may name (what {@linkcode recordExternal}'s
 * callers create): `.<name>.tmp-<hex>` beside an output, `poncho-run-*` temp
 * dirs. A record naming anything else is ignored, never deleted.
 */
const EXTERNAL_NAME = /^(\..+\.tmp-[0-9a-f]{8}|poncho-run-[A-Za-z0-9_]+)$/;

const owned = new Map<string, { dir: string; lock: HeldLock }>();

function removeOwnedAtExit(): void {
  for (const { dir, lock } of owned.values()) {
    try {
      deleteTreeSync(dir);
    } catch (err) {
      // At exit there is nobody to tell: what cannot be removed now, gc sweeps later.
      if (errnoOf(err) === undefined) throw err;
    }
    lock.release();
  }
  owned.clear();
}

/**
 * This process's temp directory in the store at `layout` (created, and
 * locked, on first use). Temps made here are on the store's filesystem, so
 * they can be renamed into place.
 */
export function ownerTmp(layout: StoreLayout): string {
  const known = owned.get(layout.tmp);
  if (known) return known.dir;
  Deno.mkdirSync(layout.tmp, { recursive: true });
  const rand = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
  const dir = `${layout.tmp}/o-${Deno.pid}-${rand}`;
  // Made and locked under a name sweepers do not take for an owner directory, then renamed:
  // under its final name it is never seen unlocked (a sweeper that found it between a mkdir and
  // the lock would take it for a dead owner's and remove it).
  const making = `${layout.tmp}/n-${Deno.pid}-${rand}`;
  Deno.mkdirSync(making);
  const lock = tryLock(`${making}/${OWNER_LOCK}`, true);
  if (!lock) throw new Error(`cannot lock the new directory ${making}`); // nobody else knows it
  Deno.renameSync(making, dir);
  if (owned.size === 0) globalThis.addEventListener("unload", removeOwnedAtExit);
  owned.set(layout.tmp, { dir, lock });
  return dir;
}

/** A record of a temp outside the store; {@linkcode ExternalRecord.done} removes the record. */
export interface ExternalRecord {
  /** Removes the record (the temp was renamed into place or removed). Never throws. */
  done(): void;
}

/**
 * Records that this process is writing the temp `path` outside the store,
 * so that gc can remove it if the process is killed. Best effort: a store
 * that cannot be written gets no record.
 */
export function recordExternal(layout: StoreLayout, path: string): ExternalRecord {
  let record: string | undefined;
  try {
    record = `${ownerTmp(layout)}/ext-${crypto.randomUUID().slice(0, 8)}.json`;
    Deno.writeTextFileSync(record, JSON.stringify({ path }) + "\n");
  } catch (err) {
    if (errnoOf(err) === undefined) throw err;
    record = undefined; // e.g. a read-only or full store: the temp is simply not tracked
  }
  return {
    done() {
      if (record === undefined) return;
      try {
        Deno.removeSync(record);
      } catch (err) {
        // Best effort (called in `finally` blocks): a record left behind names a temp that is
        // gone, which gc then skips.
        if (errnoOf(err) === undefined) throw err;
      }
      record = undefined;
    },
  };
}

/**
 * Whether `path` exists and belongs to the user who wrote `record`: in a
 * shared store another user's record must not make this user's gc delete
 * this user's own temps elsewhere.
 */
async function sameOwner(path: string, record: string): Promise<boolean> {
  const [a, b] = await Promise.all([lstatInStore(path), lstatInStore(record)]);
  return a !== null && b !== null && a.uid !== null && a.uid === b.uid;
}

/** What {@linkcode sweepOwnerDir} removed. */
export interface SweptOwner {
  /** Bytes freed (the directory and the external temps). */
  size: number;
  /** External temps removed (absolute paths). */
  external: string[];
}

/**
 * Removes the owner directory `dir` and the external temps it records if
 * its process is gone (its `.owner.lock` can be taken without waiting).
 *
 * @param sizeOf Measures a tree before removal (for the report).
 * @returns What was removed, or null when the owner is alive.
 */
export async function sweepOwnerDir(
  dir: string,
  sizeOf: (path: string) => Promise<number>,
): Promise<SweptOwner | null> {
  const lock = tryLock(`${dir}/${OWNER_LOCK}`, true);
  if (!lock) return null;
  try {
    let size = 0;
    const external: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (!/^ext-[0-9a-f-]+\.json$/.test(e.name)) continue;
      let path: unknown;
      try {
        path = JSON.parse(await Deno.readTextFile(`${dir}/${e.name}`)).path;
      } catch (err) {
        if (err instanceof SyntaxError) continue; // half-written by the killed process: nothing made
        throw err;
      }
      if (typeof path !== "string" || !path.startsWith("/")) continue;
      if (!EXTERNAL_NAME.test(path.slice(path.lastIndexOf("/") + 1))) continue;
      if (!await sameOwner(path, `${dir}/${e.name}`)) continue;
      size += await sizeOf(path);
      await deleteTree(path);
      external.push(path);
    }
    size += await sizeOf(dir);
    await deleteTree(dir);
    return { size, external };
  } finally {
    lock.release();
  }
}

/**
 * Removes the owner directories of dead processes from `layout.tmp` (see
 * {@linkcode sweepOwnerDir}): called on the slow paths (an unpack, a build)
 * so that a store cleans up after killed processes without waiting for gc.
 * Never throws: what cannot be removed now is left for gc.
 */
export async function sweepDeadOwners(layout: StoreLayout): Promise<number> {
  let swept = 0;
  try {
    for (const e of Deno.readDirSync(layout.tmp)) {
      if (!OWNER_DIR_PATTERN.test(e.name)) continue;
      const dir = `${layout.tmp}/${e.name}`;
      if (owned.get(layout.tmp)?.dir === dir) continue;
      if (await sweepOwnerDir(dir, () => Promise.resolve(0))) swept++;
    }
  } catch (err) {
    // Only a courtesy on the slow paths (gc is the one that reports): a tmp/ not there yet, or an
    // owner directory of another user that cannot be removed, must not fail the unpack or build.
    if (errnoOf(err) === undefined) throw err;
  }
  return swept;
}
