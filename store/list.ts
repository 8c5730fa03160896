/**
 * The environments of a store, as `poncho store list` shows them: every
 * index record, plus any ready environment in `envs/` that has none (a
 * process killed between the rename and the index write), which is adopted:
 * its record is written from its marker, so that `list` and `gc` see it.
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import { type IndexEntry, readIndex, writeIndex } from "./index.ts";
import { readMarker } from "./marker.ts";
import { ID_PATTERN } from "./envs.ts";
import { dirNames } from "./walk.ts";
import { NotFoundError, UsageError } from "../lib/errors.ts";

/** One environment of the store, as `poncho store list` shows it. */
export interface StoreEntry extends IndexEntry {
  /** Absolute path of the environment. */
  path: string;
}

/**
 * Writes the index record of every ready environment in `envs/` that has
 * none (from its marker); returns the adopted ids.
 */
export async function adoptEnvs(layout: StoreLayout, known: Set<string>): Promise<string[]> {
  const adopted: string[] = [];
  for (const id of await dirNames(layout.envs)) {
    if (known.has(id) || !ID_PATTERN.test(id)) continue;
    const marker = readMarker(`${layout.envs}/${id}`, id);
    if (!marker) continue; // not ready: an unpack in progress, or its leftover (swept by its lock)
    await writeIndex(layout, {
      id,
      source: marker.source,
      created: marker.unpacked,
      size: marker.size,
    });
    adopted.push(id);
  }
  return adopted;
}

/**
 * The store's environments, most recently used first (adopting any without a
 * valid record). A damaged record (not JSON, fields missing) is told to
 * `warn`: rewritten when its environment is ready, else left for gc.
 */
export async function listEnvs(
  layout: StoreLayout,
  warn: (message: string) => void = () => {},
): Promise<StoreEntry[]> {
  const listing = await readIndex(layout);
  const adopted = await adoptEnvs(layout, new Set(listing.entries.map((e) => e.id)));
  for (const path of listing.damaged) {
    const id = path.slice(path.lastIndexOf("/") + 1, -".json".length);
    warn(
      `index record ${path} is damaged (not JSON, or fields missing): ` +
        (adopted.includes(id)
          ? "rewritten from its environment's ready marker"
          : "no ready environment has that id; poncho store gc removes it"),
    );
  }
  const entries = adopted.length > 0 ? (await readIndex(layout)).entries : listing.entries;
  return entries
    .map((e) => ({ ...e, path: `${layout.envs}/${e.id}` }))
    .sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

/**
 * The one environment whose id is `want` or starts with it.
 *
 * @throws {NotFoundError} (exit 2) when none matches.
 * @throws {UsageError} (exit 1) when several do.
 */
export async function findEnv(layout: StoreLayout, want: string): Promise<StoreEntry> {
  const found = (await listEnvs(layout)).filter((e) => e.id.startsWith(want));
  if (found.length === 0) {
    throw new NotFoundError(`store environment ${want} does not exist (see poncho store list)`);
  }
  if (found.length > 1) {
    throw new UsageError(
      `store environment ${want} is ambiguous (${found.length} match); give more`,
    );
  }
  return found[0];
}
