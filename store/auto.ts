/**
 * The store's records for automatic environments (`poncho run script.py`),
 * under `index/auto/`:
 *
 * - `analysis-<key>.json`: a cached analysis, keyed by the run's options
 *   (script, python, channels, platform, mappings...), valid while every file
 *   it read keeps its size and mtime and every directory it listed keeps its
 *   mtime (a new module beside the script changes the directory's mtime).
 * - `spec-<hash>.json`: which environment id serves a spec hash.
 *
 * Both are small JSON files read synchronously, so that a warm run costs a
 * few `stat`s and two reads. Stale or unreadable records are ignored.
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import { writeFileAtomic } from "../lib/fs/atomic.ts";

/** A file (or directory) and the stat fields that validate a cached analysis. */
export interface StatStamp {
  /** Absolute path. */
  path: string;
  /** Size in bytes (0 for directories). */
  size: number;
  /** mtime in ms. */
  mtimeMs: number;
}

/** A cached analysis of an automatic run. */
export interface AnalysisRecord {
  /** The options key it was made for. */
  key: string;
  /** Files read (script closure, spec file). */
  files: StatStamp[];
  /** Directories whose listings decided what is local, and local channels' import maps. */
  dirs: StatStamp[];
  /** The resolved spec (an `EnvSpec`). */
  spec: unknown;
  /** Its spec hash. */
  hash: string;
  /** The target platform. */
  platform: string;
  /** What the environment is for (recorded in the index). */
  source: string;
  /** The analysis warnings, shown again on every run. */
  warnings: string[];
}

function autoDir(layout: StoreLayout): string {
  return `${layout.index}/auto`;
}

/** The stamp of `path` now, or `undefined` when it does not exist. */
export function stampOf(path: string): StatStamp | undefined {
  try {
    const st = Deno.statSync(path);
    return { path, size: st.isFile ? st.size : 0, mtimeMs: st.mtime?.getTime() ?? 0 };
  } catch {
    return undefined;
  }
}

function unchanged(stamps: StatStamp[]): boolean {
  for (const s of stamps) {
    const now = stampOf(s.path);
    if (!now || now.size !== s.size || now.mtimeMs !== s.mtimeMs) return false;
  }
  return true;
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as T;
  } catch {
    return undefined;
  }
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await writeFileAtomic(path, JSON.stringify(value) + "\n"); // a cache: validated when read
}

/** The cached analysis for `key` if every file and directory it depends on is unchanged. */
export function readAnalysis(layout: StoreLayout, key: string): AnalysisRecord | undefined {
  const rec = readJson<AnalysisRecord>(`${autoDir(layout)}/analysis-${key}.json`);
  if (!rec || rec.key !== key || !Array.isArray(rec.files) || !Array.isArray(rec.dirs)) {
    return undefined;
  }
  return unchanged(rec.files) && unchanged(rec.dirs) ? rec : undefined;
}

/** Caches an analysis (never throws: a read-only store only makes later runs slower). */
export async function writeAnalysis(layout: StoreLayout, rec: AnalysisRecord): Promise<void> {
  try {
    await writeJsonAtomic(`${autoDir(layout)}/analysis-${rec.key}.json`, rec);
  } catch { /* not cached */ }
}

/** The environment id recorded for a spec hash, if any. */
export function readSpecEnv(layout: StoreLayout, hash: string): string | undefined {
  const rec = readJson<{ hash: string; id: string }>(`${autoDir(layout)}/spec-${hash}.json`);
  return rec && rec.hash === hash && typeof rec.id === "string" ? rec.id : undefined;
}

/** Records which environment serves a spec hash. */
export async function writeSpecEnv(layout: StoreLayout, hash: string, id: string): Promise<void> {
  await writeJsonAtomic(`${autoDir(layout)}/spec-${hash}.json`, { hash, id });
}
