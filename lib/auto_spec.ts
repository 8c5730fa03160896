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

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

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
  let spec: EnvSpec;
  let files: string[] = [];
  let dirs: string[] = [];
  let warnings: string[] = [];
  let source: string;
  if (opts.specFile !== undefined) {
    if ((opts.pkgMappings ?? []).length > 0) {
      throw new UsageError("--pkg-mapping applies to analysed code, not to --spec FILE");
    }
    source = opts.specFile === "-" ? "-" : absolutePath(`${cwd}/${opts.specFile}`);
    if (opts.specFile.startsWith("/")) source = absolutePath(opts.specFile);
    spec = await readSpec(source);
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
    if (source !== "-") files = [source];
  } else {
    let entry: string;
    if (opts.script !== undefined) {
      entry = opts.script.startsWith("/")
        ? absolutePath(opts.script)
        : absolutePath(`${cwd}/${opts.script}`);
      if (!isFile(entry)) throw new NotFoundError(`script ${opts.script}: no such file`);
      source = entry;
    } else {
      const found = findModule(opts.module!, [cwd, ...pythonPath]);
      if (!found) {
        const top = opts.module!.split(".")[0];
        throw new NotFoundError(
          `-m ${opts.module}: no module ${top}.py or package ${top}/ in ${cwd}` +
            (pythonPath.length ? " or on $PYTHONPATH" : ""),
        );
      }
      entry = found;
      source = `-m ${opts.module} (${cwd})`;
      dirs.push(cwd, ...pythonPath);
    }
    const r = await analyze({
      sources: [entry],
      python: opts.python,
      pkgMappings: opts.pkgMappings,
      extraPkgs: opts.extraPkgs,
      channels: opts.channels,
      platform,
      store: ctx.layout.root,
      useInstalled: opts.pinLocal === true,
      unpinnedPython: opts.pinLocal !== true,
      cwd,
      env,
    });
    warnings = r.warnings;
    const maps = channelMapPaths(opts.channels ?? [], platform, cwd);
    files = r.files;
    // The maps are not files the analysis read as code: stamped with the directories.
    dirs = [...new Set([...dirs, ...r.dirs, ...maps.dirs, ...maps.files])].sort();
    spec = fromDocument(r.spec);
  }
  if (opts.channels && opts.channels.length > 0) spec = { ...spec, channels: [...opts.channels] };
  spec = withChannels(spec);
  // pip requirements need pip inside the environment.
  if (
    spec.pip.length > 0 && !spec.conda.some((s) => /^(?:[^:]*::)?pip(?![A-Za-z0-9_.\-])/.test(s))
  ) {
    spec = { ...spec, conda: [...spec.conda, "pip"] };
  }
  const hash = specHash(canonicalSpec(spec, platform));
  if (ctx.key !== undefined) {
    // The store may live inside a directory the analysis listed: create its
    // directories before the stamps are taken, so that writing the record
    // does not invalidate it.
    await Deno.mkdir(`${ctx.layout.index}/auto`, { recursive: true }).catch(() => {});
    const stamps = (paths: string[]) =>
      paths.map(stampOf).filter((s): s is StatStamp => s !== undefined);
    await writeAnalysis(ctx.layout, {
      key: ctx.key,
      files: stamps(files),
      dirs: stamps(dirs),
      spec,
      hash,
      platform,
      source,
      warnings,
    });
  }
  return { spec, hash, platform, files, warnings, source, cached: false };
}
