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
 * few `stat`s and two reads. Stale or damaged (not JSON) records are ignored;
 * one that cannot be read (permission) is an error naming it.
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import { errnoOf, fsError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs/atomic.ts";
import { isAbsent } from "../lib/fs/probe.ts";

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

/** The directory of these records. */
export function autoDir(layout: StoreLayout): string {
  return `${layout.index}/auto`;
}

/**
 * The stamp of `path` now: `undefined` when it does not exist, `null` when
 * this user cannot stat it (a directory on the way is not searchable, a
 * symlink loop): the analyzer saw it as absent too, but whether it changed
 * cannot be told.
 */
function statStamp(path: string): StatStamp | undefined | null {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch (err) {
    if (isAbsent(err)) {
      return undefined;
    }
    if (errnoOf(err) === undefined) throw err;
    return null;
  }
  return { path, size: st.isFile ? st.size : 0, mtimeMs: st.mtime?.getTime() ?? 0 };
}

/**
 * The stamp of `path` now, or `undefined` when it does not exist or this
 * user cannot stat it (then it is not recorded, as the analyzer, which could
 * not list or read it either, took it for absent).
 */
export function stampOf(path: string): StatStamp | undefined {
  return statStamp(path) ?? undefined;
}

/** Whether every stamp still holds; undefined when one cannot be stat'ed by this user. */
function unchanged(stamps: StatStamp[]): boolean | undefined {
  let known = true;
  for (const s of stamps) {
    const now = statStamp(s.path);
    if (now === null) known = false;
    else if (!now || now.size !== s.size || now.mtimeMs !== s.mtimeMs) return false;
  }
  return known ? true : undefined;
}

/**
 * The record at `path`, or undefined when there is none or it is damaged
 * (not JSON): both records are caches, made again (the analysis) or looked
 * up again under the build lock (the spec's environment) on a miss.
 */
function readJson<T>(path: string): T | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw fsError(err, path, { what: "cannot read the store's record" });
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await writeFileAtomic(path, JSON.stringify(value) + "\n"); // a cache: validated when read
}

/**
 * The record `key` and whether it still holds: `valid`, `stale` (damaged, or
 * a file or directory it depends on changed: it can never be used again),
 * `unknown` (one cannot be stat'ed by this user), or `missing`.
 */
function analysisState(
  layout: StoreLayout,
  key: string,
): { state: "valid" | "stale" | "unknown" | "missing"; rec?: AnalysisRecord } {
  const path = `${autoDir(layout)}/analysis-${key}.json`;
  const rec = readJson<AnalysisRecord>(path);
  if (rec === undefined && statStamp(path) === undefined) return { state: "missing" };
  if (!rec || rec.key !== key || !Array.isArray(rec.files) || !Array.isArray(rec.dirs)) {
    return { state: "stale" };
  }
  const files = unchanged(rec.files);
  const dirs = files === false ? false : unchanged(rec.dirs);
  if (files === false || dirs === false) return { state: "stale" };
  return files && dirs ? { state: "valid", rec } : { state: "unknown" };
}

/** The cached analysis for `key` if every file and directory it depends on is unchanged. */
export function readAnalysis(layout: StoreLayout, key: string): AnalysisRecord | undefined {
  const { state, rec } = analysisState(layout, key);
  return state === "valid" ? rec : undefined;
}

/**
 * Whether the analysis record `key` can never be used again (damaged, or a
 * file or directory it read changed or is gone); false when it is valid,
 * missing, or cannot be judged by this user (another user's to judge).
 */
export function analysisStale(layout: StoreLayout, key: string): boolean {
  return analysisState(layout, key).state === "stale";
}

/** Caches an analysis (never throws: a read-only store only makes later runs slower). */
export async function writeAnalysis(layout: StoreLayout, rec: AnalysisRecord): Promise<void> {
  try {
    await writeJsonAtomic(`${autoDir(layout)}/analysis-${rec.key}.json`, rec);
  } catch (err) {
    // A read-only or full store: not cached, later runs only analyse again.
    if (errnoOf(err) === undefined) throw err;
  }
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
