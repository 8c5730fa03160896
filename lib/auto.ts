/**
 * Automatic environments for `poncho run script.py`, `poncho run -m module`
 * and `poncho run --spec spec.json`: find what a script needs (the script and
 * every local module it imports, recursively), turn it into a spec, hash the
 * requirement set together with the Python version, channels and platform,
 * and reuse the store's archive for that hash or build it (at most once per
 * hash, under the create lock).
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { NotFoundError, UsageError } from "./errors.ts";
import type { EnvSpec } from "./envspec/types.ts";
import { type CanonicalSpec, canonicalSpec, specHash } from "./envspec/canonical.ts";

/** Options of {@link resolveAutoSpec}. */
export interface AutoSpecOptions {
  /** A Python script to run. */
  script?: string;
  /** A module to run with `python -m` (looked up in `cwd`). */
  module?: string;
  /** A spec file (poncho JSON, JSONC or environment.yml) instead of analysis. */
  specFile?: string;
  /** Target Python `X.Y` (default: as `poncho analyze` decides). */
  python?: string;
  /** Channels; when given they replace the analyzer's default channel (and their import maps name packages). */
  channels?: string[];
  /** `--pkg-mapping IMPORT=NAME` entries, as for `poncho analyze`. */
  pkgMappings?: string[];
  /** Target platform. */
  platform: string;
  /** Base for relative paths (default `Deno.cwd()`). */
  cwd?: string;
}

/** A resolved automatic environment. */
export interface AutoSpec {
  /** The spec. */
  spec: EnvSpec;
  /** Its canonical form. */
  canonical: CanonicalSpec;
  /** sha256 of the canonical form. */
  hash: string;
  /** Python files that were analysed (absolute), empty for `specFile`. */
  files: string[];
  /** Analyzer warnings. */
  warnings: string[];
  /** What the environment was made for (script path, `-m module` or spec path). */
  source: string;
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch {
    return null;
  }
}

/** Finds the file or package directory of a top-level module in `dir`. */
async function findLocal(dir: string, name: string): Promise<string | null> {
  const file = join(dir, `${name}.py`);
  if ((await statOrNull(file))?.isFile) return file;
  const pkg = join(dir, name);
  if ((await statOrNull(pkg))?.isDirectory) return pkg;
  return null;
}

/** Python files of a package directory (recursively, skipping caches and hidden dirs). */
async function packageFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".") || e.name === "__pycache__") continue;
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await packageFiles(p));
    else if (e.isFile && e.name.endsWith(".py")) out.push(p);
  }
  return out.sort();
}

/**
 * The script and every local module it imports, recursively: a module or
 * package found beside an importing file (Python's own search rule for
 * scripts) is followed; the analyzer decides what is local.
 */
export async function localClosure(entry: string, python?: string): Promise<string[]> {
  const { analyze } = await import("./analyze/analyze.ts");
  const root = dirname(entry);
  const seen = new Set<string>([entry]);
  let frontier = [entry];
  while (frontier.length > 0) {
    const r = await analyze({ sources: frontier, python, useInstalled: false });
    const next: string[] = [];
    for (const rec of r.imports) {
      if (rec.kind !== "local" || rec.module.startsWith(".")) continue;
      const name = rec.module.split(".")[0];
      const found = await findLocal(root, name);
      if (!found) continue;
      const files = found.endsWith(".py") ? [found] : await packageFiles(found);
      for (const f of files) {
        if (!seen.has(f)) {
          seen.add(f);
          next.push(f);
        }
      }
    }
    frontier = next;
  }
  return [...seen].sort();
}

/** The analysis options of an automatic environment: its files, channels, platform and mappings. */
function analyzeOptions(files: string[], opts: AutoSpecOptions, cwd: string) {
  return {
    sources: files,
    python: opts.python,
    cwd,
    channels: opts.channels,
    platform: opts.platform,
    pkgMappings: opts.pkgMappings,
  };
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
 * Resolves the spec of an automatic environment.
 *
 * @throws {NotFoundError} when the script, module or spec does not exist.
 * @throws {UsageError} when none or more than one of script/module/specFile is given.
 */
export async function resolveAutoSpec(opts: AutoSpecOptions): Promise<AutoSpec> {
  const cwd = opts.cwd ?? Deno.cwd();
  const given = [opts.script, opts.module, opts.specFile].filter((x) => x !== undefined);
  if (given.length !== 1) throw new UsageError("give one of a script, -m MODULE or --spec FILE");
  let spec: EnvSpec;
  let files: string[] = [];
  let warnings: string[] = [];
  let source: string;
  if (opts.specFile !== undefined) {
    const { readSpec } = await import("./envspec/parse.ts");
    source = opts.specFile === "-" ? "-" : resolve(cwd, opts.specFile);
    spec = await readSpec(source);
  } else {
    let entry: string;
    if (opts.script !== undefined) {
      entry = resolve(cwd, opts.script);
      if (!(await statOrNull(entry))?.isFile) {
        throw new NotFoundError(`script ${opts.script}: no such file`);
      }
      source = entry;
    } else {
      const top = opts.module!.split(".")[0];
      const found = await findLocal(cwd, top);
      if (!found) {
        throw new NotFoundError(
          `-m ${opts.module}: no module ${top}.py or package ${top}/ in ${cwd}`,
        );
      }
      entry = found.endsWith(".py") ? found : join(found, "__init__.py");
      source = `-m ${opts.module} (${cwd})`;
      if (!found.endsWith(".py")) {
        files = await packageFiles(found);
      }
    }
    const closure = await localClosure(entry, opts.python);
    files = [...new Set([...files, ...closure])].sort();
    const { analyze } = await import("./analyze/analyze.ts");
    const r = await analyze(analyzeOptions(files, opts, cwd));
    warnings = r.warnings;
    spec = fromDocument(r.spec);
  }
  if (opts.channels && opts.channels.length > 0) spec = { ...spec, channels: [...opts.channels] };
  // pip requirements need pip inside the environment.
  if (
    spec.pip.length > 0 && !spec.conda.some((s) => /^(?:[^:]*::)?pip(?![A-Za-z0-9_.\-])/.test(s))
  ) {
    spec = { ...spec, conda: [...spec.conda, "pip"] };
  }
  const canonical = canonicalSpec(spec, opts.platform);
  return { spec, canonical, hash: specHash(canonical), files, warnings, source };
}
