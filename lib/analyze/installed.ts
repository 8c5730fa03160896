/**
 * What an installed Python environment provides, read as files without
 * running Python: conda packages from `conda-meta/*.json` file lists and pip
 * distributions from `*.dist-info` / `*.egg-info` (`top_level.txt`, else
 * `RECORD`) under `site-packages`. The result maps import names to the exact
 * distribution and version that provides them.
 *
 * The environment is `--prefix DIR` when given; otherwise `$CONDA_PREFIX` (if
 * set) and the interpreter that `python3` on `PATH` runs, found by following
 * the PATH lookup and symlinks, through pyenv shims (via `PYENV_VERSION`,
 * `.python-version` files and `$PYENV_ROOT/version`). Only when that fails is
 * `python3` run once to print its prefix.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { isAbsent, listDirOrNull, readTextOrNull, statOrNull } from "../fs/probe.ts";
import { runPython3 } from "./python3.ts";
import { fsError } from "../errors.ts";

/** One distribution that provides an import name. */
export interface InstalledDist {
  /** Conda package name, or PEP 503-normalised pip distribution name. */
  name: string;
  /** Installed version. */
  version: string;
  /** `conda` when a conda package owns the files (pin `name=version`), else `pip`. */
  manager: "conda" | "pip";
}

/** The import names an environment provides, and where they were read. */
export interface InstalledIndex {
  /** Import name (top-level, or `a.b` for second level) to the distributions providing it. */
  modules: Map<string, InstalledDist[]>;
  /** The site-packages directories read. */
  sitePackages: string[];
  /** The `conda-meta` directories read. */
  condaMeta: string[];
  /** The interpreter's `X.Y`, when a `lib/pythonX.Y` directory tells it. */
  pythonVersion?: string;
  /** Metadata files that were present but damaged (ignored), one line each naming the file. */
  problems: string[];
}

/** Where to read the environment from. */
export interface InstalledOptions {
  /** An environment prefix (`--prefix`): read only its conda-meta and site-packages. */
  prefix?: string;
  /** Environment variables (`PATH`, `CONDA_PREFIX`, `PYENV_*`, `HOME`); default `Deno.env`. */
  env?: Record<string, string | undefined>;
  /** Directory from which `.python-version` files are looked up; default `Deno.cwd()`. */
  cwd?: string;
  /** Whether `python3` may be run once when the file-only lookup fails (default true). */
  allowExec?: boolean;
}

/** PEP 503 name normalisation: lowercase, runs of `-_.` become `-`. */
export function normalizeDistName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

// Absent files and directories are simply not there (see lib/fs/probe.ts); an
// unreadable one is an error naming it.
const isDir = async (path: string) => (await statOrNull(path))?.isDirectory === true;
const readText = readTextOrNull;
const listDir = async (path: string) => (await listDirOrNull(path)) ?? [];

/** The `X.Y` directories `lib/pythonX.Y` of a prefix, newest first. */
async function libPythonVersions(prefix: string): Promise<string[]> {
  const versions: string[] = [];
  for (const e of await listDir(join(prefix, "lib"))) {
    const m = /^python(\d+\.\d+)$/.exec(e.name);
    if (m && e.isDirectory) versions.push(m[1]);
  }
  return versions.sort((a, b) => {
    const [am, an] = a.split(".").map(Number);
    const [bm, bn] = b.split(".").map(Number);
    return bm - am || bn - an;
  });
}

/** The site-packages (and Debian dist-packages) directories of a prefix that exist. */
export async function sitePackagesOf(prefix: string, version?: string): Promise<string[]> {
  const versions = version ? [version] : await libPythonVersions(prefix);
  const candidates: string[] = [];
  for (const v of versions) {
    candidates.push(join(prefix, "lib", `python${v}`, "site-packages"));
    candidates.push(join(prefix, "lib64", `python${v}`, "site-packages"));
    candidates.push(join(prefix, "local", "lib", `python${v}`, "dist-packages"));
  }
  candidates.push(join(prefix, "lib", "python3", "dist-packages"));
  candidates.push(join(prefix, "Lib", "site-packages"));
  const out: string[] = [];
  for (const c of candidates) {
    if (!(await isDir(c))) continue;
    const real = await Deno.realPath(c);
    if (!out.includes(real)) out.push(real);
  }
  return out;
}

/** An interpreter found on PATH: its prefix and, when known, `X.Y`. */
export interface FoundPython {
  /** The installation prefix (the directory holding `bin/` and `lib/`). */
  prefix: string;
  /** `X.Y`, when the executable name or `lib/pythonX.Y` tells it. */
  version?: string;
  /** How it was found: `path`, `pyenv` or `exec`. */
  how: "path" | "pyenv" | "exec";
}

function pathDirs(env: Record<string, string | undefined>): string[] {
  return (env.PATH ?? "").split(":").filter((d) => d !== "");
}

async function isExecutableFile(path: string): Promise<boolean> {
  const st = await statOrNull(path);
  return st !== null && st.isFile && (st.mode === null || (st.mode & 0o111) !== 0);
}

/**
 * The text of an executable found on PATH, or null when it may be run but not
 * read (mode `--x`: then it is not known what it is, and `python3` is asked).
 */
async function readExecutable(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.PermissionDenied || isAbsent(err)) return null;
    throw err;
  }
}

function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c &&
    bytes[3] === 0x46;
}

/** The pyenv version names in effect, in order (PYENV_VERSION, .python-version, global). */
async function pyenvVersionNames(
  root: string,
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<string[]> {
  const split = (text: string) =>
    text.split(/[\s:]+/).map((s) => s.trim()).filter((s) => s && !s.startsWith("#"));
  if (env.PYENV_VERSION) return split(env.PYENV_VERSION);
  for (let dir = resolve(cwd);; dir = dirname(dir)) {
    const text = await readText(join(dir, ".python-version"));
    if (text !== null) return split(text);
    if (dirname(dir) === dir) break;
  }
  const global = await readText(join(root, "version"));
  return global !== null ? split(global) : ["system"];
}

async function prefixOfExecutable(real: string): Promise<FoundPython> {
  const prefix = dirname(dirname(real));
  const m = /^python(\d+\.\d+)$/.exec(basename(real));
  const version = m ? m[1] : (await libPythonVersions(prefix))[0];
  return { prefix, version, how: "path" };
}

/**
 * Finds the interpreter `python3` on `PATH` runs, without running it: follows
 * the PATH lookup and symlinks; a pyenv shim is resolved through pyenv's own
 * version files (`system` continues the PATH search past the shims).
 *
 * @returns null when no usable `python3` is found this way.
 */
export async function findPythonOnPath(
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<FoundPython | null> {
  const skip = new Set<string>();
  for (const dir of pathDirs(env)) {
    if (skip.has(resolve(dir))) continue;
    const candidate = join(dir, "python3");
    if (!(await isExecutableFile(candidate))) continue;
    const real = await Deno.realPath(candidate);
    const bytes = await readExecutable(real);
    if (bytes === null) return null; // unreadable: the caller asks python3 itself
    if (isElf(bytes)) return await prefixOfExecutable(real);
    const script = new TextDecoder().decode(bytes);
    if (!script.startsWith("#!") || !/pyenv/.test(script)) return null; // unknown wrapper
    const root = env.PYENV_ROOT ?? /PYENV_ROOT="([^"]+)"/.exec(script)?.[1] ?? dirname(dir);
    let system = false;
    for (const name of await pyenvVersionNames(root, env, cwd)) {
      if (name === "system") {
        system = true;
        break;
      }
      const exe = join(root, "versions", name, "bin", "python3");
      if (await isExecutableFile(exe)) {
        const found = await prefixOfExecutable(await Deno.realPath(exe));
        return { ...found, prefix: join(root, "versions", name), how: "pyenv" };
      }
    }
    if (!system) return null;
    skip.add(resolve(dir));
  }
  return null;
}

/** Runs `python3` once to print its prefix and version (the fallback). */
async function askPython(env: Record<string, string | undefined>): Promise<FoundPython | null> {
  const out = await runPython3(
    ["-c", "import sys;print(sys.prefix);print('%d.%d' % sys.version_info[:2])"],
    {
      env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<
        string,
        string
      >,
      clearEnv: true,
      stderr: "null",
    },
  );
  if (!out?.success) return null;
  const [prefix, version] = new TextDecoder().decode(out.stdout).trim().split("\n");
  return prefix ? { prefix, version, how: "exec" } : null;
}

/** Top-level and second-level import names from site-packages-relative paths. */
function modulesFromPaths(paths: Iterable<string>): Set<string> {
  const names = new Set<string>();
  const strip = (part: string) => part.replace(/\.(py|pyc|so|pyd|pyi)$/, "").split(".")[0];
  for (const raw of paths) {
    const parts = raw.replace(/\\/g, "/").split("/").filter((p) => p !== "" && p !== ".");
    if (parts.length === 0) continue;
    const first = parts[0];
    if (
      first === ".." || first === "__pycache__" || first === "bin" ||
      /\.(dist-info|egg-info|pth|egg-link|data)$/.test(first)
    ) continue;
    if (parts.length === 1 && !/\.(py|so|pyd)$/.test(first)) continue;
    const top = strip(first);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(top)) continue;
    names.add(top);
    if (parts.length >= 3 || (parts.length === 2 && /\.(py|so|pyd)$/.test(parts[1]))) {
      const second = strip(parts[1]);
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(second) && second !== "__init__") {
        names.add(`${top}.${second}`);
      }
    }
  }
  return names;
}

const SITE_RE = /^(?:lib\/python\d+\.\d+\/site-packages|Lib\/site-packages)\/(.+)$/;

interface CondaRecord {
  name: string;
  version: string;
  /** site-packages-relative paths owned by the package. */
  sitePaths: string[];
}

async function readCondaMeta(dir: string, problems: string[]): Promise<CondaRecord[]> {
  const records: CondaRecord[] = [];
  for (const e of await listDir(dir)) {
    if (!e.name.endsWith(".json")) continue;
    const text = await readText(join(dir, e.name));
    if (text === null) continue; // removed meanwhile
    let meta: { name?: unknown; version?: unknown; files?: unknown; paths_data?: unknown };
    try {
      meta = JSON.parse(text);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      problems.push(`${join(dir, e.name)}: not valid JSON (${err.message}); its package ignored`);
      continue;
    }
    if (typeof meta.name !== "string" || typeof meta.version !== "string") continue;
    let files: string[] = Array.isArray(meta.files) ? meta.files.map(String) : [];
    const pd = meta.paths_data as { paths?: { _path?: string }[] } | undefined;
    if (files.length === 0 && Array.isArray(pd?.paths)) {
      files = pd.paths.map((p) => String(p._path ?? ""));
    }
    const sitePaths: string[] = [];
    for (const f of files) {
      const m = SITE_RE.exec(f.replace(/\\/g, "/"));
      if (m) sitePaths.push(m[1]);
    }
    records.push({ name: meta.name, version: meta.version, sitePaths });
  }
  return records;
}

function parseHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === "") break;
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
    if (m && !headers.has(m[1].toLowerCase())) headers.set(m[1].toLowerCase(), m[2].trim());
  }
  return headers;
}

function recordPaths(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === "") continue;
    if (line.startsWith('"')) {
      const end = line.indexOf('"', 1);
      out.push(line.slice(1, end < 0 ? undefined : end));
    } else out.push(line.split(",")[0]);
  }
  return out;
}

function add(modules: Map<string, InstalledDist[]>, name: string, dist: InstalledDist): void {
  const list = modules.get(name) ?? [];
  if (!list.some((d) => d.name === dist.name && d.manager === dist.manager)) list.push(dist);
  modules.set(name, list);
}

/** Reads one site-packages directory into `modules`. */
async function readSitePackages(
  site: string,
  condaOwned: Map<string, InstalledDist>,
  modules: Map<string, InstalledDist[]>,
): Promise<void> {
  for (const e of await listDir(site)) {
    const m = /^(.+)\.(dist-info|egg-info)$/.exec(e.name);
    if (!m) continue;
    const meta = join(site, e.name);
    let headersText: string | null = null;
    let top: string | null = null;
    let record: string | null = null;
    if (e.isDirectory) {
      headersText = await readText(join(meta, m[2] === "dist-info" ? "METADATA" : "PKG-INFO"));
      top = await readText(join(meta, "top_level.txt"));
      record = await readText(join(meta, m[2] === "dist-info" ? "RECORD" : "installed-files.txt"));
    } else if (e.isFile) {
      headersText = await readText(meta); // a single-file egg-info is PKG-INFO itself
    }
    const headers = parseHeaders(headersText ?? "");
    const [stemName, stemVersion] = m[1].split("-");
    const name = headers.get("name") ?? stemName;
    const version = headers.get("version") ?? stemVersion;
    if (!name || !version) continue;
    const dist: InstalledDist = condaOwned.get(e.name) ??
      { name: normalizeDistName(name), version, manager: "pip" };
    const paths = record ? recordPaths(record) : [];
    if (m[2] === "egg-info") {
      // installed-files.txt paths are relative to the egg-info directory
      for (let i = 0; i < paths.length; i++) paths[i] = paths[i].replace(/^\.\.\//, "");
    }
    const names = modulesFromPaths(paths);
    if (top !== null) {
      const declared = top.split(/\r?\n/).map((s) => s.trim().replace(/\//g, ".")).filter(Boolean);
      for (const n of declared) add(modules, n, dist);
      for (const n of names) {
        if (n.includes(".") && declared.includes(n.split(".")[0])) add(modules, n, dist);
      }
    } else {
      for (const n of names) add(modules, n, dist);
    }
  }
}

/** The prefixes to read, in order, and the interpreter version they tell. */
async function environmentPrefixes(
  options: InstalledOptions,
  env: Record<string, string | undefined>,
): Promise<{ prefixes: { prefix: string; version?: string }[]; pythonVersion?: string }> {
  if (options.prefix !== undefined) {
    const pythonVersion = (await libPythonVersions(options.prefix))[0];
    return { prefixes: [{ prefix: options.prefix, version: pythonVersion }], pythonVersion };
  }
  const prefixes: { prefix: string; version?: string }[] = [];
  if (env.CONDA_PREFIX) prefixes.push({ prefix: env.CONDA_PREFIX });
  let found = await findPythonOnPath(env, options.cwd ?? Deno.cwd());
  if (!found && options.allowExec !== false) found = await askPython(env);
  if (found) prefixes.push({ prefix: found.prefix, version: found.version });
  return { prefixes, pythonVersion: found?.version };
}

/** Reads one prefix's `conda-meta` into `index`; returns the dist-info names conda owns. */
async function readCondaPrefix(
  real: string,
  index: InstalledIndex,
): Promise<Map<string, InstalledDist>> {
  const condaOwned = new Map<string, InstalledDist>();
  const metaDir = join(real, "conda-meta");
  if (!(await isDir(metaDir))) return condaOwned;
  index.condaMeta.push(metaDir);
  for (const rec of await readCondaMeta(metaDir, index.problems)) {
    const dist: InstalledDist = { name: rec.name, version: rec.version, manager: "conda" };
    for (const p of rec.sitePaths) {
      const first = p.split("/")[0];
      if (/\.(dist-info|egg-info)$/.test(first)) condaOwned.set(first, dist);
    }
    for (const n of modulesFromPaths(rec.sitePaths)) add(index.modules, n, dist);
  }
  return condaOwned;
}

/** The real path of a prefix, or null when it does not exist (a stale `$CONDA_PREFIX`). */
async function realPrefix(prefix: string): Promise<string | null> {
  try {
    return await Deno.realPath(prefix);
  } catch (err) {
    if (isAbsent(err)) return null;
    throw fsError(err, prefix, { what: "cannot read the environment", role: "input" });
  }
}

/**
 * Reads the installed environment (see the module documentation).
 *
 * @param options Where to look; by default `$CONDA_PREFIX` and `python3` on `PATH`.
 * @throws {PermissionError} when a metadata file or directory that is there cannot be read.
 */
export async function readInstalled(options: InstalledOptions = {}): Promise<InstalledIndex> {
  const env = options.env ?? Deno.env.toObject();
  const { prefixes, pythonVersion } = await environmentPrefixes(options, env);
  const index: InstalledIndex = {
    modules: new Map(),
    sitePackages: [],
    condaMeta: [],
    pythonVersion,
    problems: [],
  };
  const seenPrefix = new Set<string>();
  for (const { prefix, version } of prefixes) {
    const real = await realPrefix(prefix);
    if (real === null || seenPrefix.has(real)) continue;
    seenPrefix.add(real);
    const condaOwned = await readCondaPrefix(real, index);
    for (const site of await sitePackagesOf(real, version)) {
      if (index.sitePackages.includes(site)) continue;
      index.sitePackages.push(site);
      await readSitePackages(site, condaOwned, index.modules);
    }
  }
  return index;
}

/**
 * The distribution that provides a (possibly dotted) import, preferring the
 * most specific name (`google.protobuf` over `google`), a conda package over a
 * pip one, and a distribution named like the import.
 *
 * @param index From {@link readInstalled}.
 * @param module The module as imported, e.g. `google.protobuf.message`.
 */
export function lookupInstalled(index: InstalledIndex, module: string): InstalledDist | null {
  const parts = module.split(".");
  for (let n = Math.min(parts.length, 2); n >= 1; n--) {
    const key = parts.slice(0, n).join(".");
    const dists = index.modules.get(key);
    if (!dists || dists.length === 0) continue;
    const wanted = normalizeDistName(parts[0]);
    const ranked = [...dists].sort((a, b) =>
      (a.manager === "conda" ? 0 : 1) - (b.manager === "conda" ? 0 : 1) ||
      (normalizeDistName(a.name) === wanted ? 0 : 1) -
        (normalizeDistName(b.name) === wanted ? 0 : 1) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    );
    return ranked[0];
  }
  return null;
}
