/**
 * Linking an extracted package into a prefix: hardlinks from the package
 * cache where possible, copies where a file must be rewritten or cannot be
 * linked, symlinks and empty directories as recorded, `noarch: python`
 * remapping and entry points.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { createHash } from "node:crypto";
import { PonchoError } from "../errors.ts";
import { fixShebang, replaceBinary, replaceText } from "../env/prefix.ts";
import type { PackageInfo, PathEntry } from "./package_info.ts";
import type { ClobberRegistry } from "./clobber.ts";
import { noarchPythonPath, pythonExecutable, type PythonLayout, pythonLayout } from "./noarch.ts";
import { checkEntryPointName, checkLinkTarget, PrefixGuard } from "./safe_path.ts";
import { removeIfExists } from "../../store/remove.ts";

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

/** Parses an entry point `name = module.sub:func.attr`. */
export function parseEntryPoint(ep: string): { name: string; module: string; func: string } {
  const m = ep.match(/^\s*([^=\s]+)\s*=\s*([\w.]+)\s*:\s*([\w.]+)\s*$/);
  if (!m) throw new PonchoError(`invalid entry point '${ep}' (expected 'name = module:function')`);
  return { name: m[1], module: m[2], func: m[3] };
}

/** The text of a generated entry-point script. */
export function entryPointScript(python: string, module: string, func: string): string {
  const head = func.split(".")[0];
  return `#!${python}
# -*- coding: utf-8 -*-
import re
import sys

from ${module} import ${head}

if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw?|\\.exe)?$", "", sys.argv[0])
    sys.exit(${func}())
`;
}

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
      throw new PonchoError(
        `cannot install ${entry.path}: ${(err as Error).message}; choose a shorter prefix`,
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

function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
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
  const isNoarchPython = info.noarch === "python";
  const python = opts.python ??
    (opts.pythonVersion ? pythonLayout({ version: opts.pythonVersion }) : undefined);
  if (isNoarchPython && !python) {
    throw new PonchoError(
      `${dist} is a noarch: python package but the environment has no python: add python to the spec`,
    );
  }
  let tryHardlink = opts.hardlink ?? true;
  let hardlinkFailed = !tryHardlink;
  const files: string[] = [];
  const pathsData: PathData[] = [];
  const made = new Set<string>();
  // Paths were checked when the metadata was read (package_info.ts); writes are kept inside.
  const pkg = `${info.index.name}-${info.index.version}-${info.index.build} (${info.dir})`;
  const guard = new PrefixGuard(pkg, prefix);
  const lacks = (entry: PathEntry) =>
    new PonchoError(`package ${dist} lacks ${entry.path} listed in its metadata`);
  const mkdirp = (d: string): void => {
    if (made.has(d)) return;
    guard.mkdirp(d);
    made.add(d);
  };
  const claim = (record: PathData) => {
    const before = opts.registry?.claim(record._path, dist);
    if (before) record.clobbers = [before];
  };
  const copyFile = (src: string, dst: string, entry: PathEntry) =>
    Deno.copyFile(src, dst).catch((err) => {
      throw err instanceof Deno.errors.NotFound ? lacks(entry) : err;
    });

  for (const entry of info.paths) {
    const rel = isNoarchPython ? noarchPythonPath(entry.path, python!) : entry.path;
    const src = join(info.dir, entry.path);
    const dst = join(prefix, rel);
    const record: PathData = { _path: rel, path_type: entry.type };
    if (entry.sha256) record.sha256 = entry.sha256;
    if (entry.size !== undefined) record.size_in_bytes = entry.size;
    if (entry.type === "directory") {
      await mkdirp(dst);
      files.push(rel);
      pathsData.push(record);
      continue;
    }
    await mkdirp(dirname(dst));
    claim(record);
    if (entry.type === "softlink") {
      const st = await Deno.lstat(src).catch((err) => {
        throw err instanceof Deno.errors.NotFound ? lacks(entry) : err;
      });
      if (st.isSymlink) {
        const target = await Deno.readLink(src);
        checkLinkTarget(pkg, prefix, rel, target);
        await removeIfExists(dst);
        await Deno.symlink(target, dst);
        made.clear(); // a new link may change where a directory leads: check again
      } else {
        // A symlink the package stored as a regular file (tar.bz2 made on Windows): conda copies it.
        await removeIfExists(dst);
        await copyFile(src, dst, entry);
      }
    } else if (entry.placeholder) {
      record.prefix_placeholder = entry.placeholder;
      record.file_mode = entry.fileMode ?? "text";
      const out = await writeRewritten(src, dst, entry, prefix).catch((err) => {
        throw err instanceof Deno.errors.NotFound ? lacks(entry) : err;
      });
      record.sha256_in_prefix = sha256Hex(out);
      record.size_in_prefix = out.length;
    } else {
      await removeIfExists(dst);
      let linked = false;
      if (entry.noLink) record.no_link = true;
      if (tryHardlink && !entry.noLink) {
        try {
          await Deno.link(src, dst);
          linked = true;
        } catch (err) {
          if (err instanceof Deno.errors.NotFound) throw lacks(entry);
          tryHardlink = false; // another filesystem (EXDEV) or not permitted: copy from now on
          hardlinkFailed = true;
        }
      }
      if (!linked) await copyFile(src, dst, entry);
      record.sha256_in_prefix = entry.sha256 ?? sha256Hex(await Deno.readFile(dst));
      if (record.size_in_bytes === undefined) record.size_in_bytes = (await Deno.stat(dst)).size;
    }
    files.push(rel);
    pathsData.push(record);
  }

  if (isNoarchPython) {
    const exe = join(prefix, pythonExecutable(prefix, python!));
    for (const ep of info.entryPoints) {
      const { name, module, func } = parseEntryPoint(ep);
      checkEntryPointName(pkg, name);
      const rel = `bin/${name}`;
      const dst = join(prefix, rel);
      await mkdirp(dirname(dst));
      await removeIfExists(dst);
      const script = new TextEncoder().encode(entryPointScript(exe, module, func));
      await Deno.writeFile(dst, fixShebang(script, prefix), { mode: 0o755 });
      await Deno.chmod(dst, 0o755);
      const record: PathData = { _path: rel, path_type: "unix_python_entry_point" };
      claim(record);
      files.push(rel);
      pathsData.push(record);
    }
  }
  return { files, pathsData, linkType: hardlinkFailed ? "copy" : "hardlink" };
}
