/**
 * Listing and garbage-collecting the environments of a store.
 *
 * `gc` removes an environment only while holding its exclusive lock, taken
 * without waiting: an environment that a running `poncho run` holds (shared
 * lock) or that is being unpacked (exclusive lock) is skipped.
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import { type IndexEntry, readIndex, removeIndex } from "./index.ts";
import { tryLock } from "./lock.ts";
import { storeSlot } from "./envs.ts";
import { discardTree } from "./remove.ts";

/** One environment of the store, as `poncho store list` shows it. */
export interface StoreEntry extends IndexEntry {
  /** Absolute path of the environment. */
  path: string;
}

/** The store's environments, most recently used first. */
export async function listEnvs(layout: StoreLayout): Promise<StoreEntry[]> {
  const entries = await readIndex(layout);
  return entries
    .map((e) => ({ ...e, path: `${layout.envs}/${e.id}` }))
    .sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

/** What to collect. With neither limit, nothing is removed. */
export interface GcOptions {
  /** Remove environments not used for this many days. */
  olderThanDays?: number;
  /** Then remove least recently used environments until the total is at most this (bytes). */
  maxSize?: number;
  /** The current time (default: now). */
  now?: Date;
}

/** What {@link gc} did. */
export interface GcResult {
  /** Removed environments. */
  removed: StoreEntry[];
  /** Environments that qualified but were in use (locked), so kept. */
  skipped: StoreEntry[];
  /** Bytes freed. */
  freed: number;
}

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

/** Removes environments by age and total size, skipping those in use. */
export async function gc(layout: StoreLayout, options: GcOptions): Promise<GcResult> {
  const now = (options.now ?? new Date()).getTime();
  const entries = (await listEnvs(layout)).reverse(); // least recently used first
  const removed: StoreEntry[] = [];
  const skipped: StoreEntry[] = [];
  const chosen = new Set<StoreEntry>();
  if (options.olderThanDays !== undefined) {
    const limit = now - options.olderThanDays * 86_400_000;
    for (const e of entries) if (e.lastUsed.getTime() < limit) chosen.add(e);
  }
  let total = entries.reduce((sum, e) => sum + (chosen.has(e) ? 0 : e.size), 0);
  for (const e of entries) {
    const byAge = chosen.has(e);
    const bySize = options.maxSize !== undefined && total > options.maxSize;
    if (!byAge && !bySize) continue;
    if (await removeEnv(layout, e.id)) {
      removed.push(e);
      if (!byAge) total -= e.size;
    } else {
      skipped.push(e);
      if (byAge) total += e.size; // in use, so it stays and counts
    }
  }
  return { removed, skipped, freed: removed.reduce((sum, e) => sum + e.size, 0) };
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
