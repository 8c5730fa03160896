/**
 * The store's repodata cache (`<store>/v1/repodata/`):
 * - `<key>.meta.json`: what is known of one channel subdir (see {@linkcode CacheMeta});
 * - `<key>-<id>.idx/`: the per-name index of a monolithic `repodata.json` (`repodata_index.ts`);
 * - `<key>-<id>.shards.json`: a CEP-16 shard index, decoded (`{info, shards: {name: hex}}`);
 * - `shards/<sha256>.json`: shards, content-addressed by the hash of the downloaded
 *   `.msgpack.zst`, verified before they are written, kept decoded (hex checksums) because
 *   a warm process then reads them with the native JSON parser.
 *
 * Every entry is written in `tmp/` and renamed into place; the meta file is
 * written last and names its data entry, so a reader sees an old or a new
 * pair, never a torn one. `<key>` is {@linkcode cacheKey} of the subdir URL.
 *
 * @module
 */

import { ownerTmp } from "../../store/owner.ts";
import { join } from "node:path";
import { writeFileAtomic } from "../fs/atomic.ts";
import type { StoreLayout } from "../../store/layout.ts";
import { cacheKey } from "./channel.ts";

/** What is remembered about a cached subdir. */
export interface CacheMeta {
  /** The subdir URL. */
  url: string;
  /** Which repodata the subdir serves; `missing` when it has none (404 for every file). */
  form: "sharded" | "monolithic" | "missing";
  /** The remote (or local) file the data came from (`repodata.json.zst`, ...). */
  remoteFile?: string;
  /** HTTP validators of that file. */
  etag?: string;
  /** HTTP validators of that file. */
  lastModified?: string;
  /** For `file://` channels: the source file's size and mtime the index was built from. */
  source?: { path: string; size: number; mtime: number };
  /** The data entry's name in the repodata dir (index dir or shard index file). */
  data?: string;
  /** When the entry was last checked. */
  fetchedAt: string;
}

/** Paths of one subdir's cache entries. */
export interface CachePaths {
  /** The repodata cache dir. */
  dir: string;
  /** The stem of this subdir's entries. */
  key: string;
  /** `<key>.meta.json`. */
  meta: string;
}

/** The cache paths of the subdir at `subdirUrl`. */
export function cachePaths(layout: StoreLayout, subdirUrl: string): CachePaths {
  const key = cacheKey(subdirUrl);
  return { dir: layout.repodata, key, meta: join(layout.repodata, `${key}.meta.json`) };
}

/** Where a shard with hash `sha256` is cached. */
export function shardCachePath(layout: StoreLayout, sha256: string): string {
  return join(layout.repodata, "shards", `${sha256}.json`);
}

/** A fresh, unique name for a data entry of `key` with `suffix`. */
export function newDataName(key: string, suffix: string): string {
  return `${key}-${crypto.randomUUID().slice(0, 8)}${suffix}`;
}

/** Reads the meta of a subdir; null when absent, unreadable, or its data entry is gone. */
export async function readMeta(paths: CachePaths): Promise<CacheMeta | null> {
  try {
    const meta: CacheMeta = JSON.parse(await Deno.readTextFile(paths.meta));
    if (meta.form === "missing") return meta;
    if (!meta.data || !(meta.form === "sharded" || meta.form === "monolithic")) return null;
    await Deno.stat(join(paths.dir, meta.data));
    return meta;
  } catch {
    return null;
  }
}

/**
 * Writes `meta` (atomically); when it replaces a meta naming another data
 * entry, that entry is removed.
 */
export async function writeMeta(
  layout: StoreLayout,
  paths: CachePaths,
  meta: CacheMeta,
  previous?: CacheMeta | null,
): Promise<void> {
  await writeFileAtomic(paths.meta, JSON.stringify(meta, null, 1), { tmpDir: ownerTmp(layout) });
  if (previous?.data && previous.data !== meta.data) {
    await Deno.remove(join(paths.dir, previous.data), { recursive: true }).catch(() => {});
  }
}
