/**
 * Sweeping the leftovers of killed processes from a store's `tmp/` (and the
 * temp files of `repodata/shards/`), for `poncho store gc`.
 *
 * Each entry of `tmp/` has an owner when its name says whose it is: an
 * unpack's `.poncho-tmp-<path-hash>-*` tree (owner: `locks/env-<id>.lock`),
 * a `poncho create` build dir `b-<spec-hash>-*` (owner:
 * `locks/create-<spec-hash>.lock`), an interrupted removal `gc-<id>-*`
 * (owner: `locks/env-<id>.lock`) and a process's temp directory `o-<pid>-*`
 * with the temps outside the store it records (owner: its own `.owner.lock`,
 * see `store/owner.ts`). Such an entry is removed only while holding its
 * owner's lock exclusively, taken without waiting (so never while its owner
 * works on it); anything else (or one whose lock file cannot be found), and
 * the temp files that killed writers leave beside the files they replace
 * (shards, automatic-run records, lock holder sidecars), only once it is
 * older than `leftoverDays` (default 1).
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import { sha256Hex } from "./index.ts";
import { OWNER_DIR_PATTERN, sweepOwnerDir } from "./owner.ts";
import { type HeldLock, tryLock } from "./lock.ts";
import { ID_PATTERN, storeSlot } from "./envs.ts";
import { deleteTree, unlessDenied } from "./remove.ts";
import { dirNames, goneFromStore, lstatInStore, treeSize } from "./walk.ts";

/** A leftover that gc removed (from `tmp/`, `locks/`, `index/` or `repodata/shards/`). */
export interface SweptLeftover {
  /** Its name in its directory. */
  name: string;
  /** Its absolute path. */
  path: string;
  /**
   * What left it: `unpack` (a killed unpack), `create` (a killed `poncho
   * create` build), `gc` (an interrupted removal), `owner` (the temp dir of a
   * killed process, with the temps it recorded outside the store), `lock`
   * (the lock file, in `locks/`, of something that no longer exists),
   * `record` (an index record of an environment, archive or spec whose
   * environment no longer exists) or `stale` (no owner found; older than
   * `leftoverDays`).
   */
  kind: "unpack" | "create" | "gc" | "owner" | "lock" | "record" | "stale";
  /** For `owner`: the temps outside the store that were removed with it. */
  external?: string[];
  /** Bytes of regular files in it. */
  size: number;
}

/** When a leftover without an owner is old enough to sweep. */
export interface SweepOptions {
  /** The current time (default: now). */
  now?: Date;
  /** Sweep an entry whose owner cannot be determined once it is older than this (default 1). */
  leftoverDays?: number;
  /**
   * Where to record what this user may not remove (another user's, in a
   * shared store), which is then left in place; without it, such a failure
   * is thrown.
   */
  denied?: string[];
}

/** Who may own an entry of `tmp/`, from the lock files that exist. */
interface Owners {
  /** The environment id of each `envs/<id>` path hash (an unpack's temp tree is named by it). */
  envByPathHash: Map<string, string>;
  /** Environment ids that have a lock file. */
  envIds: Set<string>;
  /** Spec hashes that have a create lock file. */
  createHashes: string[];
}

async function knownOwners(layout: StoreLayout): Promise<Owners> {
  const owners: Owners = { envByPathHash: new Map(), envIds: new Set(), createHashes: [] };
  for (const lock of await dirNames(layout.locks)) {
    const env = /^env-(.+)\.lock$/.exec(lock);
    if (env && ID_PATTERN.test(env[1])) {
      owners.envIds.add(env[1]);
      const hash = (await sha256Hex(storeSlot(layout, env[1]).path)).slice(0, 16);
      owners.envByPathHash.set(hash, env[1]);
    }
    const create = /^create-([0-9a-f]+)\.lock$/.exec(lock);
    if (create) owners.createHashes.push(create[1]);
  }
  return owners;
}

/** The kind of the `tmp/` entry `name` and the lock files of its owner (none: `stale`). */
function ownerOf(
  layout: StoreLayout,
  name: string,
  owners: Owners,
): { kind: SweptLeftover["kind"]; locks: string[] } {
  let m: RegExpExecArray | null;
  if ((m = /^\.poncho-tmp-([0-9a-f]{16})-/.exec(name)) && owners.envByPathHash.has(m[1])) {
    return {
      kind: "unpack",
      locks: [`${layout.locks}/env-${owners.envByPathHash.get(m[1])}.lock`],
    };
  }
  if ((m = /^gc-(.+)-[0-9a-f]{8}$/.exec(name)) && owners.envIds.has(m[1])) {
    return { kind: "gc", locks: [`${layout.locks}/env-${m[1]}.lock`] };
  }
  if ((m = /^b-([0-9a-f]{1,64})-[0-9a-f]+$/.exec(name))) {
    const prefix = m[1];
    const matching = owners.createHashes.filter((h) => h.startsWith(prefix));
    if (matching.length > 0) {
      return { kind: "create", locks: matching.map((h) => `${layout.locks}/create-${h}.lock`) };
    }
  }
  return { kind: "stale", locks: [] };
}

/** Removes `path` if it is older than `maxAgeMs`; returns its size, or undefined when kept. */
async function sweepIfOld(
  path: string,
  now: number,
  maxAgeMs: number,
): Promise<number | undefined> {
  const info = await lstatInStore(path);
  if (info === null) return undefined; // gone meanwhile
  if (now - (info.mtime?.getTime() ?? now) < maxAgeMs) return undefined;
  const size = await treeSize(path);
  await deleteTree(path);
  return size;
}

/**
 * Removes `path` while holding every lock of `locks` exclusively (taken
 * without waiting); returns its size, or undefined when an owner holds one
 * (it is working there) or the entry is gone.
 */
async function sweepIfUnowned(path: string, locks: string[]): Promise<number | undefined> {
  const held: HeldLock[] = [];
  try {
    for (const lock of locks) {
      const h = tryLock(lock, true);
      if (!h) return undefined; // its owner is working on it
      held.push(h);
    }
    // Owner locks held: nobody can be writing there, and nobody will.
    if (await goneFromStore(path)) return undefined; // finished meanwhile
    const size = await treeSize(path);
    await deleteTree(path);
    return size;
  } finally {
    for (const h of held) h.release();
  }
}

/** Sweeps one entry of `tmp/`; returns what it removed, or undefined. */
async function sweepTmpEntry(
  layout: StoreLayout,
  name: string,
  owners: Owners,
  now: number,
  maxAgeMs: number,
): Promise<SweptLeftover | undefined> {
  const path = `${layout.tmp}/${name}`;
  if (OWNER_DIR_PATTERN.test(name)) {
    const done = await sweepOwnerDir(path, treeSize);
    return done
      ? { name, path, kind: "owner", size: done.size, external: done.external }
      : undefined;
  }
  const { kind, locks } = ownerOf(layout, name, owners);
  const size = kind === "stale"
    ? await sweepIfOld(path, now, maxAgeMs)
    : await sweepIfUnowned(path, locks);
  return size === undefined ? undefined : { name, path, kind, size };
}

/**
 * Removes the leftovers of killed processes from the store's `tmp/` (see
 * the module documentation): an entry with a known owner only while that
 * owner's lock is free (taken exclusively without waiting, held during the
 * removal), any other entry once it is older than `leftoverDays` (default 1).
 */
export async function sweepLeftovers(
  layout: StoreLayout,
  options: SweepOptions = {},
): Promise<SweptLeftover[]> {
  const now = (options.now ?? new Date()).getTime();
  const maxAgeMs = (options.leftoverDays ?? 1) * 86_400_000;
  const names = await dirNames(layout.tmp);
  if (names.length === 0) return [];
  const owners = await knownOwners(layout);
  const swept: SweptLeftover[] = [];
  for (const name of names) {
    const done = await unlessDenied(
      options.denied,
      `${layout.tmp}/${name}`,
      () => sweepTmpEntry(layout, name, owners, now, maxAgeMs),
    );
    if (done) swept.push(done);
  }
  return swept;
}

/**
 * The temp file of a writer that replaces a file atomically beside it:
 * `.<name>.tmp-<8 hex>` (`lib/fs/atomic.ts`), and the forms earlier versions
 * left (`<name>.tmp-<8 hex>` for shards, `<name>.<pid>.<8 hex>.tmp` for
 * automatic-run records).
 */
export const WRITER_TEMP = /\.tmp-[0-9a-f]{8}$|\.\d+\.[0-9a-f-]{8}\.tmp$/;

/**
 * Removes the temp files that killed writers left beside the files they
 * replace, in the store directories written that way (`repodata/shards/`,
 * `index/auto/`, `locks/`): each is renamed into place the moment it is
 * written, so one older than `leftoverDays` (default 1) has no writer.
 */
export async function sweepWriterTemps(
  layout: StoreLayout,
  options: SweepOptions = {},
): Promise<SweptLeftover[]> {
  const now = (options.now ?? new Date()).getTime();
  const maxAgeMs = (options.leftoverDays ?? 1) * 86_400_000;
  const swept: SweptLeftover[] = [];
  for (const dir of [`${layout.repodata}/shards`, `${layout.index}/auto`, layout.locks]) {
    for (const name of await dirNames(dir)) {
      if (!WRITER_TEMP.test(name)) continue;
      const path = `${dir}/${name}`;
      const size = await unlessDenied(options.denied, path, () => sweepIfOld(path, now, maxAgeMs));
      if (size !== undefined) swept.push({ name, path, kind: "stale", size });
    }
  }
  return swept;
}
