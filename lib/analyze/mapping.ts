/**
 * From an imported module to the package that provides it: `--pkg-mapping`
 * first, then the installed environment's own metadata (exact distribution and
 * version), then a built-in table of the import names whose conda-forge
 * package is named differently (`mapping_data.json`), else the import name.
 *
 * @module
 */

import table from "./mapping_data.json" with { type: "json" };
import { UsageError } from "../errors.ts";
import { type InstalledIndex, lookupInstalled } from "./installed.ts";

/** Import name (top-level, or dotted for namespace packages) to conda-forge package name. */
export const BUILTIN_MAPPING: Readonly<Record<string, string>> = table;

/** The package chosen for an import. */
export interface PackageChoice {
  /** Package name (conda name, or pip distribution name). */
  package: string;
  /** The installed version, when the environment's metadata gave one. */
  version?: string;
  /** Whether it goes to the conda dependencies or under `pip:`. */
  manager: "conda" | "pip";
  /** What decided it: `--pkg-mapping`, installed metadata, the built-in table, or the name. */
  source: "user" | "installed" | "table" | "name";
  /** The dependency string to write: `numpy=1.26.4`, `foo==1.0`, `pyyaml`. */
  spec: string;
}

/** The name part of a dependency spec (`numpy>=1.2` gives `numpy`). */
export function specName(spec: string): string {
  return spec.trim().split(/[\s=<>!~\[;,]/)[0];
}

/**
 * Parses one `--pkg-mapping IMPORT=NAME`. NAME may be prefixed `pip:` to put
 * the package under `pip:`; it is otherwise a conda spec, used as given.
 *
 * @throws {UsageError} when the argument is not `IMPORT=NAME`.
 */
export function parsePkgMapping(arg: string): { module: string; target: string } {
  const eq = arg.indexOf("=");
  const module = eq < 0 ? "" : arg.slice(0, eq).trim();
  const target = eq < 0 ? "" : arg.slice(eq + 1).trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(module) || !target) {
    throw new UsageError(
      `--pkg-mapping ${arg}: expected IMPORT=NAME, e.g. --pkg-mapping yaml=pyyaml`,
    );
  }
  return { module, target };
}

/** Longest dotted prefix of `module` (up to 3 parts) that `has` accepts. */
function longestKey(module: string, has: (key: string) => boolean): string | null {
  const parts = module.split(".");
  for (let n = Math.min(parts.length, 3); n >= 1; n--) {
    const key = parts.slice(0, n).join(".");
    if (has(key)) return key;
  }
  return null;
}

/** A dependency given as text: `pip:NAME` goes under pip, anything else is conda, as given. */
export function choiceFromText(text: string, source: PackageChoice["source"]): PackageChoice {
  const pip = text.startsWith("pip:");
  const spec = pip ? text.slice(4).trim() : text.trim();
  return { package: specName(spec), manager: pip ? "pip" : "conda", source, spec };
}

/**
 * Chooses the package for an imported module (see the module documentation).
 *
 * @param module The module as imported (dotted is fine: `google.protobuf.message`).
 * @param userMappings `--pkg-mapping` entries, import name to NAME.
 * @param installed The installed environment, when read.
 */
export function resolvePackage(
  module: string,
  userMappings: ReadonlyMap<string, string>,
  installed?: InstalledIndex,
): PackageChoice {
  const userKey = longestKey(module, (k) => userMappings.has(k));
  if (userKey !== null) return choiceFromText(userMappings.get(userKey)!, "user");
  if (installed) {
    const dist = lookupInstalled(installed, module);
    if (dist) {
      const spec = dist.manager === "conda"
        ? `${dist.name}=${dist.version}`
        : `${dist.name}==${dist.version}`;
      return {
        package: dist.name,
        version: dist.version,
        manager: dist.manager,
        source: "installed",
        spec,
      };
    }
  }
  const tableKey = longestKey(module, (k) => Object.hasOwn(BUILTIN_MAPPING, k));
  if (tableKey !== null) {
    const name = BUILTIN_MAPPING[tableKey];
    return { package: name, manager: "conda", source: "table", spec: name };
  }
  const name = module.split(".")[0].toLowerCase();
  return { package: name, manager: "conda", source: "name", spec: name };
}
