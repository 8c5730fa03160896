/**
 * The import maps of the channels an analysis targets: `<subdir>/import-map.json`
 * (written by `poncho index`) of the platform's subdir and `noarch`, for every
 * channel that has one. `conda-forge` itself has none: the shipped default map
 * (`default_map.ts`) stands for it.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { parseChannel } from "../conda/channel.ts";
import { condaPlatform } from "../conda/platform.ts";
import {
  IMPORT_MAP_FILE,
  type ImportMapDoc,
  type ModuleIndex,
  moduleIndex,
  parseImportMap,
} from "../index/import_map.ts";
import { errorLine } from "../errors.ts";

/** Whether the channel list includes conda-forge (by name or URL). */
export function targetsCondaForge(channels: readonly string[]): boolean {
  return channels.some((c) => /(^|\/)conda-forge\/?$/.test(c.trim()));
}

async function fetchMap(url: string): Promise<string | null> {
  if (url.startsWith("file:")) {
    return await Deno.readTextFile(fileURLToPath(url)).catch((err) => {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    });
  }
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  if (res.status === 404 || res.status === 403) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return await res.text();
}

/**
 * Loads the import maps of `channels` into one module index (earlier channels
 * first: a module found in a higher-priority channel's map wins).
 *
 * @param warnings Receives one line per map that could not be read.
 */
export async function loadChannelModules(
  channels: readonly string[],
  warnings: string[],
  cwd: string,
  platform: string = condaPlatform(),
): Promise<ModuleIndex> {
  const merged: ModuleIndex = new Map();
  for (const spec of channels) {
    if (targetsCondaForge([spec])) continue;
    const channel = parseChannel(spec, cwd);
    const docs: ImportMapDoc[] = [];
    for (const subdir of [platform, "noarch"]) {
      const url = `${channel.url}/${subdir}/${IMPORT_MAP_FILE}`;
      try {
        const text = await fetchMap(url);
        if (text !== null) docs.push(parseImportMap(text, url));
      } catch (err) {
        warnings.push(`${url}: cannot read the channel's import map, not used (${errorLine(err)})`);
      }
    }
    for (const [module, pkgs] of moduleIndex(docs)) {
      if (!merged.has(module)) merged.set(module, pkgs);
    }
  }
  return merged;
}
