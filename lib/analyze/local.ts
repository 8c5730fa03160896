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
 * @module
 */

import { basename, dirname, join } from "node:path";

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
   *   (the project root, `$PYTHONPATH` entries).
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
    } catch {
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

  /** Whether directory `dir` holds a module or package `name` (ignoring the file `self`). */
  async #foundIn(dir: string, name: string, self: string | null): Promise<boolean> {
    if (this.#extra.get(dir)?.has(name)) return true;
    const listing = await this.#list(dir);
    if (!listing) return false;
    for (const ext of [".py", ".pyw"]) {
      const e = listing.get(name + ext);
      if (e && !(self && join(dir, name + ext) === self)) return true;
    }
    const sub = listing.get(name);
    if (sub && (sub.isDirectory || sub.isSymlink)) {
      const inner = await this.#list(join(dir, name));
      if (inner && [...inner.keys()].some((n) => n.endsWith(".py"))) return true;
    }
    for (const entry of listing.keys()) {
      if (entry.startsWith(name + ".") && /\.(so|pyd)$/.test(entry)) return true;
    }
    return false;
  }

  /**
   * Whether top-level module `name`, imported by `file`, is local.
   *
   * @param name Top-level module name.
   * @param file Absolute path of the importing file (for stdin: a path in the cwd).
   */
  async isLocal(name: string, file: string): Promise<boolean> {
    for (const root of await this.#searchPath(file)) {
      if (await this.#foundIn(root, name, file)) return true;
    }
    return false;
  }

  /**
   * Where the local module `name` imported by `file` is defined: its `.py`
   * file or its package directory, in search order; `null` when it is not a
   * local Python module (absent, compiled only, or only announced by
   * `%%writefile`).
   */
  async locate(name: string, file: string): Promise<string | null> {
    for (const root of await this.#searchPath(file)) {
      const found = await this.#pythonIn(root, name, file);
      if (found) return found;
    }
    return null;
  }

  /** The module file or package directory `name` in `dir` (ignoring the file `self`). */
  async #pythonIn(dir: string, name: string, self: string | null): Promise<string | null> {
    const listing = await this.#list(dir);
    if (!listing) return null;
    for (const ext of [".py", ".pyw"]) {
      const path = join(dir, name + ext);
      if (listing.has(name + ext) && path !== self) return path;
    }
    const sub = listing.get(name);
    if (sub && (sub.isDirectory || sub.isSymlink)) {
      const inner = await this.#list(join(dir, name));
      if (inner && [...inner.keys()].some((n) => n.endsWith(".py"))) return join(dir, name);
    }
    return null;
  }
}

/** The module name a `%%writefile` path creates in the notebook's directory, if any. */
export function moduleOfWrittenFile(path: string): string | null {
  const first = path.replace(/^\.\//, "").split("/")[0];
  if (first !== path.replace(/^\.\//, "")) return /^[A-Za-z_]\w*$/.test(first) ? first : null;
  const m = /^([A-Za-z_]\w*)\.py$/.exec(basename(first));
  return m ? m[1] : null;
}
