/**
 * The Python modules a conda package provides, derived from its file list
 * (`info/paths.json` or `info/files`) without running anything.
 *
 * Site-packages roots: `lib/pythonX.Y/site-packages/` (free-threaded
 * `lib/pythonX.Yt/` too), `lib64/...`, `Lib/site-packages/`, the
 * `site-packages/` of `noarch: python` packages, the package's own
 * `python_site_packages_path` (CEP 17), and directories listed in a `.pth`
 * file of a site-packages root (relative lines only; `import` lines are code
 * and ignored).
 *
 * Under a root, a module is a `*.py` file, an extension module (`*.so`,
 * `*.pyd`, including `name.cpython-312-x86_64-linux-gnu.so` and
 * `name.abi3.so`) or a directory holding Python files. A directory without
 * `__init__.py` is a namespace package: it provides nothing itself, and the
 * modules under it are recorded namespace-qualified (`google.cloud.storage`),
 * down to the first regular package or module. Skipped: `tests`/`test`,
 * `*-stubs`, `__pycache__`, `*.dist-info`/`*.egg-info`/`*.data` metadata,
 * `.pyi` stubs and names that are not identifiers.
 *
 * @module
 */

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SKIP_NAMES = new Set(["tests", "test", "__pycache__"]);
const SITE_ROOTS = [
  /^lib(?:64)?\/python\d+\.\d+t?\/site-packages\//,
  /^Lib\/site-packages\//,
  /^site-packages\//,
];

/** What {@link packageModules} needs to know about one package. */
export interface PackageFiles {
  /** Paths relative to the package root, `/`-separated. */
  paths: string[];
  /** `info/index.json`'s `python_site_packages_path`, when set (CEP 17). */
  sitePackagesPath?: string;
  /** Contents of `.pth` files found in a site-packages root, by package path. */
  pth?: Record<string, string>;
}

/** The site-packages root a package path lies under (with trailing `/`), or null. */
export function siteRootOf(path: string, sitePackagesPath?: string): string | null {
  if (sitePackagesPath) {
    const root = sitePackagesPath.replace(/^\/+|\/+$/g, "") + "/";
    if (path.startsWith(root)) return root;
  }
  for (const re of SITE_ROOTS) {
    const m = re.exec(path);
    if (m) return m[0];
  }
  return null;
}

/** The module name of a file name at some level, or null when it is not a module. */
export function moduleOfFile(file: string): string | null {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z0-9_-]+)*\.(?:so|pyd)$/.exec(file) ??
    /^([A-Za-z_][A-Za-z0-9_]*)\.pyw?$/.exec(file);
  return m ? m[1] : null;
}

/** The directories (relative to the site root, with trailing `/`) a `.pth` file adds. */
export function pthDirs(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || /^import[\s\t]/.test(line)) continue;
    if (line.startsWith("/") || /^[A-Za-z]:/.test(line)) continue; // absolute: not ours
    const parts = line.replace(/\\/g, "/").split("/").filter((p) => p && p !== ".");
    if (parts.length === 0 || parts.includes("..")) continue;
    out.push(parts.join("/") + "/");
  }
  return out;
}

interface Node {
  children: Map<string, Node>;
  /** File names directly in this directory. */
  files: Set<string>;
}

const newNode = (): Node => ({ children: new Map(), files: new Set() });

function hasPython(node: Node): boolean {
  for (const f of node.files) if (moduleOfFile(f) !== null) return true;
  for (const [name, child] of node.children) {
    if (!SKIP_NAMES.has(name) && hasPython(child)) return true;
  }
  return false;
}

/** Records the modules of directory `node`, whose contents are importable as `prefix + name`. */
function collect(node: Node, prefix: string, out: Set<string>): void {
  for (const f of node.files) {
    const name = moduleOfFile(f);
    if (name !== null && name !== "__init__" && !SKIP_NAMES.has(name)) out.add(prefix + name);
  }
  for (const [name, child] of node.children) {
    if (!IDENT.test(name) || SKIP_NAMES.has(name) || !hasPython(child)) continue;
    if (
      child.files.has("__init__.py") || [...child.files].some((f) => /^__init__\..*so$/.test(f))
    ) {
      out.add(prefix + name);
    } else {
      collect(child, `${prefix}${name}.`, out); // namespace package
    }
  }
}

/**
 * The importable modules a package provides (sorted): top-level names, and
 * namespace-qualified names under namespace packages (see the module
 * documentation).
 */
export function packageModules(pkg: PackageFiles): string[] {
  const roots = new Map<string, Node>();
  const pthRoots: string[] = [];
  for (const [path, text] of Object.entries(pkg.pth ?? {})) {
    const root = siteRootOf(path, pkg.sitePackagesPath);
    if (root === null || path.slice(root.length).includes("/")) continue;
    for (const dir of pthDirs(text)) pthRoots.push(root + dir);
  }
  pthRoots.sort((a, b) => b.length - a.length);
  for (const raw of pkg.paths) {
    const path = raw.replace(/\\/g, "/").replace(/^\.\//, "");
    const root = pthRoots.find((r) => path.startsWith(r)) ?? siteRootOf(path, pkg.sitePackagesPath);
    if (root === null) continue;
    const parts = path.slice(root.length).split("/").filter(Boolean);
    if (parts.length === 0) continue;
    if (parts.some((p) => p === "__pycache__" || /\.(dist-info|egg-info|data)$/.test(p))) continue;
    if (/-stubs$/.test(parts[0])) continue;
    let node: Node = roots.get(root) ?? newNode();
    roots.set(root, node);
    for (const dir of parts.slice(0, -1)) {
      const next: Node = node.children.get(dir) ?? newNode();
      node.children.set(dir, next);
      node = next;
    }
    node.files.add(parts[parts.length - 1]);
  }
  const out = new Set<string>();
  for (const node of roots.values()) collect(node, "", out);
  return [...out].sort();
}
