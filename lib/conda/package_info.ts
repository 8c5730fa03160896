/**
 * Reading the metadata of an extracted conda package: `info/index.json`,
 * `info/paths.json` (or the legacy `info/files` + `info/has_prefix` +
 * `info/no_link`) and `info/link.json` (or the older
 * `info/package_metadata.json`).
 *
 * @module
 */

import { join } from "node:path";
import { CorruptError } from "../errors.ts";
import { readTextOrNull, statOrNull } from "../fs/probe.ts";
import { readNoarchMetadata } from "./noarch.ts";
import { checkPackagePath, checkPathType } from "./safe_path.ts";

/** The conda-build default placeholder used by legacy `has_prefix` lines with one token. */
export const LEGACY_PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3";

/** One file, link or empty directory of a package. */
export interface PathEntry {
  /** Path relative to the package root (and, before noarch remapping, to the prefix). */
  path: string;
  /** `hardlink` is a regular file; `softlink` a symlink; `directory` an empty directory. */
  type: "hardlink" | "softlink" | "directory";
  /** sha256 of the file, when the package records it. */
  sha256?: string;
  /** Size in bytes, when recorded. */
  size?: number;
  /** The placeholder to replace with the prefix, if the file has one. */
  placeholder?: string;
  /** How the placeholder is replaced. */
  fileMode?: "text" | "binary";
  /** Never hardlink (always copy). */
  noLink?: boolean;
}

/** `info/index.json` fields the installer uses. */
export interface IndexJson {
  /** Package name. */
  name: string;
  /** Version string. */
  version: string;
  /** Build string. */
  build: string;
  /** Build number. */
  build_number?: number;
  /** `python`, `generic` or absent. */
  noarch?: string;
  /** Dependencies. */
  depends?: string[];
  /** Subdir it was built for. */
  subdir?: string;
  /** Every other field. */
  [key: string]: unknown;
}

/** Everything the installer needs to know about one extracted package. */
export interface PackageInfo {
  /** The extracted package directory. */
  dir: string;
  /** Parsed `info/index.json`. */
  index: IndexJson;
  /** Files, links and directories in `paths.json` order. */
  paths: PathEntry[];
  /** Entry points (`name = module:func`) for noarch python packages. */
  entryPoints: string[];
  /** `noarch` type: `python`, `generic`, or undefined. */
  noarch?: "python" | "generic";
}

/** A metadata file's text, or null when the package has none. */
const readOptional = (path: string): Promise<string | null> =>
  readTextOrNull(path, { role: "store" });

/** Parses a metadata file's JSON; a {@link CorruptError} naming the file otherwise. */
function parseJson<T>(dir: string, rel: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new CorruptError(`${dir}/${rel}: ${(err as Error).message}`, {
      cause: err,
      path: `${dir}/${rel}`,
    });
  }
}

/** Splits a `has_prefix` line into tokens, honouring double or single quotes. */
export function splitHasPrefixLine(line: string): string[] {
  const tokens: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const m of line.matchAll(re)) tokens.push(m[1] ?? m[2] ?? m[3]);
  return tokens;
}

/**
 * Parses legacy `info/files`, `info/has_prefix` and `info/no_link` into
 * entries; every path must be safe (`checkPackagePath`, naming `pkg`).
 */
export function legacyPaths(files: string, hasPrefix = "", noLink = "", pkg = "?"): PathEntry[] {
  const prefixed = new Map<string, { placeholder: string; mode: "text" | "binary" }>();
  for (const line of hasPrefix.split("\n")) {
    const t = splitHasPrefixLine(line.trim());
    if (t.length === 1) {
      prefixed.set(checkPackagePath(pkg, t[0], "info/has_prefix"), {
        placeholder: LEGACY_PLACEHOLDER,
        mode: "text",
      });
    } else if (t.length >= 3) {
      prefixed.set(checkPackagePath(pkg, t.slice(2).join(" "), "info/has_prefix"), {
        placeholder: t[0],
        mode: t[1] === "binary" ? "binary" : "text",
      });
    }
  }
  const noLinks = new Set(
    noLink.split("\n").map((l) => l.trim()).filter(Boolean).map((p) =>
      checkPackagePath(pkg, p, "info/no_link")
    ),
  );
  return files.split("\n").map((l) => l.trim()).filter(Boolean).map((path) => {
    checkPackagePath(pkg, path, "info/files");
    const e: PathEntry = { path, type: "hardlink" };
    const p = prefixed.get(path);
    if (p) {
      e.placeholder = p.placeholder;
      e.fileMode = p.mode;
    }
    if (noLinks.has(path)) e.noLink = true;
    return e;
  });
}

/**
 * Reads an extracted package's metadata. Symlinks in legacy packages are
 * detected from the files on disk (legacy metadata does not record them).
 *
 * @throws {PonchoError} when `info/index.json` is missing, or a metadata file is malformed.
 */
export async function readPackageInfo(dir: string): Promise<PackageInfo> {
  const indexText = await readOptional(join(dir, "info", "index.json"));
  if (indexText === null) {
    throw new CorruptError(`package at ${dir} has no info/index.json: not a conda package`, {
      path: dir,
    });
  }
  const index = parseJson<IndexJson>(dir, "info/index.json", indexText);
  const pkg = `${index.name}-${index.version}-${index.build} (${dir})`;
  let paths: PathEntry[];
  const pathsText = await readOptional(join(dir, "info", "paths.json"));
  if (pathsText !== null) {
    const doc = parseJson<{ paths?: Record<string, unknown>[] }>(
      dir,
      "info/paths.json",
      pathsText,
    );
    paths = (doc.paths ?? []).map((p) => {
      const path = checkPackagePath(pkg, p._path, "info/paths.json");
      const e: PathEntry = {
        path,
        type: p.path_type === undefined ? "hardlink" : checkPathType(pkg, path, p.path_type),
      };
      if (typeof p.sha256 === "string") e.sha256 = p.sha256;
      if (typeof p.size_in_bytes === "number") e.size = p.size_in_bytes;
      if (typeof p.prefix_placeholder === "string") {
        e.placeholder = p.prefix_placeholder;
        e.fileMode = p.file_mode === "binary" ? "binary" : "text";
      }
      if (p.no_link === true) e.noLink = true;
      return e;
    });
  } else {
    const files = (await readOptional(join(dir, "info", "files"))) ?? "";
    paths = legacyPaths(
      files,
      (await readOptional(join(dir, "info", "has_prefix"))) ?? "",
      (await readOptional(join(dir, "info", "no_link"))) ?? "",
      pkg,
    );
    for (const e of paths) {
      // A listed file the package lacks is reported when it is linked; here it is no link.
      const st = await statOrNull(join(dir, e.path), {
        follow: false,
        role: "store",
        what: "cannot read",
      });
      if (st?.isSymlink) e.type = "softlink";
    }
  }
  const meta = await readNoarchMetadata(dir);
  const entryPoints = meta.entryPoints;
  let noarch: PackageInfo["noarch"] = meta.type === "python" ? "python" : undefined;
  if (!noarch && (index.noarch === "python" || index.noarch === "generic")) noarch = index.noarch;
  return { dir, index, paths, entryPoints, noarch };
}
