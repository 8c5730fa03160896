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
import { errnoOf, fsError } from "../lib/errors.ts";
import { writeFileAtomicSync } from "../lib/fs/atomic.ts";
import { isAbsent } from "../lib/fs/probe.ts";

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

/**
 * Writes a record durably (later runs and gc trust it without re-checking).
 * Synchronously: a few small calls on every cold start, where each trip to
 * Deno's I/O threads costs more than the call.
 */
async function writeJsonAtomic(layout: StoreLayout, path: string, value: unknown): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  Deno.mkdirSync(dir, { recursive: true });
  writeFileAtomicSync(path, JSON.stringify(value) + "\n", {
    tmpDir: ownerTmp(layout),
    durable: true,
  });
  await Promise.resolve();
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

/** Marks the environment as used now (sets the record's mtime). Never throws an OS error. */
export function touchIndex(layout: StoreLayout, id: string): void {
  try {
    const now = new Date();
    Deno.utimeSync(indexPath(layout, id), now, now);
  } catch (err) {
    // Best effort on the warm path: a missing record (adopted by the next list), another user's
    // record in a shared store (EPERM) or a read-only store only loses the last-used time.
    if (errnoOf(err) === undefined) throw err;
  }
}

/** Removes an environment's index record if present. */
export async function removeIndex(layout: StoreLayout, id: string): Promise<void> {
  try {
    await Deno.remove(indexPath(layout, id));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** What {@linkcode readIndex} found. */
export interface IndexListing {
  /** The valid records. */
  entries: IndexEntry[];
  /** Paths of records that are not JSON or lack fields (rewritten by adoption, or swept by gc). */
  damaged: string[];
}

/** Reads one record file; null when it was removed meanwhile. */
async function readRecordFile(path: string): Promise<[string, Deno.FileInfo] | null> {
  try {
    return await Promise.all([Deno.readTextFile(path), Deno.stat(path)]);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null; // removed meanwhile
    throw fsError(err, path, { what: "cannot read the store's index record" });
  }
}

/** Parses a record's text for environment `id`; null when it is not a valid record. */
function parseRecord(text: string, id: string): IndexRecord | null {
  try {
    return checkRecord(JSON.parse(text), id);
  } catch (err) {
    if (err instanceof SyntaxError) return null; // not JSON: damaged like a record with bad fields
    throw err;
  }
}

/**
 * Reads all index records; damaged ones (not JSON, wrong fields) are listed
 * apart. A record that cannot be read (permission, a directory in its place)
 * is an error naming it.
 */
export async function readIndex(layout: StoreLayout): Promise<IndexListing> {
  const listing: IndexListing = { entries: [], damaged: [] };
  let names: Deno.DirEntry[];
  try {
    names = await Array.fromAsync(Deno.readDir(layout.index));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return listing;
    throw fsError(err, layout.index, { what: "cannot read the store's index" });
  }
  for (const entry of names) {
    if (!entry.isFile || !entry.name.endsWith(".json")) continue;
    const path = `${layout.index}/${entry.name}`;
    const read = await readRecordFile(path);
    if (read === null) continue;
    const rec = parseRecord(read[0], entry.name.slice(0, -".json".length));
    if (rec) listing.entries.push({ ...rec, lastUsed: read[1].mtime ?? new Date(0) });
    else listing.damaged.push(path);
  }
  return listing;
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

/** Digests computed in this process: a cold start hashes the same archive path several times. */
const hexMemo = new Map<string, string>();

/** Hex sha256 of a string. */
export async function sha256Hex(text: string): Promise<string> {
  const known = hexMemo.get(text);
  if (known !== undefined) return known;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  if (hexMemo.size >= 256) hexMemo.clear();
  hexMemo.set(text, hex);
  return hex;
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
  const path = await sourcePath(layout, absPath);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (isAbsent(err)) {
      return undefined; // not cached yet
    }
    throw fsError(err, path, { what: "cannot read the store's identity cache record" });
  }
  let rec: Partial<SourceRecord> | null;
  try {
    rec = JSON.parse(text);
  } catch (err) {
    if (err instanceof SyntaxError) return undefined; // damaged: the identity is read again
    throw err;
  }
  if (
    rec?.path === absPath && rec.size === info.size &&
    rec.mtimeMs === (info.mtime?.getTime() ?? 0) && rec.ino === (info.ino ?? 0) &&
    typeof rec.id === "string"
  ) return rec.id;
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
    throw fsError(err, archiveRecordPath(layout, name), {
      what: "cannot read the digest record of a cached archive",
    });
  }
  let v;
  try {
    v = JSON.parse(text);
  } catch (err) {
    // Damaged: no valid record, so the archive is never trusted (create rebuilds it).
    if (err instanceof SyntaxError) return null;
    throw err;
  }
  if (
    typeof v?.sha256 === "string" && /^[0-9a-f]{64}$/.test(v.sha256) &&
    Number.isSafeInteger(v.size)
  ) {
    return { sha256: v.sha256, size: v.size };
  }
  return null;
}
