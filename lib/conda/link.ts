/**
 * Linking an extracted package into a prefix: hardlinks from the package
 * cache where possible, copies where a file must be rewritten or cannot be
 * linked, symlinks and empty directories as recorded, `noarch: python`
 * remapping, and entry points (`entry_points.ts`).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { BuildError } from "../errors.ts";
import { fixShebang, replaceBinary, replaceText } from "../env/prefix.ts";
import type { PackageInfo, PathEntry } from "./package_info.ts";
import type { ClobberRegistry } from "./clobber.ts";
import { noarchPythonPath, pythonExecutable, type PythonLayout, pythonLayout } from "./noarch.ts";
import { checkEntryPointName, checkLinkTarget, PrefixGuard } from "./safe_path.ts";
import { parseEntryPoint, writeEntryPoint } from "./entry_points.ts";
import { removeIfExists } from "../../store/remove.ts";
import { bytesSha256 } from "../sha256.ts";

/** Options for {@link linkPackage}. */
export interface LinkOptions {
  /** The environment prefix (absolute). */
  prefix: string;
  /** `X.Y` of the environment's Python (when `python` is not given). */
  pythonVersion?: string;
  /** The environment's Python layout; `noarch: python` packages need it (or `pythonVersion`). */
  python?: PythonLayout;
  /** Try hardlinks before copying (default true). */
  hardlink?: boolean;
  /** Who placed which path so far; paths this package replaces are reported as clobbers. */
  registry?: ClobberRegistry;
  /** This package as `name-version-build` (for the registry; default from its index.json). */
  dist?: string;
}

/** One record of `paths_data.paths` in conda-meta. */
export interface PathData {
  /** Path relative to the prefix. */
  _path: string;
  /** `hardlink`, `softlink`, `directory`, `pyc_file` or `unix_python_entry_point`. */
  path_type: string;
  /** sha256 of the package's file. */
  sha256?: string;
  /** sha256 of the file as placed in the prefix (differs when a placeholder was rewritten). */
  sha256_in_prefix?: string;
  /** Size of the package's file. */
  size_in_bytes?: number;
  /** Size of the file in the prefix, for rewritten files. */
  size_in_prefix?: number;
  /** Placeholder the package's file holds. */
  prefix_placeholder?: string;
  /** How it was replaced. */
  file_mode?: string;
  /** The package always copies this file. */
  no_link?: boolean;
  /** A later package (`name-version-build`) replaced this path. */
  clobbered_by?: string;
  /** Earlier packages (`name-version-build`) whose copy of this path this one replaced. */
  clobbers?: string[];
}

/** What {@link linkPackage} put into the prefix. */
export interface LinkResult {
  /** Paths relative to the prefix, in order. */
  files: string[];
  /** conda-meta `paths_data` records. */
  pathsData: PathData[];
  /**
   * The link type conda records: `hardlink` when hardlinks worked (files that
   * must be rewritten or never linked are copied all the same), `copy` when
   * the cache is on another filesystem or hardlinks are off.
   */
  linkType: "hardlink" | "copy";
}

export { entryPointScript, parseEntryPoint } from "./entry_points.ts";

async function writeRewritten(
  src: string,
  dst: string,
  entry: PathEntry,
  prefix: string,
): Promise<Uint8Array> {
  const data = await Deno.readFile(src);
  const placeholder = entry.placeholder!;
  let out: Uint8Array;
  if (entry.fileMode === "binary") {
    try {
      out = replaceBinary(data, placeholder, prefix);
    } catch (err) {
      throw new BuildError(
        `cannot install ${entry.path}: ${(err as Error).message}; choose a shorter prefix`,
        { cause: err },
      );
    }
  } else {
    out = fixShebang(replaceText(data, placeholder, prefix), prefix);
  }
  const mode = (await Deno.stat(src)).mode ?? 0o644;
  await removeIfExists(dst);
  await Deno.writeFile(dst, out, { mode: mode & 0o777 });
  await Deno.chmod(dst, mode & 0o7777);
  return out;
}

/** One package being linked: where it goes and what it has placed so far. */
interface Linking {
  /** The prefix (absolute). */
  prefix: string;
  /** The package's extracted cache entry. */
  dir: string;
  /** `name-version-build` (for the registry and errors). */
  dist: string;
  /** The package and its cache entry, named in refusals. */
  pkg: string;
  /** Keeps every directory made inside the prefix. */
  guard: PrefixGuard;
  /** Directories known to be inside (cleared when a new link may redirect one). */
  made: Set<string>;
  /** The install's clobber registry, if any. */
  registry?: ClobberRegistry;
  /** Whether to try a hardlink next (false after one failed: copies from then on). */
  tryHardlink: boolean;
  /** Whether a file was copied because hardlinks did not work (or were off). */
  hardlinkFailed: boolean;
  /** Paths placed, relative to the prefix, in order. */
  files: string[];
  /** Their conda-meta records. */
  pathsData: PathData[];
}

/** Makes directory `d` (absolute, in the prefix) through the guard, once. */
function mkdirp(s: Linking, d: string): void {
  if (s.made.has(d)) return;
  s.guard.mkdirp(d);
  s.made.add(d);
}

/** Registers the path as this package's; records the package it replaced, if any. */
function claim(s: Linking, record: PathData): void {
  const before = s.registry?.claim(record._path, s.dist);
  if (before) record.clobbers = [before];
}

/** The error for a file the package's metadata lists but its cache entry lacks. */
function lacks(s: Linking, entry: PathEntry, cause: unknown): BuildError {
  return new BuildError(`package ${s.dist} lacks ${entry.path} listed in its metadata`, { cause });
}

/** Turns a NotFound of the package's file into {@link lacks}; other errors pass unchanged. */
function lacking(s: Linking, entry: PathEntry): (err: unknown) => never {
  return (err) => {
    throw err instanceof Deno.errors.NotFound ? lacks(s, entry, err) : err;
  };
}

/** Copies the package's file `src` to `dst`. */
async function copyFile(s: Linking, src: string, dst: string, entry: PathEntry): Promise<void> {
  await Deno.copyFile(src, dst).catch(lacking(s, entry));
}

/** Places a `softlink` entry: the link itself, or a copy of a link stored as a file. */
async function linkSoftlink(s: Linking, entry: PathEntry, rel: string, src: string, dst: string) {
  const st = await Deno.lstat(src).catch(lacking(s, entry));
  if (st.isSymlink) {
    const target = await Deno.readLink(src);
    checkLinkTarget(s.pkg, s.prefix, rel, target);
    await removeIfExists(dst);
    await Deno.symlink(target, dst);
    s.made.clear(); // a new link may change where a directory leads: check again
  } else {
    // A symlink the package stored as a regular file (tar.bz2 made on Windows): conda copies it.
    await removeIfExists(dst);
    await copyFile(s, src, dst, entry);
  }
}

/** Places a file holding the placeholder: rewritten for this prefix. */
async function linkRewritten(
  s: Linking,
  entry: PathEntry,
  src: string,
  dst: string,
  record: PathData,
) {
  record.prefix_placeholder = entry.placeholder;
  record.file_mode = entry.fileMode ?? "text";
  const out = await writeRewritten(src, dst, entry, s.prefix).catch(lacking(s, entry));
  record.sha256_in_prefix = bytesSha256(out);
  record.size_in_prefix = out.length;
}

/** Places a file unchanged: a hardlink into the package cache when allowed and possible, else a copy. */
async function linkUnchanged(
  s: Linking,
  entry: PathEntry,
  src: string,
  dst: string,
  record: PathData,
) {
  await removeIfExists(dst);
  let linked = false;
  if (entry.noLink) record.no_link = true;
  if (s.tryHardlink && !entry.noLink) {
    try {
      await Deno.link(src, dst);
      linked = true;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw lacks(s, entry, err);
      s.tryHardlink = false; // another filesystem (EXDEV) or not permitted: copy from now on
      s.hardlinkFailed = true;
    }
  }
  if (!linked) await copyFile(s, src, dst, entry);
  record.sha256_in_prefix = entry.sha256 ?? bytesSha256(await Deno.readFile(dst));
  if (record.size_in_bytes === undefined) record.size_in_bytes = (await Deno.stat(dst)).size;
}

/** Places one `paths.json` entry at `rel` (relative to the prefix) and records it. */
async function linkEntry(s: Linking, entry: PathEntry, rel: string): Promise<void> {
  const src = join(s.dir, entry.path);
  const dst = join(s.prefix, rel);
  const record: PathData = { _path: rel, path_type: entry.type };
  if (entry.sha256) record.sha256 = entry.sha256;
  if (entry.size !== undefined) record.size_in_bytes = entry.size;
  if (entry.type === "directory") {
    mkdirp(s, dst);
  } else {
    mkdirp(s, dirname(dst));
    claim(s, record);
    if (entry.type === "softlink") await linkSoftlink(s, entry, rel, src, dst);
    else if (entry.placeholder) await linkRewritten(s, entry, src, dst, record);
    else await linkUnchanged(s, entry, src, dst, record);
  }
  s.files.push(rel);
  s.pathsData.push(record);
}

/** Writes a `noarch: python` package's entry points into `bin/` and records them. */
async function linkEntryPoints(s: Linking, info: PackageInfo, python: PythonLayout) {
  const exe = join(s.prefix, pythonExecutable(s.prefix, python));
  for (const ep of info.entryPoints) {
    const { name, module, func } = parseEntryPoint(ep);
    checkEntryPointName(s.pkg, name);
    const rel = `bin/${name}`;
    const dst = join(s.prefix, rel);
    mkdirp(s, dirname(dst));
    await writeEntryPoint(dst, exe, module, func, s.prefix);
    const record: PathData = { _path: rel, path_type: "unix_python_entry_point" };
    claim(s, record);
    s.files.push(rel);
    s.pathsData.push(record);
  }
}

/** The environment's Python layout for a package; a noarch python package needs one. */
function linkPython(info: PackageInfo, opts: LinkOptions, dist: string): PythonLayout | undefined {
  const python = opts.python ??
    (opts.pythonVersion ? pythonLayout({ version: opts.pythonVersion }) : undefined);
  if (info.noarch === "python" && !python) {
    throw new BuildError(
      `${dist} is a noarch: python package but the environment has no python: add python to the spec`,
    );
  }
  return python;
}

/**
 * Links one extracted package into `opts.prefix`.
 *
 * @throws {PonchoError} when a binary placeholder is shorter than the prefix,
 *   a recorded file is missing from the package, or noarch python lacks a version.
 */
export async function linkPackage(info: PackageInfo, opts: LinkOptions): Promise<LinkResult> {
  const { prefix } = opts;
  const dist = opts.dist ?? `${info.index.name}-${info.index.version}-${info.index.build}`;
  const python = linkPython(info, opts, dist);
  // Paths were checked when the metadata was read (package_info.ts); writes are kept inside.
  const pkg = `${info.index.name}-${info.index.version}-${info.index.build} (${info.dir})`;
  const tryHardlink = opts.hardlink ?? true;
  const noarchPy = info.noarch === "python";
  const s: Linking = {
    prefix,
    dir: info.dir,
    dist,
    pkg,
    guard: new PrefixGuard(pkg, prefix),
    made: new Set(),
    registry: opts.registry,
    tryHardlink,
    hardlinkFailed: !tryHardlink,
    files: [],
    pathsData: [],
  };
  for (const entry of info.paths) {
    await linkEntry(s, entry, noarchPy ? noarchPythonPath(entry.path, python!) : entry.path);
  }
  if (noarchPy) await linkEntryPoints(s, info, python!);
  return {
    files: s.files,
    pathsData: s.pathsData,
    linkType: s.hardlinkFailed ? "copy" : "hardlink",
  };
}
