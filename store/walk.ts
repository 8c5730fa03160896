/**
 * Reading store directories for listing and collection: entries of a
 * directory that may not exist yet, and the size of a tree. Only absence
 * (the rule of `lib/fs/probe.ts`) means empty or zero; any other error
 * (permission, a link loop) is thrown naming the path, so that a store that
 * cannot be read is reported, never taken for an empty one. The `lstat` of a
 * path that may have been removed meanwhile is {@linkcode lstatInStore}.
 *
 * @module
 */

import { listDirOrNull, type ProbeOptions, statOrNull } from "../lib/fs/probe.ts";

/** How the store's own paths are probed: links not followed, failures are the store's. */
const IN_STORE: ProbeOptions = { follow: false, role: "store" };

/** The `lstat` of a store path, or `null` when it is absent (removed meanwhile). */
export const lstatInStore = (path: string): Promise<Deno.FileInfo | null> =>
  statOrNull(path, IN_STORE);

/** Whether nothing is at the store path `path` (any more). */
export const goneFromStore = async (path: string): Promise<boolean> =>
  (await lstatInStore(path)) === null;

/** The entries of `dir`, sorted by name, or none when it does not exist. */
export async function dirEntries(dir: string): Promise<Deno.DirEntry[]> {
  return (await listDirOrNull(dir, IN_STORE)) ?? [];
}

/** The names in `dir`, sorted, or none when it does not exist. */
export async function dirNames(dir: string): Promise<string[]> {
  return (await dirEntries(dir)).map((e) => e.name).sort();
}

/**
 * Bytes of regular files under `path` (0 when missing; a part removed during
 * the walk counts 0; hardlinks counted once per `seen`).
 */
export async function treeSize(path: string, seen = new Set<string>()): Promise<number> {
  const info = await lstatInStore(path);
  if (info === null) return 0;
  if (info.isFile) {
    const key = `${info.dev}:${info.ino}`;
    if ((info.nlink ?? 1) > 1) {
      if (seen.has(key)) return 0;
      seen.add(key);
    }
    return info.size;
  }
  if (!info.isDirectory) return 0;
  let total = 0;
  for (const e of await dirEntries(path)) total += await treeSize(`${path}/${e.name}`, seen);
  return total;
}
