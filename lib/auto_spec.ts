/**
 * The analysis behind an automatic environment, run when the store has no
 * valid cached analysis: the script's local-module closure through the same
 * {@link analyze} as `poncho analyze` (or the spec file, read), turned into a
 * spec and its hash, then cached by the options key with the size and mtime
 * of every file read and the mtime of every directory listed (and of the
 * local channels' import maps).
 *
 * Unless `pinLocal`, nothing of the host decides the result: installed
 * metadata is not read and the Python version is left to the solver (or to
 * the script's `requires-python`, or `--python`).
 *
 * @module
 */

import { NotFoundError, UsageError } from "./errors.ts";
import type { EnvSpec } from "./envspec/types.ts";
import { canonicalSpec, specHash } from "./envspec/canonical.ts";
import { checkMatchSpec, readSpec } from "./envspec/parse.ts";
import { analyze } from "./analyze/analyze.ts";
import { choiceFromText, specName } from "./analyze/mapping.ts";
import { withChannels } from "./create.ts";
import type { StoreLayout } from "../store/layout.ts";
import { stampOf, type StatStamp, writeAnalysis } from "../store/auto.ts";
import type { AutoSpec, AutoSpecOptions } from "./auto_types.ts";
import { absolutePath } from "./fs/path.ts";
import { parseChannel } from "./conda/channel.ts";
import { fileURLToPath } from "node:url";
import { statOrNullSync } from "./fs/probe.ts";

/** Context of {@link analyzeAuto} computed by the caller. */
export interface AutoContext {
  /** Base for relative paths. */
  cwd: string;
  /** Target platform (validated). */
  platform: string;
  /** The store (for the cache). */
  layout: StoreLayout;
  /** The options key to cache the result under; `undefined`: do not cache. */
  key?: string;
}

// Absent is "no" (see lib/fs/probe.ts); a path that cannot be inspected is an error.
const isFile = (path: string) => statOrNullSync(path)?.isFile === true;
const isDir = (path: string) => statOrNullSync(path)?.isDirectory === true;

/** Turns an analyzer spec (poncho JSON document) into an {@link EnvSpec}. */
function fromDocument(doc: { conda: { channels: string[]; dependencies: unknown[] } }): EnvSpec {
  const spec: EnvSpec = {
    channels: [...doc.conda.channels],
    conda: [],
    pip: [],
    git: {},
    http: {},
  };
  for (const d of doc.conda.dependencies) {
    if (typeof d === "string") spec.conda.push(d);
    else if (d && typeof d === "object" && "pip" in d) {
      spec.pip.push(...(d as { pip: string[] }).pip);
    }
  }
  return spec;
}

/**
 * The import maps of the local (`file://` or path) channels that named the
 * packages, and their subdir directories (a map written later changes the
 * directory's mtime): the cached analysis is valid only while they are
 * unchanged. Remote channels' maps are not stamped (`--refresh` re-reads them).
 */
function channelMapPaths(channels: string[], platform: string, cwd: string) {
  const files: string[] = [];
  const dirs: string[] = [];
  for (const c of channels) {
    const url = parseChannel(c, cwd).url;
    if (!url.startsWith("file:")) continue;
    const root = fileURLToPath(url);
    for (const subdir of [platform, "noarch"]) {
      dirs.push(`${root}/${subdir}`);
      files.push(`${root}/${subdir}/import-map.json`);
    }
  }
  return { files, dirs };
}

/** Finds `-m NAME`'s top module (file or package directory) where `python -m` would. */
function findModule(name: string, dirs: string[]): string | undefined {
  const top = name.split(".")[0];
  for (const dir of dirs) {
    if (isFile(`${dir}/${top}.py`)) return `${dir}/${top}.py`;
    if (isDir(`${dir}/${top}`)) return `${dir}/${top}`;
  }
  return undefined;
}

/** What one way of getting the spec (a spec file, or analysed code) found. */
interface Found {
  spec: EnvSpec;
  /** Files whose size and mtime the cached result depends on. */
  files: string[];
  /** Directories whose mtime it depends on. */
  dirs: string[];
  warnings: string[];
  /** What the spec came from, as shown to the user. */
  source: string;
}

/** `--spec FILE`: the spec as read, with `--python` and `--extra-pkg` applied. */
async function specFromFile(opts: AutoSpecOptions, cwd: string, file: string): Promise<Found> {
  if ((opts.pkgMappings ?? []).length > 0) {
    throw new UsageError("--pkg-mapping applies to analysed code, not to --spec FILE");
  }
  let source = file === "-" ? "-" : absolutePath(`${cwd}/${file}`);
  if (file.startsWith("/")) source = absolutePath(file);
  const spec = await readSpec(source);
  if (opts.python !== undefined) {
    // --python X.Y replaces the spec's own python requirement.
    const version = /^\d+\.\d+$/.test(opts.python) ? opts.python : undefined;
    if (!version) throw new UsageError(`--python ${opts.python}: expected a version like 3.11`);
    spec.conda = [
      `python=${version}`,
      ...spec.conda.filter((d) => specName(d).toLowerCase() !== "python"),
    ];
  }
  for (const extra of opts.extraPkgs ?? []) {
    const c = choiceFromText(extra, "user");
    if (c.manager === "pip") spec.pip.push(c.spec);
    else spec.conda.push(checkMatchSpec(c.spec, `--extra-pkg ${extra}`));
  }
  return { spec, files: source !== "-" ? [source] : [], dirs: [], warnings: [], source };
}

/** The file or package a script run or `-m NAME` starts from, and the directories searched. */
function entryOf(
  opts: AutoSpecOptions,
  cwd: string,
  pythonPath: string[],
): { entry: string; source: string; dirs: string[] } {
  if (opts.script !== undefined) {
    const entry = opts.script.startsWith("/")
      ? absolutePath(opts.script)
      : absolutePath(`${cwd}/${opts.script}`);
    if (!isFile(entry)) throw new NotFoundError(`script ${opts.script}: no such file`);
    return { entry, source: entry, dirs: [] };
  }
  const found = findModule(opts.module!, [cwd, ...pythonPath]);
  if (!found) {
    const top = opts.module!.split(".")[0];
    throw new NotFoundError(
      `-m ${opts.module}: no module ${top}.py or package ${top}/ in ${cwd}` +
        (pythonPath.length ? " or on $PYTHONPATH" : ""),
    );
  }
  return { entry: found, source: `-m ${opts.module} (${cwd})`, dirs: [cwd, ...pythonPath] };
}

/** A script or module: its local-module closure analysed. */
async function specFromCode(
  opts: AutoSpecOptions,
  ctx: AutoContext,
  env: Record<string, string | undefined>,
  pythonPath: string[],
): Promise<Found> {
  const { entry, source, dirs } = entryOf(opts, ctx.cwd, pythonPath);
  const r = await analyze({
    sources: [entry],
    python: opts.python,
    pkgMappings: opts.pkgMappings,
    extraPkgs: opts.extraPkgs,
    channels: opts.channels,
    platform: ctx.platform,
    store: ctx.layout.root,
    useInstalled: opts.pinLocal === true,
    unpinnedPython: opts.pinLocal !== true,
    cwd: ctx.cwd,
    env,
  });
  const maps = channelMapPaths(opts.channels ?? [], ctx.platform, ctx.cwd);
  return {
    spec: fromDocument(r.spec),
    files: r.files,
    // The maps are not files the analysis read as code: stamped with the directories.
    dirs: [...new Set([...dirs, ...r.dirs, ...maps.dirs, ...maps.files])].sort(),
    warnings: r.warnings,
    source,
  };
}

/** The target channels, then pip inside the environment when pip requirements need it. */
function completeSpec(spec: EnvSpec, opts: AutoSpecOptions): EnvSpec {
  if (opts.channels && opts.channels.length > 0) spec = { ...spec, channels: [...opts.channels] };
  spec = withChannels(spec);
  if (
    spec.pip.length > 0 && !spec.conda.some((s) => /^(?:[^:]*::)?pip(?![A-Za-z0-9_.\-])/.test(s))
  ) {
    spec = { ...spec, conda: [...spec.conda, "pip"] };
  }
  return spec;
}

/** Caches the result under `key` with the stamps of what it depends on (best effort). */
async function cacheAnalysis(
  ctx: AutoContext,
  key: string,
  found: Found,
  spec: EnvSpec,
  hash: string,
): Promise<void> {
  // The store may live inside a directory the analysis listed: create its
  // directories before the stamps are taken, so that writing the record
  // does not invalidate it. Caching is best effort (writeAnalysis swallows a
  // failed write too): a store where it fails only means analysing again.
  await Deno.mkdir(`${ctx.layout.index}/auto`, { recursive: true }).catch(() => {});
  const stamps = (paths: string[]) =>
    paths.map(stampOf).filter((s): s is StatStamp => s !== undefined);
  await writeAnalysis(ctx.layout, {
    key,
    files: stamps(found.files),
    dirs: stamps(found.dirs),
    spec,
    hash,
    platform: ctx.platform,
    source: found.source,
    warnings: found.warnings,
  });
}

/**
 * Analyses (or reads) what an automatic run needs and caches it.
 *
 * @throws {NotFoundError} when the script, module or spec does not exist.
 * @throws {UsageError} for options that do not apply (`--pkg-mapping` with a spec) or bad ones.
 */
export async function analyzeAuto(opts: AutoSpecOptions, ctx: AutoContext): Promise<AutoSpec> {
  const { cwd, platform } = ctx;
  const env = opts.env ?? Deno.env.toObject();
  const pythonPath = (env.PYTHONPATH ?? "").split(":").filter((d) => d !== "")
    .map((d) => absolutePath(d.startsWith("/") ? d : `${cwd}/${d}`));
  const found = opts.specFile !== undefined
    ? await specFromFile(opts, cwd, opts.specFile)
    : await specFromCode(opts, ctx, env, pythonPath);
  const spec = completeSpec(found.spec, opts);
  const hash = specHash(canonicalSpec(spec, platform));
  if (ctx.key !== undefined) await cacheAnalysis(ctx, ctx.key, found, spec, hash);
  const { files, warnings, source } = found;
  return { spec, hash, platform, files, warnings, source, cached: false };
}
