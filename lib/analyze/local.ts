/**
 * Local modules, found the way Python's import system finds them: a script's
 * own directory is searched first; for a file inside a package (its directory
 * has `__init__.py`) the directory above the outermost package is searched
 * instead, so `rich/abc.py` does not hide the stdlib `abc` from
 * `rich/console.py`. A module or package found there is local even when it
 * shadows a PyPI name (`yaml.py` beside the script), except the importing file
 * itself: `wikipedia.py` doing `import wikipedia` still needs the package.
 * Extra search directories (the project root, `$PYTHONPATH`) come after a
 * file's own roots, as on `sys.path`.
 *
 * Besides, a module or package at a project root (the analysed directory, or
 * the nearest ancestor with `pyproject.toml`/`setup.py`/`setup.cfg`) or in
 * its `src/` is local for every file under that root, so `examples/demo.py`
 * importing the project's own package does not ask for it as a dependency.
 * A directory counts as a package when it holds Python files at any depth
 * (namespace packages with files only in subfolders too). A plain module
 * `google.py` does not provide `google.colab`.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { fsError } from "../errors.ts";
import { isAbsent, statOrNull } from "../fs/probe.ts";

/** Finds local modules, caching directory listings. */
export class LocalResolver {
  #listings = new Map<string, Map<string, Deno.DirEntry> | null>();
  #packageDirs = new Map<string, boolean>();
  #extra = new Map<string, Set<string>>();
  #python2: boolean;
  #extraRoots: string[];

  /**
   * @param python2 When the target is Python 2, a file inside a package also
   *   searches its own directory (implicit relative imports).
   * @param extraRoots Absolute directories searched after a file's own roots
   *   (the project roots and their `src/`, then `$PYTHONPATH` entries).
   */
  constructor(python2 = false, extraRoots: string[] = []) {
    this.#python2 = python2;
    this.#extraRoots = extraRoots;
  }

  /** Every directory listed so far (their mtimes decide whether an analysis is still valid). */
  listedDirs(): string[] {
    return [...this.#listings.keys()].sort();
  }

  /** Declares that module `name` will exist in `dir` (e.g. from `%%writefile name.py`). */
  addModule(dir: string, name: string): void {
    const set = this.#extra.get(dir) ?? new Set();
    set.add(name);
    this.#extra.set(dir, set);
  }

  async #list(dir: string): Promise<Map<string, Deno.DirEntry> | null> {
    if (this.#listings.has(dir)) return this.#listings.get(dir)!;
    let listing: Map<string, Deno.DirEntry> | null = new Map();
    try {
      for await (const e of Deno.readDir(dir)) listing.set(e.name, e);
    } catch (err) {
      // An absent search directory holds nothing; one that may not be listed is skipped
      // the way Python's path finder skips it (the import then fails in Python too).
      if (!isAbsent(err) && !(err instanceof Deno.errors.PermissionDenied)) {
        throw fsError(err, dir, { what: "cannot list", role: "input" });
      }
      listing = null;
    }
    this.#listings.set(dir, listing);
    return listing;
  }

  async #isPackage(dir: string): Promise<boolean> {
    if (this.#packageDirs.has(dir)) return this.#packageDirs.get(dir)!;
    const listing = await this.#list(dir);
    const is = !!listing && listing.has("__init__.py");
    this.#packageDirs.set(dir, is);
    return is;
  }

  /**
   * The directories Python searches first for absolute imports made by the
   * file at `file` (an absolute path), outermost rule applied.
   */
  async roots(file: string): Promise<string[]> {
    const own = dirname(file);
    if (!(await this.#isPackage(own))) return [own];
    let top = own;
    while (dirname(top) !== top && (await this.#isPackage(dirname(top)))) top = dirname(top);
    const roots = [dirname(top)];
    if (this.#python2) roots.unshift(own);
    return roots;
  }

  async #searchPath(file: string): Promise<string[]> {
    const roots = await this.roots(file);
    return [...roots, ...this.#extraRoots.filter((d) => !roots.includes(d))];
  }

  /** Whether `dir` holds Python files at most `depth` levels down. */
  async #hasPython(dir: string, depth: number): Promise<boolean> {
    const listing = await this.#list(dir);
    if (!listing) return false;
    if ([...listing.keys()].some((n) => n.endsWith(".py"))) return true;
    if (depth === 0) return false;
    for (const [n, e] of listing) {
      if ((e.isDirectory || e.isSymlink) && !n.startsWith(".") && n !== "__pycache__") {
        if (await this.#hasPython(join(dir, n), depth - 1)) return true;
      }
    }
    return false;
  }

  /**
   * Where directory `dir` holds module `module` (dotted: its first part; a
   * plain module file does not provide `name.sub`), ignoring the file `self`:
   * the package directory or module file, or null.
   */
  async #foundIn(dir: string, module: string, self: string | null): Promise<string | null> {
    const name = module.split(".")[0];
    const dotted = module.includes(".");
    if (this.#extra.get(dir)?.has(name)) return join(dir, name);
    const listing = await this.#list(dir);
    if (!listing) return null;
    const sub = listing.get(name);
    if (sub && (sub.isDirectory || sub.isSymlink)) {
      if (await this.#hasPython(join(dir, name), 3)) return join(dir, name);
    }
    if (dotted) return null; // a plain module is not a package: `google.py` has no `google.colab`
    for (const ext of [".py", ".pyw"]) {
      const e = listing.get(name + ext);
      if (e && !(self && join(dir, name + ext) === self)) return join(dir, name + ext);
    }
    for (const entry of listing.keys()) {
      if (entry.startsWith(name + ".") && /\.(so|pyd)$/.test(entry)) return join(dir, entry);
    }
    return null;
  }

  /**
   * Where the local module `name`, imported by `file`, is: its package
   * directory or module file (absolute), or null when it is not local. Python's
   * own search roots come first, then the extra roots (project roots, `src/`).
   *
   * @param name The module as imported (top-level or dotted).
   * @param file Absolute path of the importing file (for stdin: a path in the cwd).
   */
  async locate(name: string, file: string): Promise<string | null> {
    for (const root of await this.#searchPath(file)) {
      const found = await this.#foundIn(root, name, file);
      if (found !== null) return found;
    }
    return null;
  }

  /**
   * Whether module `name`, imported by `file`, is local (see {@link LocalResolver.locate}).
   *
   * @param name The module as imported (top-level or dotted).
   * @param file Absolute path of the importing file (for stdin: a path in the cwd).
   */
  async isLocal(name: string, file: string): Promise<boolean> {
    return (await this.locate(name, file)) !== null;
  }

  /**
   * The Python source of the local module `name` imported by `file`, to be
   * followed: its `.py`/`.pyw` file or its package directory (as
   * {@link LocalResolver.locate} finds it); `null` when it is not local or has
   * no source to read (compiled only, or only announced by `%%writefile`).
   */
  async source(name: string, file: string): Promise<string | null> {
    const found = await this.locate(name, file);
    if (found === null) return null;
    if (/\.pyw?$/.test(found)) return found;
    const st = await statOrNull(found);
    return st?.isDirectory ? found : null;
  }
}

/** The module name a `%%writefile` path creates in the notebook's directory, if any. */
export function moduleOfWrittenFile(path: string): string | null {
  const first = path.replace(/^\.\//, "").split("/")[0];
  if (first !== path.replace(/^\.\//, "")) return /^[A-Za-z_]\w*$/.test(first) ? first : null;
  const m = /^([A-Za-z_]\w*)\.py$/.exec(basename(first));
  return m ? m[1] : null;
}
