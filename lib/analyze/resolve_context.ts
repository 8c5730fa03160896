/**
 * Gathers what name resolution (`resolve.ts`) consults for one analysis: the
 * project roots of the sources and their declared requirements, the target
 * channels' import maps, and the shipped conda-forge map when conda-forge is
 * a target.
 *
 * A source file's project root is the one `project_root.ts` finds (the
 * nearest directory above it with `pyproject.toml`/`setup.py`/`setup.cfg`),
 * else the outermost analysed directory holding it (for a file named on its
 * own: its directory).
 *
 * @module
 */

import { dirname, join, resolve, sep } from "node:path";
import type { InstalledIndex } from "./installed.ts";
import type { SourceFile } from "./sources.ts";
import { readDeclared } from "./declared.ts";
import { findProjectRoot } from "./project_root.ts";
import { statOrNull } from "../fs/probe.ts";
import { loadDefaultMap } from "./default_map.ts";
import { loadChannelModules, targetsCondaForge } from "./channel_maps.ts";
import type { ResolveContext } from "./resolve.ts";

/** Inputs of {@link loadResolveContext}. */
export interface ResolveInputs {
  /** The discovered source files. */
  sources: SourceFile[];
  /** The sources as given (files, directories, `-`), resolved against `cwd`. */
  given?: string[];
  /** Target channels. */
  channels: string[];
  /** The installed environment, when read. */
  installed?: InstalledIndex;
  /** `--pkg-mapping` entries. */
  userMappings: ReadonlyMap<string, string>;
  /** Base for relative channel paths. */
  cwd: string;
  /** Platform whose import maps are read. */
  platform?: string;
  /** Where remote channels' import maps are cached (none: not cached). */
  cacheDir?: string;
  /** Receives warnings. */
  warnings: string[];
}

/** A {@link ResolveContext} plus the project facts the analysis also uses. */
export interface LoadedContext extends ResolveContext {
  /** Project roots of the sources (absolute), for local-module lookups. */
  projectRoots: string[];
  /** Declared `requires-python` values. */
  requiresPython: string[];
}

const isFile = async (p: string) => (await statOrNull(p))?.isFile === true;

const within = (dir: string, path: string) => path === dir || path.startsWith(dir + sep);

/** The project root of each source (see the module documentation), distinct. */
export async function projectRootsOf(sources: SourceFile[], given: string[]): Promise<string[]> {
  const dirs: string[] = [];
  for (const g of given) {
    const st = await statOrNull(g);
    if (st?.isDirectory) dirs.push(resolve(g));
  }
  const roots = new Set<string>();
  const memo = new Map<string, string | null>();
  for (const s of sources) {
    const dir = dirname(s.absPath);
    const marked = await findProjectRoot(dir, memo);
    const analysed = dirs.filter((d) =>
      within(d, s.absPath)
    ).sort((a, b) => a.length - b.length)[0];
    let root = marked ?? analysed ?? dir;
    // A package directory is not a search root: Python searches above its outermost package.
    while (dirname(root) !== root && await isFile(join(root, "__init__.py"))) root = dirname(root);
    roots.add(root);
  }
  return [...roots].sort();
}

/** Loads the context (see the module documentation). */
export async function loadResolveContext(inputs: ResolveInputs): Promise<LoadedContext> {
  const given = inputs.given ??
    inputs.sources.filter((s) => s.explicit && !s.stdin).map((s) => s.absPath);
  const projectRoots = await projectRootsOf(inputs.sources, given);
  const declared = [];
  const requiresPython: string[] = [];
  for (const root of projectRoots) {
    const d = await readDeclared(root);
    declared.push(...d.requirements);
    if (d.requiresPython) requiresPython.push(d.requiresPython);
    inputs.warnings.push(...d.problems.map((p) => `${root}/${p}`));
  }
  const defaultMap = targetsCondaForge(inputs.channels) ? await loadDefaultMap() : undefined;
  const channelModules = await loadChannelModules(
    inputs.channels,
    inputs.warnings,
    inputs.cwd,
    inputs.platform,
    inputs.cacheDir,
  );
  return {
    userMappings: inputs.userMappings,
    declared,
    installed: inputs.installed,
    channelModules,
    defaultMap,
    projectRoots,
    requiresPython,
  };
}
