/**
 * Reading and validating environment specs: poncho JSON (current and legacy
 * forms), JSONC, and conda `environment.yml`. Every problem is a
 * {@link UsageError} naming the file, the field path and the value.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { EnvSpec, GitSource, HttpSource } from "./types.ts";
import { isLegacyDeps, legacyToPonchoDocument, readLegacyDeps } from "../legacy/format.ts";

/** Default channel when a spec names none. */
export const DEFAULT_CHANNELS: readonly string[] = ["conda-forge"];

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.\-]*$/;
// name, optional channel:: prefix and [brackets], then version/build constraints.
const MATCHSPEC_RE =
  /^(?:[A-Za-z0-9_.\-\/:]+::)?([A-Za-z0-9_][A-Za-z0-9_.\-]*)(\[[^\]]*\])?(?:\s*(?:[=<>!~]=?|\s)\s*[^\s].*)?$/;
const VERSION_CHARS_RE = /^[A-Za-z0-9_.*+!=<>~,| \-\[\]'"$]*$/;

/**
 * Checks a conda match spec (`numpy`, `numpy=1.26`, `numpy >=1.2,<2`,
 * `python=3.11.0=he550d4f_1_cpython`, `conda-forge::numpy[version='>=1']`).
 * Returns the package name, or throws naming `where`.
 */
export function checkMatchSpec(spec: string, where: string): string {
  const s = spec.trim();
  const m = s.match(MATCHSPEC_RE);
  const rest = m ? s.slice(s.indexOf(m[1]) + m[1].length) : "";
  const badOperator = /=>|=<|>>|<<|><|<>|===|[<>!~]=[=<>]|,\s*,/.test(rest);
  if (
    !m || !VERSION_CHARS_RE.test(rest) || /[=<>,]$/.test(rest.trim()) || /\s{2,}/.test(rest) ||
    badOperator
  ) {
    throw new UsageError(
      `${where}: '${spec}' is not a valid conda match spec (expected e.g. 'numpy', 'numpy=1.26', 'numpy >=1.2,<2')`,
    );
  }
  return m[1].toLowerCase();
}

/** Checks a pip requirement string loosely (PEP 508 name at the start, or a URL/path). */
export function checkPipRequirement(req: string, where: string): void {
  const s = req.trim();
  if (s.length === 0 || /[\n\r]/.test(s)) {
    throw new UsageError(`${where}: '${req}' is not a valid pip requirement`);
  }
  if (/^(-|\.|\/|[a-z+]+:\/\/|git\+)/i.test(s)) return; // options, paths and URLs: pip decides
  if (!/^[A-Za-z0-9][A-Za-z0-9._\-]*(\[[^\]]*\])?\s*([<>=!~;@(].*)?$/.test(s)) {
    throw new UsageError(
      `${where}: '${req}' is not a valid pip requirement (expected e.g. 'foo', 'foo==1.0')`,
    );
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + "..." : s;
}

class Reader {
  constructor(readonly file: string) {}
  fail(path: string, msg: string): never {
    throw new UsageError(`${this.file}: field '${path}' ${msg}`);
  }
  object(v: unknown, path: string): Record<string, Json> {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      this.fail(path, `must be an object, got ${typeName(v)} ${show(v)}`);
    }
    return v as Record<string, Json>;
  }
  array(v: unknown, path: string): Json[] {
    if (!Array.isArray(v)) this.fail(path, `must be a list, got ${typeName(v)} ${show(v)}`);
    return v;
  }
  string(v: unknown, path: string): string {
    if (typeof v !== "string" || v.trim() === "") {
      this.fail(path, `must be a non-empty string, got ${typeName(v)} ${show(v)}`);
    }
    return v;
  }
  strings(v: unknown, path: string): string[] {
    return this.array(v, path).map((x, i) => this.string(x, `${path}[${i}]`));
  }
  keys(obj: Record<string, unknown>, allowed: string[], path: string): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) {
        const where = path ? `${path}.${k}` : k;
        this.fail(where, `is not a known key (expected one of: ${allowed.join(", ")})`);
      }
    }
  }
}

function parseDependencies(r: Reader, deps: Json[], path: string, spec: EnvSpec): void {
  deps.forEach((d, i) => {
    const p = `${path}[${i}]`;
    if (typeof d === "string") {
      const s = d.trim().replace(/\s+/g, " ");
      checkMatchSpec(s, `${r.file}: field '${p}'`);
      spec.conda.push(s);
    } else if (d !== null && typeof d === "object" && !Array.isArray(d)) {
      r.keys(d, ["pip"], p);
      const pip = r.strings(d.pip, `${p}.pip`);
      pip.forEach((q, j) => checkPipRequirement(q, `${r.file}: field '${p}.pip[${j}]'`));
      spec.pip.push(...pip.map((q) => q.trim()));
    } else {
      r.fail(p, `must be a match spec string or {"pip": [...]}, got ${typeName(d)} ${show(d)}`);
    }
  });
}

function parseSources(r: Reader, root: Record<string, Json>, spec: EnvSpec): void {
  const envVar = /^[A-Za-z_][A-Za-z0-9_]*$/;
  if (root.git !== undefined) {
    const git = r.object(root.git, "git");
    for (const [k, v] of Object.entries(git)) {
      if (!envVar.test(k)) r.fail(`git.${k}`, "must be an environment variable name");
      const o = r.object(v, `git.${k}`);
      r.keys(o, ["remote", "ref"], `git.${k}`);
      const src: GitSource = { remote: r.string(o.remote, `git.${k}.remote`) };
      if (o.ref !== undefined) src.ref = r.string(o.ref, `git.${k}.ref`);
      spec.git[k] = src;
    }
  }
  if (root.http !== undefined) {
    const http = r.object(root.http, "http");
    for (const [k, v] of Object.entries(http)) {
      if (!envVar.test(k)) r.fail(`http.${k}`, "must be an environment variable name");
      const o = r.object(v, `http.${k}`);
      r.keys(o, ["type", "url", "compression"], `http.${k}`);
      const type = o.type === undefined ? "file" : r.string(o.type, `http.${k}.type`);
      if (type !== "file" && type !== "tar") {
        r.fail(`http.${k}.type`, `must be "file" or "tar", got ${show(type)}`);
      }
      const src: HttpSource = { type, url: r.string(o.url, `http.${k}.url`) };
      if (o.compression !== undefined) {
        src.compression = r.string(o.compression, `http.${k}.compression`);
      }
      spec.http[k] = src;
    }
  }
}

/** Builds an {@link EnvSpec} from an already-parsed JSON or YAML document. */
export function specFromDocument(doc: unknown, file: string): EnvSpec {
  // CCTools' first-generation {"python": "X.Y.Z", "modules": [...]} (python_package_analyze).
  const legacy = isLegacyDeps(doc);
  if (legacy) doc = legacyToPonchoDocument(readLegacyDeps(doc as Record<string, unknown>, file));
  const r = new Reader(file);
  const root = r.object(doc, "(top level)");
  const spec: EnvSpec = { channels: [], conda: [], pip: [], git: {}, http: {} };
  const isYml = root.dependencies !== undefined || root.name !== undefined ||
    (root.channels !== undefined && root.conda === undefined);
  if (isYml) {
    // conda environment.yml
    r.keys(root, [
      "name",
      "channels",
      "dependencies",
      "prefix",
      "variables",
      "git",
      "http",
      "imports",
      "files",
    ], "");
    if (root.name !== undefined) spec.name = r.string(root.name, "name");
    if (root.channels !== undefined) spec.channels = r.strings(root.channels, "channels");
    if (root.dependencies !== undefined) {
      parseDependencies(r, r.array(root.dependencies, "dependencies"), "dependencies", spec);
    }
  } else {
    // `imports` and `files` are what `poncho analyze --explain` adds: a report, ignored here.
    r.keys(root, ["conda", "pip", "git", "http", "imports", "files"], "");
    if (root.conda !== undefined) {
      const conda = r.object(root.conda, "conda");
      r.keys(conda, ["channels", "dependencies", "packages"], "conda");
      if (conda.channels !== undefined) spec.channels = r.strings(conda.channels, "conda.channels");
      if (conda.dependencies !== undefined) {
        parseDependencies(
          r,
          r.array(conda.dependencies, "conda.dependencies"),
          "conda.dependencies",
          spec,
        );
      }
      if (conda.packages !== undefined) {
        parseDependencies(r, r.array(conda.packages, "conda.packages"), "conda.packages", spec);
      }
    }
    if (root.pip !== undefined) {
      const pip = r.strings(root.pip, "pip");
      pip.forEach((q, j) => checkPipRequirement(q, `${file}: field 'pip[${j}]'`));
      spec.pip.push(...pip.map((q) => q.trim()));
    }
  }
  parseSources(r, root, spec);
  if (spec.channels.length === 0) spec.channels = [...DEFAULT_CHANNELS];
  if (legacy) spec.channelsImplied = true;
  if (spec.conda.length === 0 && spec.pip.length === 0) {
    throw new UsageError(`${file}: the spec lists no packages (expected conda.dependencies)`);
  }
  return spec;
}

/**
 * Parses spec text. JSON (with comments and trailing commas allowed) when it
 * starts with `{`; otherwise YAML (conda `environment.yml`).
 *
 * @param text The file's contents.
 * @param file The name used in error messages (`-` for stdin).
 */
export async function parseSpec(text: string, file: string): Promise<EnvSpec> {
  const body = text.replace(/^\uFEFF/, "");
  let doc: unknown;
  if (body.trimStart().startsWith("{")) {
    doc = await parseJsonc(body, file);
  } else {
    const { parse } = await import("../deps/yaml.ts");
    try {
      doc = parse(body);
    } catch (err) {
      const msg = (err as Error).message.split("\n")[0];
      throw new UsageError(`${file}: not valid JSON or YAML: ${msg}`);
    }
  }
  return specFromDocument(doc, file);
}

/**
 * Parses JSON with comments and trailing commas (JSONC). A syntax error is a
 * {@link UsageError} naming the file, line and column.
 */
export async function parseJsonc(text: string, file: string): Promise<unknown> {
  const { parse, printParseErrorCode } = await import("../deps/jsonc_parser.ts");
  const errors: import("../deps/jsonc_parser.ts").ParseError[] = [];
  const doc = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    const e = errors[0];
    const before = text.slice(0, e.offset).split("\n");
    const line = before.length;
    const col = before[before.length - 1].length + 1;
    const what = printParseErrorCode(e.error).replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
    throw new UsageError(`${file}:${line}:${col}: not valid JSON (${what}): fix the spec there`);
  }
  return doc;
}

/** Reads and parses a spec file (`-` reads stdin). Missing files are a {@link NotFoundError}. */
export async function readSpec(path: string): Promise<EnvSpec> {
  let text: string;
  try {
    text = path === "-"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(path);
  } catch (err) {
    const { NotFoundError } = await import("../errors.ts");
    const why = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
    throw new NotFoundError(`spec '${path}': ${why}`);
  }
  return await parseSpec(text, path);
}

export { NAME_RE as PACKAGE_NAME_RE };
