/**
 * Listing and garbage-collecting the environments of a store.
 *
 * `gc` removes an environment only while holding its exclusive lock, taken
 * without waiting: an environment that a running `poncho run` holds (shared
 * lock) or that is being unpacked (exclusive lock) is skipped.
 *
 * `gc` also sweeps the leftovers of killed processes from `tmp/`: an
 * unpack's `.poncho-tmp-<path-hash>-*` tree (owner: `locks/env-<id>.lock`),
 * a `poncho create` build dir `b-<spec-hash>-*` (owner:
 * `locks/create-<spec-hash>.lock`), an interrupted removal `gc-<id>-*`
 * (owner: `locks/env-<id>.lock`) and a process's temp directory `o-<pid>-*`
 * with the temps outside the store it records (owner: its own `.owner.lock`,
 * see `store/owner.ts`), each only while holding its owner's lock
 * exclusively, taken without waiting; anything else (or one whose lock file
 * cannot be found) only once it is older than a day.
 *
 * An environment in `envs/` that has a valid marker but no index record (a
 * process killed between the rename and the index write) is adopted: its
 * record is written from the marker, so that `list` and `gc` see it.
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import { type IndexEntry, readIndex, removeIndex, writeIndex } from "./index.ts";
import { readMarker } from "./marker.ts";
import { OWNER_DIR_PATTERN, sweepOwnerDir } from "./owner.ts";
import { type HeldLock, tryLock } from "./lock.ts";
import {
  buildCacheLockPath,
  type CacheBucket,
  type CacheItem,
  cacheItems,
  removeCacheItem,
} from "./cache_gc.ts";
import { ID_PATTERN, storeSlot } from "./envs.ts";
import { deleteTree, discardTree } from "./remove.ts";
import { sha256Hex } from "./index.ts";

/** One environment of the store, as `poncho store list` shows it. */
export interface StoreEntry extends IndexEntry {
  /** Absolute path of the environment. */
  path: string;
}

/**
 * Writes the index record of every ready environment in `envs/` that has
 * none (from its marker); returns the adopted ids.
 */
export async function adoptEnvs(layout: StoreLayout, known: Set<string>): Promise<string[]> {
  const adopted: string[] = [];
  for (const id of await readNames(layout.envs)) {
    if (known.has(id) || !ID_PATTERN.test(id)) continue;
    const marker = readMarker(`${layout.envs}/${id}`, id);
    if (!marker) continue; // not ready: an unpack in progress, or its leftover (swept by its lock)
    await writeIndex(layout, {
      id,
      source: marker.source,
      created: marker.unpacked,
      size: marker.size,
    });
    adopted.push(id);
  }
  return adopted;
}

/** The store's environments, most recently used first (adopting any without a record). */
export async function listEnvs(layout: StoreLayout): Promise<StoreEntry[]> {
  let entries = await readIndex(layout);
  const adopted = await adoptEnvs(layout, new Set(entries.map((e) => e.id)));
  if (adopted.length > 0) entries = await readIndex(layout);
  return entries
    .map((e) => ({ ...e, path: `${layout.envs}/${e.id}` }))
    .sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

/** What to collect. With neither limit, nothing is removed (leftovers are swept). */
export interface GcOptions {
  /** Remove environments not used for this many days. */
  olderThanDays?: number;
  /** Then remove least recently used environments until the total is at most this (bytes). */
  maxSize?: number;
  /** The current time (default: now). */
  now?: Date;
  /**
   * Sweep an entry of `tmp/` whose owner cannot be determined once it is
   * older than this many days (default 1).
   */
  leftoverDays?: number;
  /** Remove nothing (no sweep either); report what would be removed. */
  dryRun?: boolean;
}

/** What {@link gc} did. */
export interface GcResult {
  /** Removed environments. */
  removed: StoreEntry[];
  /** Environments that qualified but were in use (locked), so kept. */
  skipped: StoreEntry[];
  /** Build-cache items removed (archives, packages, downloads, repodata). */
  removedCache: CacheReport[];
  /** Build-cache items that qualified but were kept: a build was running. */
  skippedCache: CacheReport[];
  /** Whether this was a dry run (nothing removed). */
  dryRun: boolean;
  /** Leftovers of killed processes removed from `tmp/`. */
  swept: {
    /** Its name in `tmp/`. */
    name: string;
    /** Its absolute path. */
    path: string;
    /**
     * What left it: `unpack` (a killed unpack), `create` (a killed `poncho
     * create` build), `gc` (an interrupted removal), `owner` (the temp dir
     * of a killed process, with the temps it recorded outside the store),
     * `lock` (the lock file, in `locks/`, of something that no longer exists)
     * or `stale` (no owner found; older than `leftoverDays`).
     */
    kind: "unpack" | "create" | "gc" | "owner" | "lock" | "stale";
    /** For `owner`: the temps outside the store that were removed with it. */
    external?: string[];
    /** Bytes of regular files in it. */
    size: number;
  }[];
  /** Bytes freed (environments, cache items and leftovers; would be, in a dry run). */
  freed: number;
}

/** A leftover of `tmp/` that {@link gc} removed. */
export type SweptLeftover = GcResult["swept"][number];

/** Removes one environment if nobody holds its lock; returns whether it did. */
export async function removeEnv(layout: StoreLayout, id: string): Promise<boolean> {
  const slot = storeSlot(layout, id);
  const lock = tryLock(slot.lockPath, true);
  if (!lock) return false;
  try {
    await Deno.mkdir(layout.tmp, { recursive: true });
    await removeIndex(layout, id); // first: an env without a record is never listed as usable
    await discardTree(slot.path, `${layout.tmp}/gc-${id}-${crypto.randomUUID().slice(0, 8)}`);
    return true;
  } finally {
    lock.release();
  }
}

async function readNames(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

async function treeSize(path: string): Promise<number> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch {
    return 0;
  }
  if (!info.isDirectory) return info.isFile ? info.size : 0;
  let total = 0;
  try {
    for await (const e of Deno.readDir(path)) total += await treeSize(`${path}/${e.name}`);
  } catch { /* unreadable or gone: count what was seen */ }
  return total;
}

/**
 * Removes the leftovers of killed processes from the store's `tmp/` (see
 * the module documentation): an entry with a known owner only while that
 * owner's lock is free (taken exclusively without waiting, held during the
 * removal), any other entry once it is older than `leftoverDays` (default 1).
 */
export async function sweepLeftovers(
  layout: StoreLayout,
  options: { now?: Date; leftoverDays?: number } = {},
): Promise<SweptLeftover[]> {
  const now = (options.now ?? new Date()).getTime();
  const maxAge = (options.leftoverDays ?? 1) * 86_400_000;
  const names = await readNames(layout.tmp);
  if (names.length === 0) return [];
  const lockNames = await readNames(layout.locks);
  // An unpack's temp tree is named by a hash of its final path, envs/<id>.
  const envByPathHash = new Map<string, string>();
  const envIds = new Set<string>();
  const createHashes: string[] = [];
  for (const lock of lockNames) {
    const env = /^env-(.+)\.lock$/.exec(lock);
    if (env && ID_PATTERN.test(env[1])) {
      envIds.add(env[1]);
      const hash = (await sha256Hex(storeSlot(layout, env[1]).path)).slice(0, 16);
      envByPathHash.set(hash, env[1]);
    }
    const create = /^create-([0-9a-f]+)\.lock$/.exec(lock);
    if (create) createHashes.push(create[1]);
  }

  const swept: SweptLeftover[] = [];
  for (const name of names) {
    const path = `${layout.tmp}/${name}`;
    if (OWNER_DIR_PATTERN.test(name)) {
      const done = await sweepOwnerDir(path, treeSize);
      if (done) swept.push({ name, path, kind: "owner", size: done.size, external: done.external });
      continue;
    }
    let kind: SweptLeftover["kind"] = "stale";
    let owners: string[] = [];
    let m: RegExpExecArray | null;
    if ((m = /^\.poncho-tmp-([0-9a-f]{16})-/.exec(name)) && envByPathHash.has(m[1])) {
      kind = "unpack";
      owners = [`${layout.locks}/env-${envByPathHash.get(m[1])}.lock`];
    } else if ((m = /^gc-(.+)-[0-9a-f]{8}$/.exec(name)) && envIds.has(m[1])) {
      kind = "gc";
      owners = [`${layout.locks}/env-${m[1]}.lock`];
    } else if ((m = /^b-([0-9a-f]{1,64})-[0-9a-f]+$/.exec(name))) {
      const prefix = m[1];
      const matching = createHashes.filter((h) => h.startsWith(prefix));
      if (matching.length > 0) {
        kind = "create";
        owners = matching.map((h) => `${layout.locks}/create-${h}.lock`);
      }
    }
    if (kind === "stale") {
      let mtime: number;
      try {
        mtime = (await Deno.lstat(path)).mtime?.getTime() ?? now;
      } catch {
        continue; // gone meanwhile
      }
      if (now - mtime < maxAge) continue;
      const size = await treeSize(path);
      await deleteTree(path);
      swept.push({ name, path, kind, size });
      continue;
    }
    const held = [];
    try {
      for (const lock of owners) {
        const h = tryLock(lock, true);
        if (!h) break; // its owner is working on it
        held.push(h);
      }
      if (held.length < owners.length) continue;
      // Owner lock held: nobody can be writing there, and nobody will.
      try {
        await Deno.lstat(path);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue; // finished and removed meanwhile
        throw err;
      }
      const size = await treeSize(path);
      await deleteTree(path);
      swept.push({ name, path, kind, size });
    } finally {
      for (const h of held) h.release();
    }
  }
  return swept;
}

/**
 * Removes the lock files (and holder sidecars) of things that no longer
 * exist: `env-<id>.lock` without `envs/<id>`, `pkg-<sha>.lock` without
 * `pkgs/<sha>`, `create-<hash>.lock` without a cached archive of that spec,
 * and any free `source-<key>.lock` (an archive's identity lock guards only
 * a resolution in progress; one removed under a launcher that opened it
 * costs a second identity read, never a second unpack: the env lock holds).
 * Each only while holding it exclusively (lockers check after locking that
 * the file is still the one at its path, see `store/lock.ts`).
 */
export async function sweepDeadLocks(layout: StoreLayout): Promise<SweptLeftover[]> {
  const names = await readNames(layout.locks);
  const archives = new Set((await readNames(layout.archives)).map((n) => n.split(".")[0]));
  const swept: SweptLeftover[] = [];
  const gone = (p: string) =>
    Deno.lstat(p).then(() => false, (err) => {
      if (err instanceof Deno.errors.NotFound) return true;
      throw err; // unreadable is not gone: say so rather than delete its lock
    });
  for (const name of names) {
    const path = `${layout.locks}/${name}`;
    let m: RegExpExecArray | null;
    let dead = false;
    if ((m = /^env-(.+)\.lock$/.exec(name))) dead = await gone(`${layout.envs}/${m[1]}`);
    else if ((m = /^pkg-([0-9a-f]{64})\.lock$/.exec(name))) {
      dead = await gone(`${layout.pkgs}/${m[1]}`);
    } else if ((m = /^create-([0-9a-f]+)\.lock$/.exec(name))) dead = !archives.has(m[1]);
    else if (/^source-[0-9a-f]{32}\.lock$/.test(name)) dead = true; // free means unused else if ((m = /^(.+\.lock)\.holder$/.exec(name))) dead = !names.includes(m[1]);
    if (!dead) continue;
    if (name.endsWith(".holder")) {
      await Deno.remove(path).catch(() => {});
      swept.push({ name, path, kind: "lock", size: 0 });
      continue;
    }
    const lock = tryLock(path, true);
    if (!lock) continue; // in use: someone is creating what it guards
    try {
      await Deno.remove(path).catch(() => {});
      await Deno.remove(`${path}.holder`).catch(() => {});
    } finally {
      lock.release();
    }
    swept.push({ name, path, kind: "lock", size: 0 });
  }
  return swept;
}

/** A build-cache item as {@link gc} reports it. */
export interface CacheReport {
  /** Its bucket (`archives`, `pkgs`, `downloads`, `repodata`). */
  bucket: CacheBucket;
  /** Its name in the bucket. */
  name: string;
  /** Its path. */
  path: string;
  /** Bytes. */
  size: number;
  /** Last use. */
  lastUsed: Date;
}

type Candidate =
  | { kind: "env"; env: StoreEntry; size: number; lastUsed: number }
  | { kind: "cache"; item: CacheItem; size: number; lastUsed: number };

/**
 * Sweeps the leftovers of killed processes from `tmp/`, then removes, least
 * recently used first across the whole store (environments and the build
 * caches: archives, packages, downloads, repodata), what is older than
 * `olderThanDays` and then what makes the store larger than `maxSize`.
 * Environments in use are skipped; cache items are skipped while a build
 * runs (it holds the build-cache lock). `dryRun` removes nothing and
 * reports what would go.
 */
export async function gc(layout: StoreLayout, options: GcOptions): Promise<GcResult> {
  const dryRun = options.dryRun === true;
  const swept = dryRun ? [] : await sweepLeftovers(layout, options);
  const now = (options.now ?? new Date()).getTime();
  const candidates: Candidate[] = [
    ...(await listEnvs(layout)).map((env) => ({
      kind: "env" as const,
      env,
      size: env.size,
      lastUsed: env.lastUsed.getTime(),
    })),
    ...(await cacheItems(layout)).map((item) => ({
      kind: "cache" as const,
      item,
      size: item.size,
      lastUsed: item.lastUsed.getTime(),
    })),
  ].sort((a, b) => a.lastUsed - b.lastUsed);
  const removed: StoreEntry[] = [];
  const skipped: StoreEntry[] = [];
  const removedCache: CacheReport[] = [];
  const skippedCache: CacheReport[] = [];
  const report = (i: CacheItem): CacheReport => ({
    bucket: i.bucket,
    name: i.name,
    path: i.path,
    size: i.size,
    lastUsed: i.lastUsed,
  });
  const limit = options.olderThanDays === undefined
    ? -Infinity
    : now - options.olderThanDays * 86_400_000;
  let total = candidates.reduce((sum, c) => sum + (c.lastUsed < limit ? 0 : c.size), 0);
  let cacheLock: HeldLock | null | undefined; // taken on the first cache item to remove
  try {
    for (const c of candidates) {
      const byAge = c.lastUsed < limit;
      const bySize = options.maxSize !== undefined && total > options.maxSize;
      if (!byAge && !bySize) continue;
      let done: boolean;
      if (c.kind === "env") {
        done = dryRun || await removeEnv(layout, c.env.id);
        (done ? removed : skipped).push(c.env);
      } else {
        if (!dryRun && cacheLock === undefined) {
          cacheLock = tryLock(buildCacheLockPath(layout), true);
        }
        done = dryRun || cacheLock !== null;
        if (done && !dryRun) await removeCacheItem(c.item);
        (done ? removedCache : skippedCache).push(report(c.item));
      }
      if (done && !byAge) total -= c.size;
      if (!done && byAge) total += c.size; // in use, so it stays and counts
    }
  } finally {
    cacheLock?.release();
  }
  if (!dryRun) swept.push(...await sweepDeadLocks(layout)); // after removals: their locks go too
  const freed = removed.reduce((sum, e) => sum + e.size, 0) +
    removedCache.reduce((sum, e) => sum + e.size, 0) +
    swept.reduce((sum, e) => sum + e.size, 0);
  return { removed, skipped, removedCache, skippedCache, swept, freed, dryRun };
}

/** Parses a size like `500M`, `20G`, `1.5T`, `1024` (bytes; K/M/G/T are powers of 1024). */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?$/i.exec(text.trim());
  if (!m) return undefined;
  const power = " KMGT".indexOf(m[2].toUpperCase() || " ");
  return Math.floor(Number(m[1]) * 1024 ** power);
}

/** Formats bytes for humans (`1.2G`). */
export function formatSize(bytes: number): string {
  const units = ["B", "K", "M", "G", "T"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes}B` : `${value.toFixed(value < 10 ? 1 : 0)}${units[unit]}`;
}
