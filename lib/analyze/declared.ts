/**
 * Declared requirements of a project, read from files at its root:
 * `pyproject.toml` (`[project] dependencies`, `requires-python`),
 * `requirements*.txt` (with `-r` includes inside the root), `environment.yml`
 * / `environment.yaml` (conda specs and the `pip:` list) and `setup.cfg`
 * (`[options] install_requires`, `python_requires`). They name the package of
 * an import they cover (and its version constraint), ahead of installed
 * metadata and import maps.
 *
 * The project root is found by `project_root.ts` (the nearest directory,
 * from the analysed one upwards, holding `pyproject.toml`, `setup.py` or
 * `setup.cfg`); else it is the analysed directory itself. A file that is
 * absent is simply not declared; one that is there but cannot be read (a
 * directory in its place, permission denied) is an error naming it.
 *
 * The `pyproject.toml` reader understands the `[project]` table's
 * `dependencies` array and `requires-python` string (basic and literal
 * strings, arrays over several lines, comments), not all of TOML.
 *
 * @module
 */

import { dirname, join, relative, resolve } from "node:path";
import { parse as parseYaml } from "../deps/yaml.ts";
import { readTextOrNull } from "../fs/probe.ts";
import { normalizeDistName } from "./installed.ts";
import { specName } from "./mapping.ts";

/** One declared requirement. */
export interface DeclaredRequirement {
  /** As written (PEP 508 for PyPI files, a match spec for environment.yml conda entries). */
  text: string;
  /** Normalised name. */
  name: string;
  /** `pypi` for PyPI requirements, `conda` for environment.yml conda specs. */
  kind: "pypi" | "conda";
  /** Where: `file:line`. */
  location: string;
}

/** The declared requirements of a project root. */
export interface Declared {
  /** The project root they were read from. */
  root: string;
  /** The requirements, in file order. */
  requirements: DeclaredRequirement[];
  /** `requires-python` / `python_requires`, when declared. */
  requiresPython?: string;
  /** Problems, `file:line: message`. */
  problems: string[];
}

/** Name of a PEP 508 requirement, or null for URLs, options and the like. */
function pep508Name(req: string): string | null {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(req);
  return m ? normalizeDistName(m[1]) : null;
}

/**
 * A conda match spec for a PEP 508 requirement under conda name `conda`:
 * extras and markers dropped, `~=X.Y` as `>=X.Y,==X.*`, `===` dropped.
 */
export function condaSpecFromPep508(req: string, conda: string): string {
  const body = req.split(";")[0].replace(/^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[^\]]*\])?/, "")
    .replace(/[()\s]/g, "");
  if (!body) return conda;
  const parts: string[] = [];
  for (const c of body.split(",")) {
    const m = /^(~=|===|==|!=|>=|<=|>|<)([A-Za-z0-9.*+!_-]+)$/.exec(c);
    if (!m) return conda; // not a plain version constraint: name only
    if (m[1] === "===") continue;
    if (m[1] === "~=") {
      const v = m[2].split(".");
      parts.push(`>=${m[2]}`);
      if (v.length > 1) parts.push(`==${v.slice(0, -1).join(".")}.*`);
    } else parts.push(m[1] + m[2]);
  }
  return parts.length ? `${conda} ${parts.join(",")}` : conda;
}

function pushReq(out: Declared, text: string, kind: "pypi" | "conda", location: string): void {
  const t = text.trim();
  const name = kind === "pypi"
    ? pep508Name(t)
    : normalizeDistName(specName(t.replace(/^.*::/, "")));
  if (name) out.requirements.push({ text: t, name, kind, location });
}

/** Strings of a TOML array or string value starting at `text[i]`, and where it ends. */
function tomlStrings(text: string, i: number): { values: string[]; end: number } {
  const values: string[] = [];
  let depth = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === "#") { while (i < text.length && text[i] !== "\n") i++; }
    else if (c === "[") depth++;
    else if (c === "]") {
      if (--depth <= 0) return { values, end: i + 1 };
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let s = "";
      while (j < text.length && text[j] !== c) {
        if (c === '"' && text[j] === "\\") j++;
        s += text[j++];
      }
      values.push(s);
      i = j;
      if (depth === 0) return { values, end: i + 1 };
    } else if (c === "\n" && depth === 0) break;
  }
  return { values, end: i };
}

function lineAt(text: string, i: number): number {
  return text.slice(0, i).split("\n").length;
}

function readPyproject(text: string, file: string, out: Declared): void {
  const header = /^\[project\][ \t]*(#.*)?$/m.exec(text);
  if (!header) return;
  const start = header.index + header[0].length;
  const next = /^\[/m.exec(text.slice(start));
  const table = text.slice(start, next ? start + next.index : undefined);
  const keyRe = /^[ \t]*(dependencies|requires-python|"requires-python")[ \t]*=[ \t]*/gm;
  for (let m = keyRe.exec(table); m; m = keyRe.exec(table)) {
    const { values } = tomlStrings(table, m.index + m[0].length);
    const line = lineAt(text, start + m.index);
    if (m[1] === "dependencies") {
      for (const v of values) pushReq(out, v, "pypi", `${file}:${line}`);
    } else if (values[0]) out.requiresPython = values[0];
  }
}

async function readRequirements(path: string, root: string, out: Declared, seen: Set<string>) {
  if (seen.has(path) || seen.size > 20) return;
  seen.add(path);
  const text = await readTextOrNull(path);
  if (text === null) return; // an absent `-r` include: nothing declared there
  const file = relative(root, path) || path;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const first = i + 1;
    let line = lines[i].replace(/(^|\s)#.*$/, "").trim();
    while (line.endsWith("\\") && i + 1 < lines.length) {
      line = line.slice(0, -1) + lines[++i].trim();
    }
    if (!line) continue;
    const inc = /^(?:-r|--requirement)\s*=?\s*(\S+)/.exec(line);
    if (inc) {
      const target = resolve(dirname(path), inc[1]);
      if (!relative(root, target).startsWith("..")) await readRequirements(target, root, out, seen);
      continue;
    }
    if (line.startsWith("-") || /^[a-z+]+:\/\//i.test(line) || line.startsWith(".")) continue;
    pushReq(out, line, "pypi", `${file}:${first}`);
  }
}

function readEnvironmentYml(text: string, file: string, out: Declared): void {
  let doc: { dependencies?: unknown[] };
  try {
    doc = parseYaml(text) as { dependencies?: unknown[] };
  } catch (err) {
    out.problems.push(
      `${file}: not valid YAML, ignored (${(err as Error).message.split("\n")[0]})`,
    );
    return;
  }
  for (const d of Array.isArray(doc?.dependencies) ? doc.dependencies : []) {
    if (typeof d === "string") {
      if (specName(d.replace(/^.*::/, "")) !== "python") pushReq(out, d, "conda", file);
    } else if (d && typeof d === "object" && Array.isArray((d as { pip?: unknown }).pip)) {
      for (const p of (d as { pip: unknown[] }).pip) {
        if (typeof p === "string") pushReq(out, p, "pypi", file);
      }
    }
  }
}

function readSetupCfg(text: string, file: string, out: Declared): void {
  let section = "";
  let key = "";
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const sec = /^\[([^\]]+)\]/.exec(raw);
    if (sec) {
      section = sec[1].trim();
      key = "";
      continue;
    }
    if (section !== "options") continue;
    const kv = /^([A-Za-z_-]+)\s*=\s*(.*)$/.exec(raw);
    if (kv) {
      key = kv[1];
      if (key === "python_requires" && kv[2].trim()) out.requiresPython = kv[2].trim();
      if (key === "install_requires" && kv[2].trim()) {
        for (const r of kv[2].split(";")[0].split(",")) pushReq(out, r, "pypi", `${file}:${i + 1}`);
      }
      continue;
    }
    if (key === "install_requires" && /^\s+\S/.test(raw)) {
      const v = raw.replace(/#.*$/, "").trim();
      if (v) pushReq(out, v, "pypi", `${file}:${i + 1}`);
    }
  }
}

/**
 * Reads the declared requirements at `root`.
 *
 * @throws {PermissionError} when a declaring file is there but may not be read (exit 2).
 * @throws {NotFoundError} when a directory stands where a declaring file is expected (exit 2).
 */
export async function readDeclared(root: string): Promise<Declared> {
  const out: Declared = { root, requirements: [], problems: [] };
  const read = (f: string) => readTextOrNull(join(root, f));
  const pyproject = await read("pyproject.toml");
  if (pyproject !== null) readPyproject(pyproject, "pyproject.toml", out);
  const names: string[] = [];
  for await (const e of Deno.readDir(root)) {
    if (e.isFile && /^requirements.*\.txt$/.test(e.name)) names.push(e.name);
  }
  const seen = new Set<string>();
  for (const n of names.sort()) await readRequirements(join(root, n), root, out, seen);
  for (const f of ["environment.yml", "environment.yaml"]) {
    const text = await read(f);
    if (text !== null) readEnvironmentYml(text, f, out);
  }
  const cfg = await read("setup.cfg");
  if (cfg !== null) readSetupCfg(cfg, "setup.cfg", out);
  return out;
}
