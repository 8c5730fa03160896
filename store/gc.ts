/**
 * `poncho store gc`: collecting what a store no longer needs.
 *
 * First the leftovers of killed processes are swept (`store/sweep.ts`), then,
 * least recently used first across the whole store, what is older than
 * `olderThanDays` and then what makes the store larger than `maxSize` is
 * removed: environments (`envs/`), the build caches (`store/cache_gc.ts`:
 * archives, packages, downloads, repodata) and old runtimes of the single
 * file (`store/runtime_gc.ts`). Last, the records and lock files of what no
 * longer exists go (`store/records_gc.ts`, `store/dead_locks.ts`).
 *
 * An environment is removed only while holding its exclusive lock, taken
 * without waiting: one that a running `poncho run` holds (shared lock) or
 * that is being unpacked (exclusive lock) is skipped. Cache items are removed
 * only while holding the build-cache lock exclusively (every build holds it
 * shared). A runtime is removed only when nothing may be running from it.
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import { indexPath, removeIndex } from "./index.ts";
import { type HeldLock, tryLock } from "./lock.ts";
import {
  buildCacheLockPath,
  type CacheBucket,
  type CacheItem,
  cacheItems,
  removeCacheItem,
} from "./cache_gc.ts";
import { storeSlot } from "./envs.ts";
import { deleteTree, moveAside, unlessDenied } from "./remove.ts";
import { listEnvs, type StoreEntry } from "./list.ts";
import { sweepLeftovers, sweepWriterTemps, type SweptLeftover } from "./sweep.ts";
import { sweepDeadLocks } from "./dead_locks.ts";
import { sweepDeadRecords } from "./records_gc.ts";
import { removeRuntime, runtimeInUse, runtimeItems, runtimesRunning } from "./runtime_gc.ts";

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

/** A build-cache item (or runtime) as {@link gc} reports it. */
export interface CacheReport {
  /** Its bucket (`archives`, `pkgs`, `downloads`, `repodata`, `runtime`). */
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

/** What {@link gc} did. */
export interface GcResult {
  /** Removed environments. */
  removed: StoreEntry[];
  /** Environments that qualified but were in use (locked), so kept. */
  skipped: StoreEntry[];
  /** Build-cache items removed (archives, packages, downloads, repodata, runtimes). */
  removedCache: CacheReport[];
  /** Build-cache items that qualified but were kept: a build was running (or a runtime in use). */
  skippedCache: CacheReport[];
  /** Whether this was a dry run (nothing removed). */
  dryRun: boolean;
  /** Leftovers of killed processes removed (from `tmp/`), and dead locks and records. */
  swept: SweptLeftover[];
  /** Bytes freed (environments, cache items and leftovers; would be, in a dry run). */
  freed: number;
  /**
   * What qualified but this user may not remove (another user's, in a
   * shared store: permission denied), so left in place for its owner's gc.
   */
  denied: string[];
}

/**
 * Removes one environment if nobody holds its lock; returns whether it did.
 * With `denied`, what this user may not remove (another user's, in a shared
 * store) is recorded there: undefined when the environment itself stays
 * (its lock file or directory refused, nothing changed); true when it left
 * `envs/` but its record or the moved tree (`tmp/gc-*`) could not go.
 */
export async function removeEnv(
  layout: StoreLayout,
  id: string,
  denied?: string[],
): Promise<boolean | undefined> {
  const slot = storeSlot(layout, id);
  const lock = await unlessDenied(denied, slot.path, () => Promise.resolve(tryLock(slot.lockPath)));
  if (lock === undefined) return undefined;
  if (lock === null) return false;
  try {
    await Deno.mkdir(layout.tmp, { recursive: true });
    const trash = `${layout.tmp}/gc-${id}-${crypto.randomUUID().slice(0, 8)}`;
    // Out of envs/ first (so a refusal changes nothing), then its record, then the tree.
    const moved = await unlessDenied(denied, slot.path, () => moveAside(slot.path, trash));
    if (moved === undefined) return undefined;
    await unlessDenied(denied, indexPath(layout, id), () => removeIndex(layout, id));
    if (moved) await unlessDenied(denied, trash, () => deleteTree(trash));
    return true;
  } finally {
    lock.release();
  }
}

type Candidate =
  | { kind: "env"; env: StoreEntry; size: number; lastUsed: number }
  | { kind: "cache"; item: CacheItem; size: number; lastUsed: number };

/** Everything gc may remove, least recently used first. */
async function candidates(layout: StoreLayout): Promise<Candidate[]> {
  const cache = (item: CacheItem): Candidate => ({
    kind: "cache",
    item,
    size: item.size,
    lastUsed: item.lastUsed.getTime(),
  });
  return [
    ...(await listEnvs(layout)).map((env): Candidate => ({
      kind: "env",
      env,
      size: env.size,
      lastUsed: env.lastUsed.getTime(),
    })),
    ...(await cacheItems(layout)).map(cache),
    ...(await runtimeItems(layout)).map(cache),
  ].sort((a, b) => a.lastUsed - b.lastUsed);
}

function report(i: CacheItem): CacheReport {
  return { bucket: i.bucket, name: i.name, path: i.path, size: i.size, lastUsed: i.lastUsed };
}

/**
 * Removes candidates one at a time (see {@link removeCandidates}), holding
 * the locks it needs: the build-cache lock, taken on the first cache item to
 * remove and kept until {@link Collector.close}.
 */
class Collector {
  readonly removed: StoreEntry[] = [];
  readonly skipped: StoreEntry[] = [];
  readonly removedCache: CacheReport[] = [];
  readonly skippedCache: CacheReport[] = [];
  readonly denied: string[] = [];
  #cacheLock: HeldLock | null | undefined;
  #running: Promise<Set<string>> | undefined;

  constructor(readonly layout: StoreLayout, readonly dryRun: boolean, readonly now: number) {}

  /**
   * Removes (or, in a dry run, would remove) `c`; returns whether it did.
   * What this user may not remove is left, in {@link denied}.
   */
  async remove(c: Candidate): Promise<boolean> {
    if (c.kind === "env") {
      const done = this.dryRun || await removeEnv(this.layout, c.env.id, this.denied);
      if (done !== undefined) (done ? this.removed : this.skipped).push(c.env);
      return done === true;
    }
    const item = c.item;
    const done = item.bucket === "runtime"
      ? await unlessDenied(this.denied, item.path, () => this.#removeRuntime(item))
      : await this.#removeCacheItem(item);
    if (done !== undefined) (done ? this.removedCache : this.skippedCache).push(report(item));
    return done === true;
  }

  /**
   * Removes a cache item under the build-cache lock: false while a build
   * holds it (or it is another user's lock file, then listed once in
   * {@link denied}); else as {@link removeCacheItem}.
   */
  async #removeCacheItem(item: CacheItem): Promise<boolean | undefined> {
    if (this.dryRun) return true;
    if (this.#cacheLock === undefined) {
      const path = buildCacheLockPath(this.layout);
      this.#cacheLock = await unlessDenied(this.denied, path, () =>
        Promise.resolve(tryLock(path))) ??
        null;
    }
    if (this.#cacheLock === null) return false; // a build is running (or the lock is not ours)
    return await removeCacheItem(item, this.denied);
  }

  async #removeRuntime(item: CacheItem): Promise<boolean> {
    this.#running ??= runtimesRunning(this.layout);
    const running = () => this.#running!;
    if (await runtimeInUse(this.layout, item, this.now, running)) return false;
    if (!this.dryRun) await removeRuntime(this.layout, item);
    return true;
  }

  /** Releases the build-cache lock, if taken. */
  close(): void {
    this.#cacheLock?.release();
  }
}

/**
 * Removes, least recently used first, what is older than `olderThanDays`
 * and then what makes the store larger than `maxSize` (in use: kept, and
 * counted).
 */
async function removeCandidates(
  list: Candidate[],
  options: GcOptions,
  collector: Collector,
): Promise<void> {
  const limit = options.olderThanDays === undefined
    ? -Infinity
    : collector.now - options.olderThanDays * 86_400_000;
  let total = list.reduce((sum, c) => sum + (c.lastUsed < limit ? 0 : c.size), 0);
  for (const c of list) {
    const byAge = c.lastUsed < limit;
    const bySize = options.maxSize !== undefined && total > options.maxSize;
    if (!byAge && !bySize) continue;
    const done = await collector.remove(c);
    if (done && !byAge) total -= c.size;
    if (!done && byAge) total += c.size; // in use, so it stays and counts
  }
}

/**
 * Sweeps the leftovers of killed processes, then removes, least recently
 * used first across the whole store (environments, the build caches and old
 * runtimes), what is older than `olderThanDays` and then what makes the
 * store larger than `maxSize`, then the records and lock files of what no
 * longer exists (see the module documentation). `dryRun` removes nothing and
 * reports what would go.
 */
export async function gc(layout: StoreLayout, options: GcOptions): Promise<GcResult> {
  const dryRun = options.dryRun === true;
  const collector = new Collector(layout, dryRun, (options.now ?? new Date()).getTime());
  const sweep = { ...options, denied: collector.denied };
  const swept = dryRun
    ? []
    : [...await sweepLeftovers(layout, sweep), ...await sweepWriterTemps(layout, sweep)];
  try {
    await removeCandidates(await candidates(layout), options, collector);
  } finally {
    collector.close();
  }
  if (!dryRun) {
    // After the removals, so that their records and locks go too; records first (they take locks).
    swept.push(
      ...await sweepDeadRecords(layout, collector.denied),
      ...await sweepDeadLocks(layout, collector.denied),
    );
  }
  const { removed, skipped, removedCache, skippedCache, denied } = collector;
  const freed = removed.reduce((sum, e) => sum + e.size, 0) +
    removedCache.reduce((sum, e) => sum + e.size, 0) +
    swept.reduce((sum, e) => sum + e.size, 0);
  return { removed, skipped, removedCache, skippedCache, swept, freed, dryRun, denied };
}
