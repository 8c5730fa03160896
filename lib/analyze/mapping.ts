/**
 * Package choices and `--pkg-mapping` parsing, and Poncho's own curated table
 * of import names whose conda-forge package is named differently
 * (`mapping_data.json`, one of the sources of the shipped map that
 * `default_map_gen.ts` generates; `resolve.ts` does the resolution).
 *
 * @module
 */

import table from "./mapping_data.json" with { type: "json" };
import { UsageError } from "../errors.ts";

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
  /**
   * What decided it: `--pkg-mapping`, a declared requirement of the project,
   * installed metadata, a target channel's import map, the shipped
   * conda-forge map (`table`), or the same-name rule.
   */
  source: "user" | "declared" | "installed" | "channel" | "table" | "name";
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

/** A dependency given as text: `pip:NAME` goes under pip, anything else is conda, as given. */
export function choiceFromText(text: string, source: PackageChoice["source"]): PackageChoice {
  const pip = text.startsWith("pip:");
  const spec = pip ? text.slice(4).trim() : text.trim();
  return { package: specName(spec), manager: pip ? "pip" : "conda", source, spec };
}
