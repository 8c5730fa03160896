/**
 * The source files to analyse: explicit files, directories (recursed, in
 * sorted order, skipping VCS, cache, build and virtual-environment
 * directories) and `-` for stdin.
 *
 * @module
 */

import { dirname, join, relative, resolve } from "node:path";
import { fsError } from "../errors.ts";
import { isAbsent, statOrNull } from "../fs/probe.ts";
import { findProjectRoot } from "./project_root.ts";

/** One source to analyse. */
export interface SourceFile {
  /** The path as shown in messages (as given, or joined under a given directory); `-` for stdin. */
  path: string;
  /** Absolute path; for stdin a path in the working directory (for local-module lookups). */
  absPath: string;
  /** `notebook` for `.ipynb`, else `python` (stdin is decided from its content). */
  kind: "python" | "notebook";
  /** True when named on the command line (a read failure is then an error, not a warning). */
  explicit: boolean;
  /** True for stdin. */
  stdin: boolean;
  /**
   * For a directory inside a tree that could not be listed: the error that
   * stopped the listing (reading this entry throws it, so that it becomes a
   * warning naming the directory and the reason).
   */
  unlisted?: unknown;
}

/** Directory names never recursed into. */
export const SKIP_DIRS: ReadonlySet<string> = new Set([
  "__pycache__",
  "node_modules",
  "build",
  "dist",
  "site-packages",
  "dist-packages",
  "venv",
  "htmlcov",
  "__pypackages__",
]);

/** File extensions analysed when found in a directory. */
const PY_FILE = /\.(py|pyw|ipynb)$/;

async function isEnvironment(dir: string): Promise<boolean> {
  for (const marker of ["pyvenv.cfg", "conda-meta"]) {
    if (await statOrNull(join(dir, marker), { follow: false })) return true;
  }
  return false;
}

/** Whether a directory entry name is skipped during recursion. */
export function skippedDirName(name: string): boolean {
  return name.startsWith(".") || SKIP_DIRS.has(name) || name.endsWith(".egg-info");
}

async function walk(dir: string, shown: string, out: SourceFile[]): Promise<void> {
  const entries: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(dir)) entries.push(e);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const abs = join(dir, e.name);
    const path = shown === "." ? e.name : join(shown, e.name);
    let isDir = e.isDirectory;
    let isFile = e.isFile;
    if (e.isSymlink) {
      try {
        const st = await Deno.stat(abs);
        isFile = st.isFile; // symlinked files are followed, symlinked directories are not
      } catch {
        // Any failure (dangling, a loop, denied) is kept, not swallowed: a link named like a
        // source is returned, and reading it fails with a warning naming it and the reason;
        // other names would be skipped even if the link resolved (directories are not followed).
        if (PY_FILE.test(e.name)) {
          const kind = e.name.endsWith(".ipynb") ? "notebook" : "python";
          out.push({ path, absPath: abs, kind, explicit: false, stdin: false });
        }
        continue;
      }
      isDir = false;
    }
    if (isDir) {
      if (skippedDirName(e.name)) continue;
      try {
        if (await isEnvironment(abs)) continue;
        await walk(abs, path, out);
      } catch (err) {
        // A directory that cannot be inspected or listed: not swallowed, the entry carries the
        // error, reported as a warning naming it when it is read.
        out.push({
          path,
          absPath: abs,
          kind: "python",
          explicit: false,
          stdin: false,
          unlisted: err,
        });
      }
    } else if (isFile && PY_FILE.test(e.name)) {
      const kind = e.name.endsWith(".ipynb") ? "notebook" : "python";
      out.push({ path, absPath: abs, kind, explicit: false, stdin: false });
    }
  }
}

/**
 * Expands the `source` arguments into files.
 *
 * A directory that cannot be listed inside a tree is returned as a
 * (non-explicit) entry so that reading it fails with a warning.
 *
 * @param sources Files, directories or `-`.
 * @param cwd Base for relative paths (default `Deno.cwd()`).
 * @throws {NotFoundError} when a named source does not exist.
 * @throws {PermissionError} when a named source cannot be inspected or listed (exit 2).
 */
export async function discoverSources(sources: string[], cwd = Deno.cwd()): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  for (const src of sources) {
    if (src === "-") {
      out.push({ path: "-", absPath: join(cwd, "-"), kind: "python", explicit: true, stdin: true });
      continue;
    }
    const abs = resolve(cwd, src);
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(abs);
    } catch (err) {
      throw fsError(err, src, { what: "source", role: "input" });
    }
    if (st.isDirectory) {
      try {
        await walk(abs, src.replace(/\/+$/, "") || "/", out);
      } catch (err) {
        throw fsError(err, src, { what: "cannot list source directory", role: "input" });
      }
    } else {
      const kind = src.endsWith(".ipynb") ? "notebook" : "python";
      out.push({ path: src, absPath: abs, kind, explicit: true, stdin: false });
    }
  }
  return out;
}

/** How a path is shown in messages: relative to `cwd` when inside it, else absolute. */
export function shownPath(abs: string, cwd: string): string {
  const rel = relative(cwd, abs);
  return rel === "" ? "." : rel.startsWith("..") ? abs : rel;
}

/**
 * The files of a local module found while following imports: the `.py`
 * file itself, or every source of a package directory (recursively, with
 * the same skipping rules as a directory source). None is explicit.
 */
export async function moduleSources(path: string, cwd = Deno.cwd()): Promise<SourceFile[]> {
  const shown = shownPath(path, cwd);
  if (PY_FILE.test(path) && !(await statOrNull(path))?.isDirectory) {
    return [{ path: shown, absPath: path, kind: "python", explicit: false, stdin: false }];
  }
  const out: SourceFile[] = [];
  try {
    await walk(path, shown, out);
  } catch (err) {
    if (isAbsent(err)) return []; // removed since it was found
    // An unlistable package: its entry carries the error, a warning when it is read.
    return [{
      path: shown,
      absPath: path,
      kind: "python",
      explicit: false,
      stdin: false,
      unlisted: err,
    }];
  }
  return out;
}

/**
 * The directories searched for local modules besides each file's own: the
 * project roots of the sources (and their `src/`), then the `$PYTHONPATH`
 * entries (relative ones against `cwd`), in that order, existing ones only.
 */
export async function extraSearchDirs(
  files: SourceFile[],
  pythonPath: string | undefined,
  cwd: string,
): Promise<string[]> {
  const dirs: string[] = [];
  const add = async (d: string) => {
    if (!dirs.includes(d) && (await statOrNull(d))?.isDirectory) dirs.push(d);
  };
  const starts = [...new Set(files.map((f) => dirname(f.absPath)))];
  const memo = new Map<string, string | null>();
  for (const start of starts) {
    const root = await findProjectRoot(start, memo);
    if (root) {
      await add(root);
      await add(join(root, "src"));
    }
  }
  for (const entry of (pythonPath ?? "").split(":")) {
    if (entry !== "") await add(resolve(cwd, entry));
  }
  return dirs;
}
