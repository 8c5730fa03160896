/**
 * The source files to analyse: explicit files, directories (recursed, in
 * sorted order, skipping VCS, cache, build and virtual-environment
 * directories) and `-` for stdin.
 *
 * @module
 */

import { dirname, join, relative, resolve } from "node:path";
import { NotFoundError } from "../errors.ts";

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
    try {
      await Deno.lstat(join(dir, marker));
      return true;
    } catch {
      // not this marker
    }
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
        // A dangling link named like a source: reading it fails with a warning naming it.
        if (PY_FILE.test(e.name)) {
          const kind = e.name.endsWith(".ipynb") ? "notebook" : "python";
          out.push({ path, absPath: abs, kind, explicit: false, stdin: false });
        }
        continue;
      }
      isDir = false;
    }
    if (isDir) {
      if (skippedDirName(e.name) || (await isEnvironment(abs))) continue;
      try {
        await walk(abs, path, out);
      } catch {
        out.push({ path, absPath: abs, kind: "python", explicit: false, stdin: false });
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
 * @throws {NotFoundError} when a named source does not exist or cannot be listed.
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
      const why = err instanceof Deno.errors.NotFound ? "no such file or directory" : String(err);
      throw new NotFoundError(`source ${src}: ${why}`, { cause: err });
    }
    if (st.isDirectory) {
      try {
        await walk(abs, src.replace(/\/+$/, "") || "/", out);
      } catch (err) {
        throw new NotFoundError(`source ${src}: cannot list directory (${err})`, { cause: err });
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
  if (PY_FILE.test(path) && !(await Deno.stat(path).catch(() => null))?.isDirectory) {
    return [{ path: shown, absPath: path, kind: "python", explicit: false, stdin: false }];
  }
  const out: SourceFile[] = [];
  try {
    await walk(path, shown, out);
  } catch {
    // an unlistable package: nothing to follow
  }
  return out;
}

/** Files whose presence marks a project root. */
const PROJECT_MARKERS = ["pyproject.toml", "setup.py", "setup.cfg", ".git"];

/**
 * The project root of a source: the nearest directory at or above `dir`
 * holding `pyproject.toml`, `setup.py`, `setup.cfg` or `.git`; `null` if none.
 * `memo` (directory -> answer) lets many lookups share their walks up.
 */
export async function projectRoot(
  dir: string,
  memo: Map<string, string | null> = new Map(),
): Promise<string | null> {
  const seen: string[] = [];
  let found: string | null = null;
  for (let d = dir;; d = dirname(d)) {
    if (memo.has(d)) {
      found = memo.get(d)!;
      break;
    }
    seen.push(d);
    let marked = false;
    for (const m of PROJECT_MARKERS) {
      if (await Deno.lstat(join(d, m)).then(() => true, () => false)) {
        marked = true;
        break;
      }
    }
    if (marked) {
      found = d;
      break;
    }
    if (dirname(d) === d) break;
  }
  for (const d of seen) memo.set(d, found);
  return found;
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
    if (!dirs.includes(d) && (await Deno.stat(d).catch(() => null))?.isDirectory) dirs.push(d);
  };
  const starts = [...new Set(files.map((f) => dirname(f.absPath)))];
  const memo = new Map<string, string | null>();
  for (const start of starts) {
    const root = await projectRoot(start, memo);
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
