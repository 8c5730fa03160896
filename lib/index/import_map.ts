/**
 * A channel's import map, `<subdir>/import-map.json`: which modules each
 * package of the subdir provides, written by `poncho index` and read by
 * `poncho analyze -c CHANNEL` to name the package of an import.
 *
 * Format (version 1), keys sorted, packages by name (the union over every
 * version and build of the name in the subdir):
 *
 * ```json
 * {
 *   "import_map_version": 1,
 *   "subdir": "noarch",
 *   "generator": "poncho index",
 *   "packages": {
 *     "google-cloud-storage": ["google.cloud.storage"],
 *     "pyyaml": ["_yaml", "yaml"]
 *   }
 * }
 * ```
 *
 * A module is a top-level name (`yaml`) or, under a namespace package, a
 * dotted one (`google.cloud.storage`); see `modules.ts` for how they are
 * derived from `info/paths.json`.
 *
 * @module
 */

import { normalizeDistName } from "../analyze/installed.ts";
import { CorruptError } from "../errors.ts";

/** The version of the format this module writes and reads. */
export const IMPORT_MAP_VERSION = 1;

/** The file name of the import map inside a subdir. */
export const IMPORT_MAP_FILE = "import-map.json";

/** A parsed `import-map.json`. */
export interface ImportMapDoc {
  /** Always {@link IMPORT_MAP_VERSION}. */
  import_map_version: number;
  /** The subdir it describes. */
  subdir: string;
  /** What wrote it. */
  generator: string;
  /** Package name to the modules it provides (sorted). */
  packages: Record<string, string[]>;
}

/** Builds the document from package name/modules pairs (merging repeated names). */
export function buildImportMap(
  subdir: string,
  entries: Iterable<{ name: string; modules: string[] }>,
): ImportMapDoc {
  const merged = new Map<string, Set<string>>();
  for (const { name, modules } of entries) {
    if (modules.length === 0) continue;
    const set = merged.get(name) ?? new Set();
    for (const m of modules) set.add(m);
    merged.set(name, set);
  }
  const packages: Record<string, string[]> = {};
  for (const name of [...merged.keys()].sort()) packages[name] = [...merged.get(name)!].sort();
  return { import_map_version: IMPORT_MAP_VERSION, subdir, generator: "poncho index", packages };
}

/**
 * Parses an import map; `where` names it in errors.
 *
 * @throws {CorruptError} when it is not a version-1 import map.
 */
export function parseImportMap(text: string, where: string): ImportMapDoc {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CorruptError(`${where}: not valid JSON (${(err as Error).message})`);
  }
  const d = doc as Partial<ImportMapDoc>;
  if (!d || typeof d !== "object" || d.import_map_version !== IMPORT_MAP_VERSION) {
    throw new CorruptError(
      `${where}: not an import map of version ${IMPORT_MAP_VERSION}; re-run poncho index`,
    );
  }
  const packages: Record<string, string[]> = {};
  for (const [name, mods] of Object.entries(d.packages ?? {})) {
    if (Array.isArray(mods)) packages[name] = mods.filter((m) => typeof m === "string");
  }
  return {
    import_map_version: IMPORT_MAP_VERSION,
    subdir: String(d.subdir ?? ""),
    generator: String(d.generator ?? ""),
    packages,
  };
}

/** Module name to the packages providing it, best first. */
export type ModuleIndex = Map<string, string[]>;

/**
 * Inverts import maps into module -> packages, ranking several providers of
 * one module: a package named like the module (`_` and `-` alike) first,
 * then the package providing fewer modules (bundles of other libraries come
 * last), then by name.
 */
export function moduleIndex(docs: Iterable<ImportMapDoc>): ModuleIndex {
  const providers = new Map<string, Map<string, number>>();
  for (const doc of docs) {
    for (const [name, mods] of Object.entries(doc.packages)) {
      for (const m of mods) {
        const p = providers.get(m) ?? new Map();
        p.set(name, Math.max(p.get(name) ?? 0, mods.length));
        providers.set(m, p);
      }
    }
  }
  const out: ModuleIndex = new Map();
  for (const [module, pkgs] of providers) {
    const want = normalizeDistName(module.split(".").join("-"));
    const top = normalizeDistName(module.split(".")[0]);
    const score = (n: string) => {
      const norm = normalizeDistName(n);
      return norm === want || norm === top
        ? 0
        : norm.endsWith(want) || norm.startsWith(top)
        ? 1
        : 2;
    };
    out.set(
      module,
      [...pkgs.keys()].sort((a, b) =>
        score(a) - score(b) || pkgs.get(a)! - pkgs.get(b)! || (a < b ? -1 : a > b ? 1 : 0)
      ),
    );
  }
  return out;
}
