/**
 * The store index: one small JSON record per environment
 * (`index/<id>.json`: id, source, created, size), whose file mtime is the
 * environment's "last used" time (a warm run only touches it, never
 * rewrites it), and the identity cache of archive sources
 * (`index/sources/<hash>.json`: path, size, mtime, inode -> id) that lets a
 * warm run skip reading the archive altogether.
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import { ownerTmp } from "./owner.ts";
import { writeFileAtomic } from "../lib/fs/atomic.ts";

/** One environment's record. */
export interface IndexRecord {
  /** Environment id (the directory name under `envs/`). */
  id: string;
  /** The archive or directory it was unpacked from. */
  source: string;
  /** ISO time the environment was unpacked. */
  created: string;
  /** Total size of its regular files in bytes. */
  size: number;
}

/** An index record with its last-use time. */
export interface IndexEntry extends IndexRecord {
  /** Last time a `poncho run` used it (the record's mtime). */
  lastUsed: Date;
}

/** Path of an environment's index record. */
export function indexPath(layout: StoreLayout, id: string): string {
  return `${layout.index}/${id}.json`;
}

/** Writes a record durably (later runs and gc trust it without re-checking). */
async function writeJsonAtomic(layout: StoreLayout, path: string, value: unknown): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  await Deno.mkdir(dir, { recursive: true });
  await writeFileAtomic(path, JSON.stringify(value) + "\n", {
    tmpDir: ownerTmp(layout),
    durable: true,
  });
}

/** Writes (or replaces) an environment's index record. */
export async function writeIndex(layout: StoreLayout, record: IndexRecord): Promise<void> {
  await writeJsonAtomic(layout, indexPath(layout, record.id), record);
}

/** The record in `value` if it has the right fields and types for environment `id`, else null. */
export function checkRecord(value: unknown, id: string): IndexRecord | null {
  const r = value as Partial<IndexRecord> | null;
  if (typeof r !== "object" || r === null || r.id !== id) return null;
  if (typeof r.source !== "string" || typeof r.created !== "string") return null;
  if (typeof r.size !== "number" || !Number.isFinite(r.size) || r.size < 0) return null;
  return { id: r.id, source: r.source, created: r.created, size: r.size };
}

/** Marks the environment as used now (sets the record's mtime). Never throws. */
export function touchIndex(layout: StoreLayout, id: string): void {
  try {
    const now = new Date();
    Deno.utimeSync(indexPath(layout, id), now, now);
  } catch { /* a missing record only loses the last-used time */ }
}

/** Removes an environment's index record if present. */
export async function removeIndex(layout: StoreLayout, id: string): Promise<void> {
  try {
    await Deno.remove(indexPath(layout, id));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Reads all index records (unreadable ones are skipped). */
export async function readIndex(layout: StoreLayout): Promise<IndexEntry[]> {
  const entries: IndexEntry[] = [];
  let names: Deno.DirEntry[];
  try {
    names = await Array.fromAsync(Deno.readDir(layout.index));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  for (const entry of names) {
    if (!entry.isFile || !entry.name.endsWith(".json")) continue;
    const path = `${layout.index}/${entry.name}`;
    let text: string;
    let info: Deno.FileInfo;
    try {
      [text, info] = await Promise.all([Deno.readTextFile(path), Deno.stat(path)]);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue; // removed meanwhile
      throw err;
    }
    let rec: IndexRecord | null = null;
    try {
      rec = checkRecord(JSON.parse(text), entry.name.slice(0, -".json".length));
    } catch { /* not JSON: skipped like a record with wrong fields */ }
    if (rec) entries.push({ ...rec, lastUsed: info.mtime ?? new Date(0) });
  }
  return entries;
}

/** A cached identity of an archive file. */
export interface SourceRecord {
  /** Absolute path of the archive. */
  path: string;
  /** Size in bytes when identified. */
  size: number;
  /** mtime in ms when identified. */
  mtimeMs: number;
  /** inode when identified. */
  ino: number;
  /** The environment id. */
  id: string;
}

/** Hex sha256 of a string. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Path of the identity cache record of the archive at `absPath`, with
 * extension `ext` (`json` for Poncho's own record, `warm` for the launcher's).
 */
export async function sourcePath(
  layout: StoreLayout,
  absPath: string,
  ext = "json",
): Promise<string> {
  return `${layout.index}/sources/${(await sha256Hex(absPath)).slice(0, 32)}.${ext}`;
}

/**
 * The cached id of the archive at `absPath` if its size, mtime and inode
 * still match `info`; otherwise `undefined`.
 */
export async function cachedSourceId(
  layout: StoreLayout,
  absPath: string,
  info: Deno.FileInfo,
): Promise<string | undefined> {
  try {
    const rec = JSON.parse(
      Deno.readTextFileSync(await sourcePath(layout, absPath)),
    ) as SourceRecord;
    if (
      rec.path === absPath && rec.size === info.size &&
      rec.mtimeMs === (info.mtime?.getTime() ?? 0) && rec.ino === (info.ino ?? 0)
    ) return rec.id;
  } catch { /* no cache */ }
  return undefined;
}

/** Caches the id of the archive at `absPath` for its current size, mtime and inode. */
export async function cacheSourceId(
  layout: StoreLayout,
  absPath: string,
  info: Deno.FileInfo,
  id: string,
): Promise<void> {
  const rec: SourceRecord = {
    path: absPath,
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? 0,
    ino: info.ino ?? 0,
    id,
  };
  await writeJsonAtomic(layout, await sourcePath(layout, absPath), rec);
}

/** The digest of a cached environment archive (`index/archives/<name>.json`). */
export interface ArchiveRecord {
  /** Hex sha256 of the archive file. */
  sha256: string;
  /** Its size in bytes. */
  size: number;
}

/** Path of the record of the cached archive `archives/<name>`. */
export function archiveRecordPath(layout: StoreLayout, name: string): string {
  return `${layout.index}/archives/${name}.json`;
}

/** Records the digest of the cached archive `archives/<name>` (after it was renamed into place). */
export async function writeArchiveRecord(
  layout: StoreLayout,
  name: string,
  record: ArchiveRecord,
): Promise<void> {
  await writeJsonAtomic(layout, archiveRecordPath(layout, name), record);
}

/** The recorded digest of the cached archive `archives/<name>`, or null when none is valid. */
export async function readArchiveRecord(
  layout: StoreLayout,
  name: string,
): Promise<ArchiveRecord | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(archiveRecordPath(layout, name));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  try {
    const v = JSON.parse(text);
    if (
      typeof v?.sha256 === "string" && /^[0-9a-f]{64}$/.test(v.sha256) &&
      Number.isSafeInteger(v.size)
    ) {
      return { sha256: v.sha256, size: v.size };
    }
  } catch { /* not JSON: no valid record */ }
  return null;
}
