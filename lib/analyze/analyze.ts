/**
 * `poncho analyze` as a library call: Python sources (files, directories,
 * notebooks, stdin) in, a conda environment spec out, with the reason for
 * every dependency when asked (`explain`).
 *
 * The steps, one module each: find the sources (`sources.ts`), read the
 * installed environment (`installed.ts`) and the target version
 * (`python_target.ts`), gather what name resolution consults
 * (`resolve_context.ts`), load the sources into units (`units.ts`), scan them
 * and follow local imports (`follow.ts`), classify each import
 * (`classify.ts`), merge the explain records (`explain.ts`) and build the
 * spec (`spec_out.ts`).
 *
 * The local modules the sources import are followed (their files analysed
 * too, recursively): found beside the importing file, in the project root or
 * on `$PYTHONPATH`, as Python would find them. `poncho run script.py` uses
 * this same closure.
 *
 * @module
 */

import { NotFoundError, UsageError } from "../errors.ts";
import { checkMatchSpec } from "../envspec/parse.ts";
import { join, resolve as resolvePath } from "node:path";
import { discoverSources, extraSearchDirs, shownPath, type SourceFile } from "./sources.ts";
import { pythonSpecFromRequires } from "./pep723.ts";
import { stdlibVersionFor } from "./stdlib.ts";
import { LocalResolver } from "./local.ts";
import { readInstalled } from "./installed.ts";
import { choiceFromText, parsePkgMapping } from "./mapping.ts";
import { buildSpec, type ExplainRecord, type PonchoSpec } from "./spec_out.ts";
import { type LoadedContext, loadResolveContext } from "./resolve_context.ts";
import { defaultStoreRoot, storeLayout } from "../../store/layout.ts";
import { statOrNull } from "../fs/probe.ts";
import { targetVersion } from "./python_target.ts";
import { loadSource, type LoadState } from "./units.ts";
import { scanAndFollow } from "./follow.ts";
import { classifyImports, type Occurrence, warnUnresolved } from "./classify.ts";
import { explainRecords } from "./explain.ts";

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

export { DEFAULT_PYTHON } from "./python_target.ts";
export { DEFAULT_MAX_SOURCE_MB } from "./read_source.ts";

/**
 * Analyses Python sources and builds their environment spec.
 *
 * @throws {UsageError} for bad options (`--python`, `--pkg-mapping`, an unknown `--function`).
 * @throws {NotFoundError} when a named source is missing or unreadable.
 * @throws {PermissionError} when a file the analysis reads (project or installed metadata) is
 *   there but may not be read (exit 2).
 */
export async function analyze(options: AnalyzeOptions): Promise<AnalyzeResult> {
  const setup = await prepare(options);
  const { cwd, files, python, warnings, ctx } = setup;
  const resolver = await localResolver(options, setup);
  const state: LoadState = {
    stdin: options.stdin,
    resolver,
    warnings,
    units: [],
    // A project's declared requires-python stands in for the detected version, not for --python.
    requires: options.python === undefined ? [...ctx.requiresPython] : [],
    declared: [],
    condaInstalls: [],
    read: [],
  };
  const seen = new Set(files.filter((f) => !f.stdin).map((f) => f.absPath));
  for (const file of files) await loadSource(state, file, false);
  const scanned = await scanAndFollow(state, options, cwd, seen);
  const occurrences = await classifyImports(scanned, {
    resolver,
    python,
    resolve: ctx,
    declared: state.declared,
    warnings,
  });
  warnUnresolved(occurrences, warnings);
  const imports = explainRecords(occurrences);
  const filesRead = [...new Set(state.read)].sort();
  const spec = buildSpec(
    pythonSpecOf(options, state.requires, python),
    ...packageLists(options, state, occurrences),
    options.explain ? imports : undefined,
    setup.channels,
  );
  if (options.explain) spec.files = filesRead.map((f) => shownPath(f, cwd));
  return { spec, python, warnings, imports, files: filesRead, dirs: resolver.listedDirs() };
}

/** What the steps of an analysis share once the options are checked. */
interface Setup {
  cwd: string;
  files: SourceFile[];
  python: string;
  warnings: string[];
  channels: string[];
  ctx: LoadedContext;
}

/** Checks the options, finds the sources, reads the environment and the resolution context. */
async function prepare(options: AnalyzeOptions): Promise<Setup> {
  const userMappings = checkOptions(options);
  const cwd = options.cwd ?? Deno.cwd();
  if (options.prefix !== undefined) await checkPrefix(options.prefix, cwd);
  const files = await discoverSources(options.sources, cwd);
  const installed = options.useInstalled === false
    ? undefined
    : await readInstalled({ prefix: options.prefix, env: options.env, cwd });
  const python = await targetVersion(options, installed);
  const warnings: string[] = [...(installed?.problems ?? [])];
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
  return { cwd, files, python, warnings, channels, ctx };
}

/**
 * Validates the options that need no file: sources given, `--pkg-mapping`,
 * `--extra-pkg`, `--python`. Returns the user's mappings (module to target).
 */
function checkOptions(options: AnalyzeOptions): Map<string, string> {
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
  return userMappings;
}

/** `--prefix DIR` must be an environment directory. */
async function checkPrefix(prefix: string, cwd: string): Promise<void> {
  const st = await statOrNull(resolvePath(cwd, prefix));
  if (!st?.isDirectory) {
    throw new NotFoundError(`--prefix ${prefix}: no such environment directory`);
  }
}

/**
 * The local-module resolver. Search after a file's own roots: the project
 * roots and their src/ (every file under a root sees its modules), then,
 * when following, the roots found beside the sources and `$PYTHONPATH`.
 */
async function localResolver(options: AnalyzeOptions, setup: Setup): Promise<LocalResolver> {
  const env = options.env ?? Deno.env.toObject();
  const extraRoots = [
    ...setup.ctx.projectRoots.flatMap((r) => [r, join(r, "src")]),
    ...(options.follow === false
      ? []
      : await extraSearchDirs(setup.files, env.PYTHONPATH, setup.cwd)),
  ];
  return new LocalResolver(setup.python.startsWith("2."), [...new Set(extraRoots)]);
}

/** The spec's python: the declared `requires-python`, else `python=X.Y` (or plain `python`). */
function pythonSpecOf(options: AnalyzeOptions, requires: string[], python: string): string {
  const distinct = [...new Set(requires)];
  if (distinct.length) return pythonSpecFromRequires(distinct.join(","));
  return options.unpinnedPython && options.python === undefined ? "python" : `python=${python}`;
}

/** The conda and pip lists: notebook installs, declared, resolved imports, then `--extra-pkg`. */
function packageLists(
  options: AnalyzeOptions,
  state: LoadState,
  occurrences: Occurrence[],
): [string[], string[]] {
  const conda: string[] = [...state.condaInstalls];
  const pip: string[] = [...state.declared];
  for (const o of occurrences) {
    if (!o.choice) continue;
    if (o.choice.manager === "pip") pip.push(o.choice.spec);
    else conda.push(o.choice.spec);
  }
  for (const extra of options.extraPkgs ?? []) {
    const c = choiceFromText(extra, "user");
    (c.manager === "pip" ? pip : conda).push(c.spec);
  }
  return [conda, pip];
}
