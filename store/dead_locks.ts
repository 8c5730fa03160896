/**
 * Removing the lock files (and holder sidecars) of things that no longer
 * exist, for `poncho store gc`: `env-<id>.lock` without `envs/<id>`,
 * `pkg-<sha>.lock` without `pkgs/<sha>`, `create-<hash>.lock` without a
 * cached archive of that spec, any free `source-<key>.lock` (an archive's
 * identity lock guards only a resolution in progress; one removed under a
 * launcher that opened it costs a second identity read, never a second
 * unpack: the env lock holds), and a `<lock>.holder` sidecar whose lock file
 * is gone. Each lock file only while holding it exclusively (lockers check
 * after locking that the file is still the one at its path, see
 * `store/lock.ts`).
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import { holderPath, tryLock } from "./lock.ts";
import { removeIfExists, unlessDenied } from "./remove.ts";
import type { SweptLeftover } from "./sweep.ts";
import { dirNames, goneFromStore } from "./walk.ts";

/** Whether the lock file `name` (of `names`, the listing of `locks/`) guards nothing any more. */
async function isDead(
  layout: StoreLayout,
  name: string,
  names: Set<string>,
  archives: Set<string>,
): Promise<boolean> {
  let m: RegExpExecArray | null;
  if ((m = /^env-(.+)\.lock$/.exec(name))) return await goneFromStore(`${layout.envs}/${m[1]}`);
  if ((m = /^pkg-([0-9a-f]{64})\.lock$/.exec(name))) {
    return await goneFromStore(`${layout.pkgs}/${m[1]}`);
  }
  if ((m = /^create-([0-9a-f]+)\.lock$/.exec(name))) return !archives.has(m[1]);
  if (/^source-[0-9a-f]{32}\.lock$/.test(name)) return true; // free means unused
  if ((m = /^(.+\.lock)\.holder$/.exec(name))) return !names.has(m[1]);
  return false;
}

/**
 * Removes the dead lock file `path` if nobody holds it, then its holder
 * record; returns whether it removed the lock (its holder record, when this
 * user may not remove it, goes to `denied`).
 */
async function removeFreeLock(path: string, denied?: string[]): Promise<boolean> {
  const lock = tryLock(path, true);
  if (!lock) return false; // in use: someone is creating what it guards
  try {
    await removeIfExists(path);
    await unlessDenied(denied, holderPath(path), () => removeIfExists(holderPath(path)));
  } finally {
    lock.release();
  }
  return true;
}

/**
 * Removes the lock files of things that no longer exist (see the module
 * documentation). With `denied`, a lock file this user may not remove
 * (another user's, in a shared store) is recorded there and left.
 */
export async function sweepDeadLocks(
  layout: StoreLayout,
  denied?: string[],
): Promise<SweptLeftover[]> {
  const names = await dirNames(layout.locks);
  const known = new Set(names);
  const archives = new Set((await dirNames(layout.archives)).map((n) => n.split(".")[0]));
  const swept: SweptLeftover[] = [];
  for (const name of names) {
    if (!await isDead(layout, name, known, archives)) continue;
    const path = `${layout.locks}/${name}`;
    const remove = name.endsWith(".holder")
      ? () => removeIfExists(path).then(() => true)
      : () => removeFreeLock(path, denied);
    const gone = await unlessDenied(denied, path, remove);
    if (gone) swept.push({ name, path, kind: "lock", size: 0 });
  }
  return swept;
}
