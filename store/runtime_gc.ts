/**
 * Collecting old runtimes of the single file (`runtime/<payload sha256>/`,
 * unpacked by its launcher, `lib/dist/launcher.sh`), for `poncho store gc`.
 *
 * A runtime holds no lock while it runs, so gc keeps every runtime that may
 * be in use: the one this process runs from, one whose unpack is in progress
 * (its `locks/runtime-<sha>.lockdir` exists), one started within the last
 * day (each start stamps the directory's mtime, see `lib/dist/self.ts`), and
 * one that a process of this host runs from (its command line names the
 * runtime: `/proc/<pid>/cmdline` is readable for every user's processes).
 * What is left is collected like a cache item, least recently used first,
 * by `--older-than` and `--max-size`; the launcher unpacks a removed runtime
 * again on its next start.
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import type { CacheItem } from "./cache_gc.ts";
import { discardTree } from "./remove.ts";
import { dirEntries, lstatInStore, treeSize } from "./walk.ts";
import { currentLauncher } from "../lib/dist/self.ts";
import { errnoOf } from "../lib/errors.ts";

/** A runtime started this recently may still be starting or running: never collected. */
export const RUNTIME_IN_USE_MS = 86_400_000;

/** The runtimes of the store, as cache items of bucket `runtime`. */
export async function runtimeItems(layout: StoreLayout): Promise<CacheItem[]> {
  const items: CacheItem[] = [];
  for (const e of await dirEntries(layout.runtime)) {
    if (!e.isDirectory || !/^[0-9a-f]{64}$/.test(e.name)) continue;
    const path = `${layout.runtime}/${e.name}`;
    const info = await lstatInStore(path);
    if (info === null) continue; // removed meanwhile
    const size = await treeSize(path);
    const lastUsed = info.mtime ?? new Date(0);
    items.push({ bucket: "runtime", name: e.name, path, paths: [path], size, lastUsed });
  }
  return items;
}

/** The command line of process `pid`, or none when it cannot be read (gone, hidden). */
async function commandLine(pid: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0");
  } catch (err) {
    // Exited meanwhile, or hidden (hidepid): nothing to learn from it.
    if (errnoOf(err) === undefined) throw err;
    return [];
  }
}

/** Names of the runtimes that processes of this host run from (Linux; none elsewhere). */
export async function runtimesRunning(layout: StoreLayout): Promise<Set<string>> {
  const running = new Set<string>();
  const prefix = `${layout.runtime}/`;
  for (const e of await dirEntries("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    for (const arg of await commandLine(e.name)) {
      if (arg.startsWith(prefix)) running.add(arg.slice(prefix.length).split("/")[0]);
    }
  }
  return running;
}

/** Why the runtime `item` is kept, or undefined when it may be removed. */
export async function runtimeInUse(
  layout: StoreLayout,
  item: CacheItem,
  now: number,
  running: () => Promise<Set<string>>,
): Promise<string | undefined> {
  if (currentLauncher()?.runtime === item.path) return "this poncho runs from it";
  if (now - item.lastUsed.getTime() < RUNTIME_IN_USE_MS) return "started within a day";
  if (await lstatInStore(`${layout.locks}/runtime-${item.name}.lockdir`)) return "being unpacked";
  if ((await running()).has(item.name)) return "a process runs from it";
  return undefined;
}

/** Removes the runtime `item` (renamed into `tmp/` first, so its path is free at once). */
export async function removeRuntime(layout: StoreLayout, item: CacheItem): Promise<void> {
  await Deno.mkdir(layout.tmp, { recursive: true });
  const rand = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
  await discardTree(item.path, `${layout.tmp}/gc-runtime-${item.name.slice(0, 16)}-${rand}`);
}
