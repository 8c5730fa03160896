/**
 * `poncho analyze` as a library call: Python sources (files, directories,
 * notebooks, stdin) in, a conda environment spec out, with the reason for
 * every dependency when asked (`explain`).
 *
 * Each top-level imported module is classified in Python's own order: a
 * relative import or a module found on the importing file's search path is
 * `local`; a standard module of any known version is `stdlib` (with a warning
 * when the target version lacks it); anything else is `third-party` and goes
 * through {@link resolvePackage}.
 *
 * The local modules the sources import are followed (their files analysed
 * too, recursively): found beside the importing file, in the project root or
 * on `$PYTHONPATH`, as Python would find them. `poncho run script.py` uses
 * this same closure.
 *
 * @module
 */

import { decodePythonSource } from "./decode.ts";
import { scanImports } from "./scan.ts";
import type { ImportRecord } from "./types.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import { checkMatchSpec } from "../envspec/parse.ts";
import { dirname, join, resolve as resolvePath } from "node:path";
import {
  discoverSources,
  extraSearchDirs,
  moduleSources,
  shownPath,
  type SourceFile,
} from "./sources.ts";
import { readNotebook } from "./notebook.ts";
import { parseScriptMetadata, pythonSpecFromRequires } from "./pep723.ts";
import { classifyStdlib, parseMinorVersion, stdlibVersionFor } from "./stdlib.ts";
import { LocalResolver, moduleOfWrittenFile } from "./local.ts";
import { type InstalledIndex, normalizeDistName, readInstalled } from "./installed.ts";
import { choiceFromText, type PackageChoice, parsePkgMapping } from "./mapping.ts";
import { buildSpec, type ExplainRecord, type PonchoSpec } from "./spec_out.ts";
import { resolveImport } from "./resolve.ts";
import { loadResolveContext } from "./resolve_context.ts";
import { defaultStoreRoot, storeLayout } from "../../store/layout.ts";

/** Options of {@link analyze}; the CLI options map one to one. */
export interface AnalyzeOptions {
  /** Files, directories, or `-` for stdin (see `stdin`). */
  sources: string[];
  /** `--toplevel`: only module-level imports. */
  toplevel?: boolean;
  /** `--function NAME`: only imports inside that function (with `toplevel`: both). */
  function?: string;
  /** `--pkg-mapping IMPORT=NAME` entries (`NAME` may be `pip:NAME`). */
  pkgMappings?: string[];
  /** `--extra-pkg PKG` entries, added as given (`pip:PKG` goes under pip). */
  extraPkgs?: string[];
  /** `--python X.Y`: the target; default the version of `python3` found, else 3.12. */
  python?: string;
  /** `--explain`: include `imports` records in the spec. */
  explain?: boolean;
  /** `--prefix DIR`: read installed packages from this environment only. */
  prefix?: string;
  /** Read installed metadata at all (default true); false maps by table and name only. */
  useInstalled?: boolean;
  /** The content of source `-` (the CLI passes stdin). */
  stdin?: Uint8Array | string;
  /** Base for relative paths (default `Deno.cwd()`). */
  cwd?: string;
  /**
   * Environment (`PATH`, `CONDA_PREFIX`, `PYENV_*`) to find `python3` in, and
   * `PYTHONPATH` to find local modules on (default `Deno.env`).
   */
  env?: Record<string, string | undefined>;
  /** Follow the local modules the sources import (default true). */
  follow?: boolean;
  /**
   * Leave the Python version to the solver: without `python` and without a
   * PEP 723 `requires-python` the spec says plain `python`, no interpreter
   * is asked, and stdlib checks use {@link DEFAULT_PYTHON}. Automatic
   * environments use this so that their identity never depends on the host.
   */
  unpinnedPython?: boolean;
  /**
   * `-c/--channel`: the channels written into the spec, whose import maps
   * name packages (default `["conda-forge"]`).
   */
  channels?: string[];
  /** The conda platform whose import maps are read (default: this machine's). */
  platform?: string;
  /**
   * The store whose repodata cache keeps remote channels' import maps
   * (default: the default store; `null`: no cache).
   */
  store?: string | null;
}

/** The result of {@link analyze}. */
export interface AnalyzeResult {
  /** The spec (with `imports` when `explain` was set). */
  spec: PonchoSpec;
  /** The target Python `X.Y`. */
  python: string;
  /** One-line warnings, `file:line: message` where a place is known. */
  warnings: string[];
  /** Every explain record (also computed when `explain` is off). */
  imports: ExplainRecord[];
  /** Absolute paths of every file read (given and followed), sorted; stdin excluded. */
  files: string[];
  /** Directories whose listings decided what is local (for cache validation), sorted. */
  dirs: string[];
}

/** The default target when no interpreter is found. */
export const DEFAULT_PYTHON = "3.12";

interface Occurrence {
  module: string;
  kind: ExplainRecord["kind"];
  choice?: PackageChoice;
  optional: boolean;
  location: string;
}

/** One unit of Python to scan: a file, or one notebook cell. */
interface Unit {
  source: SourceFile;
  /** Reached by following a local import (not given). */
  followed: boolean;
  /**
   * The PEP 723 `dependencies` governing this unit: its own script block's,
   * or that of the script whose imports led here. They win over inferred names.
   */
  declared?: string[];
  text: string;
  /** Formats a location from a 1-based line. */
  where: (line: number) => string;
}

/** Default limit on one source file's size, in MB (`PONCHO_MAX_SOURCE_MB` changes it). */
export const DEFAULT_MAX_SOURCE_MB = 16;

/** A source that is refused (not a regular file, too large): skipped with a warning. */
class RefusedSource extends Error {}

function maxSourceBytes(): number {
  const raw = Deno.env.get("PONCHO_MAX_SOURCE_MB");
  const mb = raw === undefined || raw === "" ? DEFAULT_MAX_SOURCE_MB : Number(raw);
  if (!Number.isFinite(mb) || mb <= 0) {
    throw new UsageError(`PONCHO_MAX_SOURCE_MB='${raw}' is not a positive number of megabytes`);
  }
  return Math.floor(mb * 1024 * 1024);
}

async function readSource(file: SourceFile, stdin: AnalyzeOptions["stdin"]): Promise<Uint8Array> {
  if (file.stdin) {
    if (stdin === undefined) return new Uint8Array();
    return typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin;
  }
  const max = maxSourceBytes();
  const st = await Deno.stat(file.absPath);
  if (!st.isFile) throw new RefusedSource("not a regular file (a device, FIFO or socket)");
  const tooBig = () =>
    new RefusedSource(`larger than ${max / 1048576} MB (raise PONCHO_MAX_SOURCE_MB to read it)`);
  if (st.size > max) throw tooBig();
  using f = await Deno.open(file.absPath);
  const buf = new Uint8Array(Math.min(st.size, max) + 1);
  let n = 0;
  for (let r; n < buf.length && (r = await f.read(buf.subarray(n))) !== null;) n += r;
  if (n > max) throw tooBig(); // it grew meanwhile
  return buf.subarray(0, n);
}

function looksLikeNotebook(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return bytes[i] === 0x7b; // "{": Python source cannot start a statement with a dict display
}

async function targetVersion(
  options: AnalyzeOptions,
  installed: InstalledIndex | undefined,
): Promise<string> {
  if (options.python !== undefined) {
    const parsed = parseMinorVersion(options.python);
    if (!parsed) {
      throw new UsageError(`--python ${options.python}: expected a version like 3.11`);
    }
    stdlibVersionFor(options.python); // validates the major version
    return `${parsed[0]}.${parsed[1]}`;
  }
  if (options.unpinnedPython) return DEFAULT_PYTHON;
  if (installed?.pythonVersion) return installed.pythonVersion;
  try {
    const out = await new Deno.Command("python3", {
      args: ["--version"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    const m = /Python (\d+\.\d+)/.exec(text);
    if (out.success && m) return m[1];
  } catch {
    // no python3
  }
  return DEFAULT_PYTHON;
}

/**
 * Analyses Python sources and builds their environment spec.
 *
 * @throws {UsageError} for bad options (`--python`, `--pkg-mapping`, an unknown `--function`).
 * @throws {NotFoundError} when a named source is missing or unreadable.
 */
export async function analyze(options: AnalyzeOptions): Promise<AnalyzeResult> {
  if (options.sources.length === 0) throw new UsageError("no source given: name files, dirs or -");
  const userMappings = new Map<string, string>();
  for (const arg of options.pkgMappings ?? []) {
    const { module, target } = parsePkgMapping(arg);
    userMappings.set(module, target);
  }
  for (const extra of options.extraPkgs ?? []) {
    const c = choiceFromText(extra, "user");
    if (c.manager !== "pip") checkMatchSpec(c.spec, `--extra-pkg ${extra}`);
  }
  if (options.python !== undefined) stdlibVersionFor(options.python);
  const cwd = options.cwd ?? Deno.cwd();
  if (options.prefix !== undefined) {
    const st = await Deno.stat(resolvePath(cwd, options.prefix)).catch(() => null);
    if (!st?.isDirectory) {
      throw new NotFoundError(`--prefix ${options.prefix}: no such environment directory`);
    }
  }
  const files = await discoverSources(options.sources, cwd);

  const installed = options.useInstalled === false
    ? undefined
    : await readInstalled({ prefix: options.prefix, env: options.env, cwd });
  const python = await targetVersion(options, installed);
  const warnings: string[] = [];
  const versionNote = stdlibVersionFor(python).note;
  if (versionNote) warnings.push(versionNote);

  const channels = options.channels && options.channels.length > 0
    ? [...options.channels]
    : ["conda-forge"];
  const ctx = await loadResolveContext({
    sources: files,
    given: options.sources.filter((s) => s !== "-").map((s) => resolvePath(cwd, s)),
    channels,
    installed,
    userMappings,
    cwd,
    platform: options.platform,
    warnings,
    cacheDir: options.store === null
      ? undefined
      : storeLayout(options.store ?? defaultStoreRoot()).repodata,
  });
  // Search after a file's own roots: the project roots and their src/ (every
  // file under a root sees its modules), then, when following, the roots found
  // beside the sources (pyproject.toml/setup.py/setup.cfg/.git) and $PYTHONPATH.
  const env = options.env ?? Deno.env.toObject();
  const extraRoots = [
    ...ctx.projectRoots.flatMap((r) => [r, join(r, "src")]),
    ...(options.follow === false ? [] : await extraSearchDirs(files, env.PYTHONPATH, cwd)),
  ];
  const resolver = new LocalResolver(python.startsWith("2."), [...new Set(extraRoots)]);
  const units: Unit[] = [];
  // A project's declared requires-python stands in for the detected version, not for --python.
  const requires: string[] = options.python === undefined ? [...ctx.requiresPython] : [];
  const declared: string[] = []; // PEP 723 dependencies and notebook pip installs
  const condaInstalls: string[] = [];

  const seen = new Set(files.filter((f) => !f.stdin).map((f) => f.absPath));
  const read: string[] = [];
  /** Reads one source into `units`. */
  const load = async (file: SourceFile, followed: boolean, governing?: string[]) => {
    let bytes: Uint8Array;
    try {
      bytes = await readSource(file, options.stdin);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (err instanceof RefusedSource) {
        warnings.push(`${file.path}: ${why}; skipped`);
        return;
      }
      if (file.explicit) throw new NotFoundError(`source ${file.path}: cannot read (${why})`);
      warnings.push(`${file.path}: cannot read, skipped (${why})`);
      return;
    }
    if (!file.stdin) read.push(file.absPath);
    const notebook = file.kind === "notebook" || (file.stdin && looksLikeNotebook(bytes));
    if (notebook) {
      let content;
      try {
        content = readNotebook(new TextDecoder().decode(bytes));
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        if (file.kind === "notebook" && file.explicit) {
          throw new NotFoundError(`source ${file.path}: not a readable notebook (${why})`);
        }
        if (file.kind === "notebook") {
          warnings.push(`${file.path}: not a readable notebook, skipped (${why})`);
          return;
        }
        content = null; // stdin that only looked like JSON: treat as Python below
      }
      if (content) {
        for (const p of content.problems) {
          warnings.push(`${file.path}${p.cell ? `[${p.cell}]` : ""}: ${p.message}`);
        }
        for (const w of content.writefiles) {
          const name = moduleOfWrittenFile(w.path);
          if (name) resolver.addModule(dirname(file.absPath), name);
        }
        for (const inst of content.installs) {
          const where = `${file.path}[${inst.cell}]:${inst.line}`;
          (inst.manager === "pip" ? declared : condaInstalls).push(...inst.packages);
          warnings.push(
            `${where}: notebook runs ${inst.manager} install ${inst.packages.join(" ")}; ` +
              `added to the spec${inst.manager === "pip" ? " under pip" : ""}`,
          );
        }
        for (const c of content.code) {
          units.push({
            source: file,
            followed,
            declared: governing,
            text: c.source,
            where: (line) => `${file.path}[${c.cell}]:${line}`,
          });
        }
        return;
      }
    }
    const decoded = decodePythonSource(bytes);
    if (decoded.warning) warnings.push(`${file.path}: ${decoded.warning}`);
    if (file.explicit && !file.stdin && !PYTHON_NAME.test(file.path)) {
      const first = decoded.text.slice(0, decoded.text.indexOf("\n") >>> 0);
      if (!/^#!.*python/.test(first)) {
        warnings.push(
          `${file.path}: not a Python source (no .py/.pyw/.ipynb name, no python shebang); ` +
            `analysed anyway`,
        );
      }
    }
    const meta = parseScriptMetadata(decoded.text);
    if (meta) {
      for (const p of meta.problems) warnings.push(`${file.path}:${p.line}: ${p.message}`);
      declared.push(...meta.dependencies);
      if (meta.requiresPython) requires.push(meta.requiresPython);
    }
    units.push({
      source: file,
      followed,
      declared: meta ? meta.dependencies : governing,
      text: decoded.text,
      where: (line) => `${file.path}:${line}`,
    });
  };
  for (const file of files) await load(file, false);

  // scan, then filter by --toplevel / --function
  // Followed modules count whole (with --toplevel: their module level).
  const wanted = (rec: ImportRecord, followed: boolean) => {
    if (followed) return !options.toplevel || options.function !== undefined || rec.toplevel;
    if (!options.toplevel && options.function === undefined) return true;
    if (options.toplevel && rec.toplevel) return true;
    return options.function !== undefined && rec.functions.includes(options.function);
  };
  let functionSeen = false;
  const scanned: { unit: Unit; rec: ImportRecord }[] = [];
  for (let i = 0; i < units.length; i++) {
    const unit = units[i];
    const result = scanImports(unit.text);
    for (const p of result.problems) warnings.push(`${unit.where(p.line)}: ${p.message}`);
    if (options.function !== undefined && result.functions.includes(options.function)) {
      functionSeen = true;
    }
    for (const rec of result.imports) {
      if (!wanted(rec, unit.followed)) continue;
      scanned.push({ unit, rec });
      if (options.follow === false) continue;
      for (const target of await localTargets(rec, unit.source.absPath, resolver)) {
        for (const f of await moduleSources(target, cwd)) {
          if (seen.has(f.absPath)) continue;
          seen.add(f.absPath);
          await load(f, true, unit.declared); // appends to `units`: this loop reaches them
        }
      }
    }
  }
  if (options.function !== undefined && !functionSeen) {
    throw new UsageError(
      `--function ${options.function}: no function of that name in the sources`,
    );
  }

  // classify
  const occurrences: Occurrence[] = [];
  for (const { unit, rec } of scanned) {
    const location = unit.where(rec.line);
    if (rec.level > 0) {
      const module = ".".repeat(rec.level) + rec.module.split(".")[0];
      occurrences.push({ module, kind: "local", optional: rec.optional, location });
      continue;
    }
    const top = rec.module.split(".")[0];
    if (!top) continue;
    if (await resolver.isLocal(rec.module, unit.source.absPath)) {
      occurrences.push({ module: top, kind: "local", optional: rec.optional, location });
      continue;
    }
    const std = classifyStdlib(top, python);
    if (std) {
      if (!std.available) warnings.push(`${location}: ${std.note}`);
      occurrences.push({ module: top, kind: "stdlib", optional: rec.optional, location });
      continue;
    }
    if (rec.typing || top === "_typeshed") {
      occurrences.push({ module: top, kind: "typing", optional: rec.optional, location });
      continue;
    }
    let choice = resolveImport(rec.module, ctx);
    const covering = (unit.declared ?? declared).find((d) => {
      const name = normalizeDistName(choiceFromText(d, "user").package);
      return (choice && name === normalizeDistName(choice.package)) ||
        name === normalizeDistName(top);
    });
    if (covering !== undefined && choice?.source !== "user") {
      choice = choiceFromText(`pip:${covering}`, "user"); // declared in PEP 723 or a notebook
    } else if (unit.declared !== undefined && choice?.source !== "user") {
      // The script declares its dependencies (PEP 723): they win over inferred names.
      if (!rec.optional) {
        warnings.push(
          `${location}: ${top} is not among the script's declared dependencies (PEP 723); ` +
            `not added (declare it, or use --pkg-mapping/--extra-pkg)`,
        );
      }
      occurrences.push({ module: top, kind: "third-party", optional: rec.optional, location });
      continue;
    }
    occurrences.push({
      module: choice ? top : rec.module,
      kind: choice ? "third-party" : "unresolved",
      choice: choice ?? undefined,
      optional: rec.optional,
      location,
    });
  }

  warnUnresolved(occurrences, warnings);

  // one record per (module, package)
  const records = new Map<string, ExplainRecord>();
  for (const o of occurrences) {
    const key = `${o.module}\0${o.choice?.package ?? ""}`;
    let rec = records.get(key);
    if (!rec) {
      rec = {
        module: o.module,
        kind: o.kind,
        package: o.choice?.package ?? null,
        ...(o.choice?.version ? { version: o.choice.version } : {}),
        optional: true,
        locations: [],
      };
      records.set(key, rec);
    }
    rec.optional &&= o.optional;
    if (!rec.locations.includes(o.location)) rec.locations.push(o.location);
  }
  const imports = [...records.values()].sort((a, b) =>
    a.module < b.module
      ? -1
      : a.module > b.module
      ? 1
      : (a.package ?? "") < (b.package ?? "")
      ? -1
      : 1
  );
  const byPlace = (a: string, b: string) => {
    const pa = splitLocation(a);
    const pb = splitLocation(b);
    return pa.file < pb.file ? -1 : pa.file > pb.file ? 1 : pa.cell - pb.cell || pa.line - pb.line;
  };
  for (const r of imports) r.locations.sort(byPlace);

  // spec
  const conda: string[] = [...condaInstalls];
  const pip: string[] = [...declared];
  for (const o of occurrences) {
    if (!o.choice) continue;
    if (o.choice.manager === "pip") pip.push(o.choice.spec);
    else conda.push(o.choice.spec);
  }
  for (const extra of options.extraPkgs ?? []) {
    const c = choiceFromText(extra, "user");
    (c.manager === "pip" ? pip : conda).push(c.spec);
  }
  const distinct = [...new Set(requires)];
  const pythonSpec = distinct.length
    ? pythonSpecFromRequires(distinct.join(","))
    : options.unpinnedPython && options.python === undefined
    ? "python"
    : `python=${python}`;
  const filesRead = [...new Set(read)].sort();
  const spec = buildSpec(pythonSpec, conda, pip, options.explain ? imports : undefined, channels);
  if (options.explain) spec.files = filesRead.map((f) => shownPath(f, cwd));
  return { spec, python, warnings, imports, files: filesRead, dirs: resolver.listedDirs() };
}

/** Names of Python sources (a named source without one needs a python shebang). */
const PYTHON_NAME = /\.(py|pyw|ipynb)$/;

/**
 * The module files or package directories a local import refers to: for an
 * absolute import the top-level module where the resolver finds it; for a
 * relative one the module (or, for `from . import a`, the submodules named)
 * under the importing file's package.
 */
async function localTargets(
  rec: ImportRecord,
  file: string,
  resolver: LocalResolver,
): Promise<string[]> {
  if (rec.level === 0) {
    if (!rec.module.split(".")[0]) return [];
    const found = await resolver.source(rec.module, file);
    return found ? [found] : [];
  }
  let base = dirname(file);
  for (let i = 1; i < rec.level; i++) base = dirname(base);
  const names = rec.module ? [rec.module.split(".")[0]] : rec.names.filter((n) => n !== "*");
  const out: string[] = [];
  for (const name of names) {
    for (const candidate of [`${base}/${name}.py`, `${base}/${name}`]) {
      const st = await Deno.stat(candidate).catch(() => null);
      if (st && (st.isFile || (st.isDirectory && candidate === `${base}/${name}`))) {
        out.push(candidate);
        break;
      }
    }
  }
  return out;
}

/** One warning per unresolved module, at its first place. */
function warnUnresolved(occurrences: Occurrence[], warnings: string[]): void {
  const seen = new Set<string>();
  for (const o of occurrences) {
    if (o.kind !== "unresolved" || seen.has(o.module)) continue;
    seen.add(o.module);
    const top = o.module.split(".")[0];
    warnings.push(
      `${o.location}: import ${o.module}: no package of the target channels is known to provide ` +
        `it; left out of the spec (name it with --pkg-mapping ${top}=PACKAGE)`,
    );
  }
}

/** Splits `file:line` / `file[cell]:line` into its parts, for sorting. */
function splitLocation(loc: string): { file: string; cell: number; line: number } {
  const m = /^(.*?)(?:\[(\d+)\])?:(\d+)$/.exec(loc);
  return m
    ? { file: m[1], cell: Number(m[2] ?? 0), line: Number(m[3]) }
    : { file: loc, cell: 0, line: 0 };
}
