/**
 * The build caches of a store, for `poncho store gc` and `poncho store
 * list`: cached environment archives (`archives/`, with their digest
 * records in `index/archives/`), extracted packages (`pkgs/`), downloaded
 * package archives (`downloads/`) and cached repodata (`repodata/`: each
 * subdir's meta with its data entries, and each cached shard).
 *
 * Each item's last use is its mtime: a reuse touches it (a create reusing a
 * cached archive, a build linking from an extracted package or reusing a
 * download). Every build holds a shared lock on `locks/build-cache.lock`
 * for as long as it reads these caches; gc removes cache items only while
 * holding it exclusively (taken without waiting), so a running build never
 * loses a package under it.
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import { archiveRecordPath } from "./index.ts";
import { deleteTree, unlessDenied } from "./remove.ts";
import { dirEntries as entries, treeSize } from "./walk.ts";
import { WRITER_TEMP } from "./sweep.ts";

/** A build-cache bucket, or `runtime` (the single file's runtimes, see `store/runtime_gc.ts`). */
export type CacheBucket = "archives" | "pkgs" | "downloads" | "repodata" | "runtime";

/** One removable item of a build cache. */
export interface CacheItem {
  /** Its bucket. */
  bucket: CacheBucket;
  /** Its name in the bucket (for repodata: the cache key). */
  name: string;
  /** Its main path. */
  path: string;
  /** Every path removed with it (the main path first). */
  paths: string[];
  /** Bytes of regular files. */
  size: number;
  /** When it was last used (its mtime). */
  lastUsed: Date;
}

/** The lock every build holds shared while it uses the build caches. */
export function buildCacheLockPath(layout: StoreLayout): string {
  return `${layout.locks}/build-cache.lock`;
}

async function mtime(path: string): Promise<Date> {
  return (await Deno.lstat(path)).mtime ?? new Date(0);
}

/** Every item of the build caches (temps of old versions, dot-names, left out). */
export async function cacheItems(layout: StoreLayout): Promise<CacheItem[]> {
  const items: CacheItem[] = [];
  const add = async (bucket: CacheBucket, name: string, paths: string[]) => {
    try {
      let size = 0;
      for (const p of paths) size += await treeSize(p);
      items.push({ bucket, name, path: paths[0], paths, size, lastUsed: await mtime(paths[0]) });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err; // removed meanwhile
    }
  };
  for (const e of await entries(layout.archives)) {
    if (e.name.startsWith(".")) continue;
    await add("archives", e.name, [
      `${layout.archives}/${e.name}`,
      archiveRecordPath(layout, e.name),
    ]);
  }
  for (const e of await entries(layout.pkgs)) {
    if (/^[0-9a-f]{64}$/.test(e.name)) await add("pkgs", e.name, [`${layout.pkgs}/${e.name}`]);
  }
  for (const e of await entries(layout.downloads)) {
    if (!e.name.startsWith(".")) await add("downloads", e.name, [`${layout.downloads}/${e.name}`]);
  }
  // repodata/: per subdir `<key>.meta.json` with its `<key>-*` data entries (one item), and
  // content-addressed `shards/<sha256>.json` (one item each: a missing shard is fetched again).
  const repo = await entries(layout.repodata);
  const keys = repo.map((e) => /^(.+)\.meta\.json$/.exec(e.name)?.[1]).filter((k) =>
    k !== undefined
  );
  const grouped = new Set<string>();
  for (const key of keys) {
    const members = repo.map((e) => e.name).filter((n) =>
      n === `${key}.meta.json` || n.startsWith(`${key}-`) || n === `${key}.json`
    );
    for (const n of members) grouped.add(n);
    await add(
      "repodata",
      key,
      [`${key}.meta.json`, ...members.filter((n) => n !== `${key}.meta.json`)].map((n) =>
        `${layout.repodata}/${n}`
      ),
    );
  }
  for (const e of repo) {
    if (grouped.has(e.name) || e.name.startsWith(".")) continue;
    if (e.name === "shards" && e.isDirectory) {
      for (const s of await entries(`${layout.repodata}/shards`)) {
        if (!s.name.startsWith(".") && !WRITER_TEMP.test(s.name)) {
          await add("repodata", `shards/${s.name}`, [`${layout.repodata}/shards/${s.name}`]);
        }
      }
    } else await add("repodata", e.name, [`${layout.repodata}/${e.name}`]);
  }
  return items;
}

/**
 * Removes a cache item (all its paths). Hold the build-cache lock
 * exclusively. With `denied`, a path this user may not remove (another
 * user's, in a shared store) is recorded there and left: undefined when the
 * item itself (its first path) stays, true when only another of its paths
 * (a digest record) does.
 */
export async function removeCacheItem(
  item: CacheItem,
  denied?: string[],
): Promise<boolean | undefined> {
  const [main, ...rest] = item.paths;
  if (await unlessDenied(denied, main, () => deleteTree(main).then(() => true)) === undefined) {
    return undefined;
  }
  for (const p of rest) await unlessDenied(denied, p, () => deleteTree(p));
  return true;
}

/** Marks `path` as used now (its mtime), for gc's last-use order. Never throws. */
export async function touchUsed(path: string): Promise<void> {
  const now = new Date();
  // Best effort: only gc's order depends on it, and an item removed meanwhile or owned by
  // another user of a shared store (EPERM) must not fail the build that uses it.
  await Deno.utime(path, now, now).catch(() => {});
}

/** Sizes of the store's buckets in bytes, by bucket directory name. */
export async function bucketSizes(layout: StoreLayout): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (
    const [name, dir] of [
      ["envs", layout.envs],
      ["archives", layout.archives],
      ["pkgs", layout.pkgs],
      ["downloads", layout.downloads],
      ["repodata", layout.repodata],
      ["index", layout.index],
      ["locks", layout.locks],
      ["tmp", layout.tmp],
      ["runtime", layout.runtime],
    ] as const
  ) {
    out[name] = await treeSize(dir);
  }
  return out;
}
