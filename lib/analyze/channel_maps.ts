/**
 * The import maps of the channels an analysis targets: `<subdir>/import-map.json`
 * (written by `poncho index`) of the platform's subdir and `noarch`, for every
 * channel that has one. `conda-forge` itself has none: the shipped default map
 * (`default_map.ts`) stands for it.
 *
 * Maps of `http(s)://` channels are cached in the store's repodata directory
 * (`<key>.import-map.json` and `.import-map.meta.json`) and revalidated with
 * ETag / Last-Modified; when the server cannot be reached the cached copy is
 * used, so an analysis on an offline worker names the same packages as on
 * the machine that fetched the map.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheKey, parseChannel } from "../conda/channel.ts";
import { writeFileAtomic } from "../fs/atomic.ts";
import { condaPlatform } from "../conda/platform.ts";
import {
  IMPORT_MAP_FILE,
  type ImportMapDoc,
  type ModuleIndex,
  moduleIndex,
  parseImportMap,
} from "../index/import_map.ts";
import { errorLine, fsError } from "../errors.ts";
import { isAbsent, readTextOrNull } from "../fs/probe.ts";

/** Whether the channel list includes conda-forge (by name or URL). */
export function targetsCondaForge(channels: readonly string[]): boolean {
  return channels.some((c) => /(^|\/)conda-forge\/?$/.test(c.trim()));
}

interface MapMeta {
  etag?: string;
  lastModified?: string;
  /** The server answered 404/403: the channel has no map there. */
  missing?: boolean;
}

async function readCached(cacheDir: string, key: string): Promise<[MapMeta, string | null] | null> {
  try {
    const meta: MapMeta = JSON.parse(await Deno.readTextFile(join(cacheDir, `${key}.meta.json`)));
    if (meta.missing) return [meta, null];
    return [meta, await Deno.readTextFile(join(cacheDir, `${key}.json`))];
  } catch (err) {
    // No cache yet, or a damaged one (it is only a cache: the map is fetched again).
    if (isAbsent(err) || err instanceof SyntaxError) return null;
    throw fsError(err, cacheDir, { what: "cannot read the import-map cache in" });
  }
}

async function fetchHttp(url: string, cacheDir: string | undefined, warnings: string[]) {
  const key = `${cacheKey(url)}.import-map`;
  const cached = cacheDir ? await readCached(cacheDir, key) : null;
  const headers: Record<string, string> = {};
  if (cached?.[0].etag) headers["if-none-match"] = cached[0].etag;
  if (cached?.[0].lastModified) headers["if-modified-since"] = cached[0].lastModified;
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    if (!cached) throw err;
    warnings.push(`${url}: unreachable (${errorLine(err)}); using the cached import map`);
    return cached[1];
  }
  if (res.status === 304 && cached) {
    await res.body?.cancel();
    return cached[1];
  }
  let text: string | null;
  if (res.status === 404 || res.status === 403) {
    await res.body?.cancel();
    text = null;
  } else if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status}`);
  } else text = await res.text();
  if (cacheDir) {
    const meta: MapMeta = text === null ? { missing: true } : {
      ...(res.headers.get("etag") ? { etag: res.headers.get("etag")! } : {}),
      ...(res.headers.get("last-modified")
        ? { lastModified: res.headers.get("last-modified")! }
        : {}),
    };
    try {
      await Deno.mkdir(cacheDir, { recursive: true });
      if (text !== null) await writeFileAtomic(join(cacheDir, `${key}.json`), text);
      await writeFileAtomic(join(cacheDir, `${key}.meta.json`), JSON.stringify(meta));
    } catch (err) {
      warnings.push(`${cacheDir}: cannot cache ${url} (${errorLine(err)})`);
    }
  }
  return text;
}

async function fetchMap(
  url: string,
  cacheDir: string | undefined,
  warnings: string[],
): Promise<string | null> {
  if (url.startsWith("file:")) {
    return await readTextOrNull(fileURLToPath(url));
  }
  return await fetchHttp(url, cacheDir, warnings);
}

/**
 * Loads the import maps of `channels` into one module index (earlier channels
 * first: a module found in a higher-priority channel's map wins).
 *
 * @param warnings Receives one line per map that could not be read.
 * @param cacheDir Where maps of remote channels are cached (none: no cache).
 */
export async function loadChannelModules(
  channels: readonly string[],
  warnings: string[],
  cwd: string,
  platform: string = condaPlatform(),
  cacheDir?: string,
): Promise<ModuleIndex> {
  const merged: ModuleIndex = new Map();
  for (const spec of channels) {
    if (targetsCondaForge([spec])) continue;
    const channel = parseChannel(spec, cwd);
    const docs: ImportMapDoc[] = [];
    for (const subdir of [platform, "noarch"]) {
      const url = `${channel.url}/${subdir}/${IMPORT_MAP_FILE}`;
      try {
        const text = await fetchMap(url, cacheDir, warnings);
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
