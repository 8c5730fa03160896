/**
 * The standard library of each Python version Poncho can target (2.7 and 3.6
 * to 3.14), as top-level module names, so that an import can be told apart
 * from a third-party dependency for the target interpreter, not the host's.
 *
 * The data (`stdlib_data.json`) holds the full 2.7 and 3.6 lists and, for each
 * later 3.x version, the names added and removed. It was built from each
 * interpreter's `sys.stdlib_module_names` (3.10+) or its installed library
 * plus platform-only modules (older ones).
 *
 * @module
 */

import data from "./stdlib_data.json" with { type: "json" };
import { UsageError } from "../errors.ts";

interface StdlibData {
  "2.7": string[];
  "3.6": string[];
  changes: Record<string, { added: string[]; removed: string[] }>;
}

const DATA = data as StdlibData;

/** Every target version with a stdlib list, oldest first. */
export const STDLIB_VERSIONS: readonly string[] = ["2.7", "3.6", ...Object.keys(DATA.changes)];

const LISTS = new Map<string, ReadonlySet<string>>();
{
  LISTS.set("2.7", new Set(DATA["2.7"]));
  let current = new Set(DATA["3.6"]);
  LISTS.set("3.6", current);
  for (const [version, change] of Object.entries(DATA.changes)) {
    current = new Set(current);
    for (const name of change.removed) current.delete(name);
    for (const name of change.added) current.add(name);
    LISTS.set(version, current);
  }
}

/** Every name that is a standard module in at least one known version. */
const ANY_VERSION = new Set([...LISTS.values()].flatMap((s) => [...s]));

/** Parses `X.Y` (or `X.Y.Z`) into numbers; null when it is not a version. */
export function parseMinorVersion(version: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)(?:\.\d+)?$/.exec(version.trim());
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function compare(a: string, b: string): number {
  const [am, an] = parseMinorVersion(a)!;
  const [bm, bn] = parseMinorVersion(b)!;
  return am - bm || an - bn;
}

/**
 * The stdlib list to use for a target version: the exact one when known,
 * else the nearest known version of the same major with a note saying so.
 *
 * @param version `X.Y`, e.g. `3.11`.
 * @throws {UsageError} when `version` is not `X.Y` or its major is not 2 or 3.
 */
export function stdlibVersionFor(version: string): { version: string; note?: string } {
  const parsed = parseMinorVersion(version);
  if (!parsed || (parsed[0] !== 2 && parsed[0] !== 3)) {
    throw new UsageError(`--python ${version}: expected a Python version like 3.11 (2.7 or 3.x)`);
  }
  const target = `${parsed[0]}.${parsed[1]}`;
  if (LISTS.has(target)) return { version: target };
  const same = STDLIB_VERSIONS.filter((v) => v.startsWith(`${parsed[0]}.`));
  const nearest = compare(target, same[0]) < 0 ? same[0] : same[same.length - 1];
  return {
    version: nearest,
    note: `no standard-library list for Python ${target}; using the one for ${nearest}`,
  };
}

/** The top-level standard module names of a known version (see {@link STDLIB_VERSIONS}). */
export function stdlibModules(version: string): ReadonlySet<string> {
  const list = LISTS.get(stdlibVersionFor(version).version);
  return list!;
}

/** How a module relates to the standard library of a target version. */
export interface StdlibInfo {
  /** True when the target version has the module. */
  available: boolean;
  /** When not available: why, e.g. `telnetlib was removed from the standard library in 3.13`. */
  note?: string;
}

/**
 * Whether a top-level module is standard library for `version`. Returns null
 * for a name that no known version has (a local or third-party module). A
 * name that another version has (removed, not yet added, or Python-2-only)
 * is still standard library, but `available` is false and `note` says why.
 *
 * @param module Top-level module name (`os`, not `os.path`).
 * @param version Target `X.Y`.
 */
export function classifyStdlib(module: string, version: string): StdlibInfo | null {
  if (!ANY_VERSION.has(module)) return null;
  const target = stdlibVersionFor(version).version;
  if (LISTS.get(target)!.has(module)) return { available: true };
  const major = target.split(".")[0];
  const sameMajor = STDLIB_VERSIONS.filter((v) =>
    v.startsWith(`${major}.`) && LISTS.get(v)!.has(module)
  );
  if (sameMajor.length === 0) {
    const other = major === "2" ? "Python 3" : "Python 2";
    return {
      available: false,
      note: `${module} is a ${other} standard module, not in Python ${target}`,
    };
  }
  const before = sameMajor.filter((v) => compare(v, target) < 0);
  if (before.length > 0) {
    const last = before[before.length - 1];
    const removedIn = STDLIB_VERSIONS[STDLIB_VERSIONS.indexOf(last) + 1];
    return {
      available: false,
      note: `${module} was removed from the standard library in Python ${removedIn} ` +
        `(target ${target})`,
    };
  }
  return {
    available: false,
    note: `${module} is not in the standard library before Python ${sameMajor[0]} ` +
      `(target ${target})`,
  };
}
