/**
 * `noarch: python` layout, as conda decides it: where the package's
 * `site-packages/` and `python-scripts/` go in the environment (from the
 * python record's `python_site_packages_path`, the free-threaded `3.13t`
 * layout, else `lib/pythonX.Y/site-packages`), which interpreter entry
 * points run, and the noarch metadata of a package (`info/link.json`, or the
 * older `info/package_metadata.json`).
 *
 * @module
 */

import { join } from "node:path";
import { CorruptError, PonchoError } from "../errors.ts";
import { statOrNullSync } from "../fs/probe.ts";

/** The environment's Python, as `noarch: python` packages need it. */
export interface PythonLayout {
  /** `X.Y` of the interpreter. */
  version: string;
  /** Where `site-packages/` goes, relative to the prefix (no trailing slash). */
  sitePackages: string;
  /** `t` for a free-threaded build, else empty. */
  abiFlags: string;
}

/** The fields of a python repodata record that decide the layout. */
export interface PythonRecordLike {
  /** Full version, e.g. `3.13.2`. */
  version: string;
  /** Build string, e.g. `hfd29fff_1_cp313t`. */
  build?: string;
  /** `py_freethreading` on free-threaded builds (string or list). */
  track_features?: unknown;
  /** Set by conda-forge's python builds since 2024. */
  python_site_packages_path?: unknown;
}

/** True when a python record is a free-threaded build (`*_cp313t`, `py_freethreading`). */
export function isFreeThreaded(rec: PythonRecordLike): boolean {
  const tf = rec.track_features;
  const features = Array.isArray(tf) ? tf.map(String) : String(tf ?? "").split(/[\s,]+/);
  return features.includes("py_freethreading") || /_cp\d+t$/.test(rec.build ?? "");
}

/**
 * The layout of the environment's Python from its repodata record: conda
 * uses `python_site_packages_path` when the record has it, else
 * `lib/pythonX.Y/site-packages` (`lib/pythonX.Yt/...` for a free-threaded
 * build).
 *
 * @throws {PonchoError} when `python_site_packages_path` is absolute or leaves the prefix.
 */
export function pythonLayout(rec: PythonRecordLike): PythonLayout {
  const version = rec.version.split(".").slice(0, 2).join(".");
  const abiFlags = isFreeThreaded(rec) ? "t" : "";
  const given = rec.python_site_packages_path;
  if (typeof given === "string" && given) {
    const sp = given.replace(/\/+$/, "");
    if (sp.startsWith("/") || sp.split("/").some((s) => s === ".." || s === "")) {
      throw new PonchoError(
        `python-${rec.version}-${rec.build ?? ""}: python_site_packages_path ${given} ` +
          `must be a relative path inside the environment`,
      );
    }
    return { version, sitePackages: sp, abiFlags };
  }
  return { version, sitePackages: `lib/python${version}${abiFlags}/site-packages`, abiFlags };
}

/** Maps a `noarch: python` package path to its place in the prefix. */
export function noarchPythonPath(path: string, layout: PythonLayout): string {
  if (path.startsWith("site-packages/")) {
    return `${layout.sitePackages}/${path.slice("site-packages/".length)}`;
  }
  if (path.startsWith("python-scripts/")) return `bin/${path.slice("python-scripts/".length)}`;
  return path;
}

/**
 * The interpreter entry points run, relative to the prefix: the first of
 * `bin/pythonX.Yt`, `bin/pythonX.Y`, `bin/python3`, `bin/python` that the
 * environment has (`bin/pythonX.Y` when none exists yet).
 */
export function pythonExecutable(prefix: string, layout: PythonLayout): string {
  const names = [
    `python${layout.version}${layout.abiFlags}`,
    `python${layout.version}`,
    "python3",
    "python",
  ];
  for (const name of [...new Set(names)]) {
    const st = statOrNullSync(join(prefix, "bin", name), {
      role: "store",
      what: "cannot look for python at",
    });
    if (st?.isFile) return `bin/${name}`;
  }
  return `bin/python${layout.version}`;
}

/** What `info/link.json` (or `info/package_metadata.json`) says. */
export interface NoarchMetadata {
  /** `python` or `generic` when the metadata says so. */
  type?: "python" | "generic";
  /** Entry points `name = module:func`. */
  entryPoints: string[];
  /** The metadata file read, relative to the package (`info/link.json`). */
  file?: string;
}

/**
 * Parses noarch metadata text (`info/link.json` or the older
 * `info/package_metadata.json`, same format): `noarch.type` and
 * `noarch.entry_points`.
 *
 * @throws {PonchoError} naming `where` when the text is not JSON.
 */
export function parseNoarchMetadata(text: string, where: string): NoarchMetadata {
  let doc: { noarch?: { type?: unknown; entry_points?: unknown } };
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CorruptError(`${where}: ${(err as Error).message}`, { cause: err, path: where });
  }
  const t = doc?.noarch?.type;
  const eps = doc?.noarch?.entry_points;
  return {
    type: t === "python" || t === "generic" ? t : undefined,
    entryPoints: Array.isArray(eps) ? eps.map(String) : [],
  };
}

/**
 * Reads an extracted package's noarch metadata: `info/link.json`, else
 * `info/package_metadata.json` (what conda-build wrote before link.json),
 * else nothing.
 */
export async function readNoarchMetadata(dir: string): Promise<NoarchMetadata> {
  for (const file of ["info/link.json", "info/package_metadata.json"]) {
    let text: string;
    try {
      text = await Deno.readTextFile(join(dir, file));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    return { ...parseNoarchMetadata(text, join(dir, file)), file };
  }
  return { entryPoints: [] };
}
