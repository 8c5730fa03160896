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
import { CorruptError, fsError } from "../errors.ts";
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

/**
 * The error for a cache entry at `path` that exists but cannot be read
 * (permission, ...): its kind, naming the path; reading the cache counts as
 * reading a named input (a permission error exits 2).
 */
export function cacheReadError(err: unknown, path: string): unknown {
  return fsError(err, path, { what: "cannot read the repodata cache entry", role: "input" });
}

/** Whether `err` says a cache entry is damaged (not JSON, or not of the shape written). */
export function isDamagedEntry(err: unknown): boolean {
  return err instanceof SyntaxError || err instanceof CorruptError;
}

/** The meta in `text`, or null when it is not JSON of the shape {@linkcode writeMeta} writes. */
function parseMeta(text: string): CacheMeta | null {
  let meta: CacheMeta;
  try {
    meta = JSON.parse(text);
  } catch (err) {
    if (err instanceof SyntaxError) return null;
    throw err;
  }
  if (typeof meta !== "object" || meta === null || typeof meta.url !== "string") return null;
  if (meta.form === "missing") return meta;
  if (meta.form !== "sharded" && meta.form !== "monolithic") return null;
  const plainName = typeof meta.data === "string" && /^[^/\\]+$/.test(meta.data);
  return plainName ? meta : null;
}

/**
 * Reads the meta of a subdir; null when there is none, when it is damaged
 * or when its data entry is gone (both with a `note`), so that the subdir
 * is fetched afresh. An entry that cannot be read is thrown as its kind
 * (see {@linkcode cacheReadError}).
 */
export async function readMeta(
  paths: CachePaths,
  note: (line: string) => void = () => {},
): Promise<CacheMeta | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(paths.meta);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw cacheReadError(err, paths.meta);
  }
  const meta = parseMeta(text);
  if (!meta) {
    note(`repodata cache entry ${paths.meta} is corrupt; fetching afresh`);
    return null;
  }
  if (meta.form === "missing") return meta;
  const data = join(paths.dir, meta.data!);
  try {
    await Deno.stat(data);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw cacheReadError(err, data);
    note(`repodata cache entry ${data} is gone; fetching afresh`);
    return null;
  }
  return meta;
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
    // Best effort: a superseded entry left behind only takes space, and gc removes it with its key.
    await Deno.remove(join(paths.dir, previous.data), { recursive: true }).catch(() => {});
  }
}
