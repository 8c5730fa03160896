/**
 * Generates the shipped conda-forge import map, `default_map.txt.gz`, from
 * public data (the files of `../shared/importmap/`, listed in
 * {@link SOURCES}) plus Poncho's own curated table (`mapping_data.json`) and
 * the curated overrides (`default_map_overrides.ts`).
 *
 * Run: `deno run -A lib/analyze/default_map_gen.ts [DATA_DIR]` (default
 * `../shared/importmap` from the repository root).
 *
 * Output: gzipped lines (see `default_map.ts` for the reader):
 *
 * ```
 * # provenance lines
 * [modules]
 * <import> <pkg> [<pkg> ...]     ranked best first; no package = known to need none
 * [python]
 * <conda name>                   a conda-forge package that is a Python package
 * [pypi]
 * <pypi name> <conda name>       when the conda-forge name differs from the PyPI name
 * ```
 *
 * Precedence for an import name: overrides, then cf-scripts' static table,
 * then grayskull's, then Poncho's table, then the recipe-derived ranking
 * (its best last), then pipreqs (PyPI names, kept only when conda-forge has
 * them). An entry is written only when its winner is not simply the import
 * name itself as a conda-forge Python package (the same-name rule covers
 * those).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import zlib from "node:zlib";
import { parse as parseYaml } from "../deps/yaml.ts";
import { OVERRIDES } from "./default_map_overrides.ts";
import { normalizeDistName } from "./installed.ts";

/** The public inputs: file, source, licence. */
export const SOURCES: readonly { file: string; source: string; licence: string }[] = [
  {
    file: "crm_import_to_package_names_map_2024-10-25.json",
    source:
      "conda/conda-recipe-manager@84ad3a292c3b26ab21c2310c857b404eae96349d:conda_recipe_manager/cached_data/import_to_package_names_map.json (copy of regro/cf-graph-countyfair mappings/pypi/import_name_priority_mapping.json)",
    licence: "BSD-3-Clause",
  },
  {
    file: "parselmouth_conda-forge_compressed_mapping.json",
    source:
      "prefix-dev/parselmouth@345e9bfbd11d932d63df2bc1146511337f7ba5dd:files/v0/conda-forge/compressed_mapping.json",
    licence: "BSD-3-Clause",
  },
  {
    file: "pipreqs_mapping.txt",
    source: "bndr/pipreqs@48dbafd39003b9de177b8d314795e45797555850:pipreqs/mapping",
    licence: "Apache-2.0",
  },
  {
    file: "grayskull_config.yaml",
    source:
      "conda/grayskull@dac990e37ae74d828f8f1c6cbd990c8dab9f825e:grayskull/strategy/config.yaml",
    licence: "Apache-2.0",
  },
  {
    file: "cf-scripts_pypi_name_mapping_static.yaml",
    source:
      "regro/cf-scripts@748a5e03df035f4502e6d95b1a953e36de7801d5:conda_forge_tick/pypi_name_mapping_static.yaml",
    licence: "BSD-3-Clause",
  },
];

/** The generated data, before serialising. */
export interface GeneratedMap {
  /** Provenance lines (without `# `). */
  provenance: string[];
  /** Import name to ranked conda-forge packages. */
  modules: Map<string, string[]>;
  /** conda-forge packages that are Python packages. */
  python: Set<string>;
  /** PyPI name (normalised) to conda-forge name, where they differ. */
  pypi: Map<string, string>;
}

const IMPORT_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** conda-forge's Python packages and their PyPI names, from parselmouth's mapping. */
interface PypiNames {
  /** conda-forge packages that are Python packages. */
  python: Set<string>;
  /** PyPI name (normalised) to the conda-forge packages carrying it. */
  byPypi: Map<string, string[]>;
}

/** Reads parselmouth's conda-forge -> PyPI mapping, inverted. */
function readPypiNames(parselmouth: Record<string, string[] | null>): PypiNames {
  const python = new Set<string>();
  const byPypi = new Map<string, string[]>();
  for (const [conda, pypis] of Object.entries(parselmouth)) {
    if (!pypis) continue;
    python.add(conda);
    for (const p of pypis) {
      const n = normalizeDistName(p);
      byPypi.set(n, [...(byPypi.get(n) ?? []), conda]);
    }
  }
  return { python, byPypi };
}

/** The conda-forge package of a PyPI name: the same-named one, else the shortest name. */
function condaOfPypi(names: PypiNames, name: string): string | null {
  const n = normalizeDistName(name);
  const c = names.byPypi.get(n);
  if (!c) return null;
  return c.find((x) => normalizeDistName(x) === n) ?? [...c].sort((a, b) => a.length - b.length)[0];
}

/** PyPI name to conda-forge name, where they differ. */
function pypiRenames(names: PypiNames): Map<string, string> {
  const pypi = new Map<string, string>();
  for (const n of names.byPypi.keys()) {
    const c = condaOfPypi(names, n)!;
    if (c !== n) pypi.set(n, c);
  }
  return pypi;
}

/** The import map being built; the first source to name an import wins (overrides are set first). */
class ModuleTable {
  /** Import name to ranked conda-forge packages. */
  readonly modules: Map<string, string[]> = new Map();

  /** Sets `m`'s packages unless it is not an import name or already set. */
  setIfAbsent(m: string, pkgs: string[]): void {
    if (IMPORT_RE.test(m) && !this.modules.has(m)) this.modules.set(m, pkgs);
  }
}

/** Adds cf-scripts' and grayskull's static tables (import name -> conda name). */
function addStaticTables(table: ModuleTable, cfText: string, gsText: string): void {
  const cf = parseYaml(cfText) as { import_name?: string; conda_name?: string }[];
  for (const e of cf ?? []) {
    if (e.import_name && e.conda_name) table.setIfAbsent(e.import_name, [e.conda_name]);
  }
  const gs = parseYaml(gsText) as Record<string, { conda_forge?: string; import_name?: string }>;
  for (const e of Object.values(gs ?? {})) {
    if (e?.import_name && e.conda_forge) table.setIfAbsent(e.import_name, [e.conda_forge]);
  }
}

/** Adds the recipe-derived ranking (its best last: reversed, three kept). */
function addRecipeRanking(table: ModuleTable, crmText: string): void {
  const crm: Record<string, string[]> = JSON.parse(crmText);
  for (const [m, ranked] of Object.entries(crm)) {
    if (Array.isArray(ranked) && ranked.length > 0) {
      table.setIfAbsent(m, [...ranked].reverse().slice(0, 3));
    }
  }
}

/** Adds pipreqs' import -> PyPI names, kept only when conda-forge has the project. */
function addPipreqs(table: ModuleTable, text: string, names: PypiNames): void {
  const pipreqs = new Map<string, string>();
  for (const line of text.split("\n")) {
    const [m, p] = line.trim().split(":");
    if (m && p) pipreqs.set(m, p); // pipreqs keeps the last of duplicate keys
  }
  for (const [m, p] of pipreqs) {
    const conda = condaOfPypi(names, p);
    if (conda) table.setIfAbsent(m, [conda]);
  }
}

/** Drops entries the same-name rule already gives (overrides are kept). */
function dropSameName(modules: Map<string, string[]>, python: Set<string>): void {
  for (const [m, pkgs] of modules) {
    if (OVERRIDES.some((o) => o.module === m)) continue;
    const same = m.toLowerCase();
    if (pkgs.length === 1 && (pkgs[0] === same || pkgs[0] === same.replaceAll("_", "-"))) {
      if (python.has(pkgs[0])) modules.delete(m);
    }
  }
}

/** The provenance lines of the generated file. */
const PROVENANCE: readonly string[] = [
  "Poncho's default import map for conda-forge; generated by lib/analyze/default_map_gen.ts; do not edit.",
  ...SOURCES.map((s) => `source: ${s.file} = ${s.source} (${s.licence})`),
  "source: lib/analyze/mapping_data.json (Poncho's table) and lib/analyze/default_map_overrides.ts (curated overrides)",
  "format: [modules] <import> <packages best first...>; [python] <conda-forge Python package>; [pypi] <PyPI name> <conda-forge name>",
];

/** Builds the map from the raw files in `dir`. */
export async function generateDefaultMap(dir: string): Promise<GeneratedMap> {
  const read = (f: string) => Deno.readTextFile(join(dir, f));
  const names = readPypiNames(JSON.parse(await read(SOURCES[1].file)));
  const table = new ModuleTable();
  for (const o of OVERRIDES) table.modules.set(o.module, [...o.packages]);
  addStaticTables(table, await read(SOURCES[4].file), await read(SOURCES[3].file));
  const own: Record<string, string> = JSON.parse(
    await Deno.readTextFile(new URL("./mapping_data.json", import.meta.url)),
  );
  for (const [m, p] of Object.entries(own)) table.setIfAbsent(m, [p]);
  addRecipeRanking(table, await read(SOURCES[0].file));
  addPipreqs(table, await read(SOURCES[2].file), names);
  dropSameName(table.modules, names.python);
  return {
    provenance: [...PROVENANCE],
    modules: table.modules,
    python: names.python,
    pypi: pypiRenames(names),
  };
}

/** Serialises the map as the gzipped line format. */
export function serializeDefaultMap(map: GeneratedMap): Uint8Array {
  const sorted = <T>(xs: Iterable<T>) => [...xs].sort();
  const lines = [
    ...map.provenance.map((p) => `# ${p}`),
    "[modules]",
    ...sorted(map.modules.keys()).map((m) => [m, ...map.modules.get(m)!].join(" ")),
    "[python]",
    ...sorted(map.python),
    "[pypi]",
    ...sorted(map.pypi.keys()).map((p) => `${p} ${map.pypi.get(p)}`),
  ];
  return new Uint8Array(
    zlib.gzipSync(new TextEncoder().encode(lines.join("\n") + "\n"), { level: 9 }),
  );
}

/** Where the generated file goes. */
export const DEFAULT_MAP_FILE: string = fileURLToPath(
  new URL("./default_map.txt.gz", import.meta.url),
);

if (import.meta.main) {
  const dir = Deno.args[0] ?? fileURLToPath(new URL("../../../shared/importmap", import.meta.url));
  const map = await generateDefaultMap(dir);
  const bytes = serializeDefaultMap(map);
  await Deno.writeFile(DEFAULT_MAP_FILE, bytes);
  console.log(
    `${DEFAULT_MAP_FILE}: ${map.modules.size} import names, ${map.python.size} Python packages, ` +
      `${map.pypi.size} PyPI renames, ${bytes.length} bytes`,
  );
}
