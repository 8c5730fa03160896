/**
 * Loading sources into units of Python to scan: a Python file is one unit,
 * a notebook one unit per code cell. Loading also gathers what a source
 * declares besides its imports: PEP 723 `dependencies` and `requires-python`,
 * the packages a notebook installs (`%pip install`), the modules it writes
 * (`%%writefile`), and the problems found, as warnings.
 *
 * @module
 */

import { dirname } from "node:path";
import { NotFoundError } from "../errors.ts";
import { decodePythonSource } from "./decode.ts";
import { type LocalResolver, moduleOfWrittenFile } from "./local.ts";
import { type NotebookContent, readNotebook } from "./notebook.ts";
import { parseScriptMetadata } from "./pep723.ts";
import { looksLikeNotebook, readSource, RefusedSource } from "./read_source.ts";
import type { SourceFile } from "./sources.ts";

/** One unit of Python to scan: a file, or one notebook cell. */
export interface Unit {
  /** The source it comes from. */
  source: SourceFile;
  /** Reached by following a local import (not given). */
  followed: boolean;
  /**
   * The PEP 723 `dependencies` governing this unit: its own script block's,
   * or that of the script whose imports led here. They win over inferred names.
   */
  declared?: string[];
  /** The Python text. */
  text: string;
  /** Formats a location from a 1-based line. */
  where: (line: number) => string;
}

/** What loading has gathered so far; every step appends to it. */
export interface LoadState {
  /** The content of source `-`. */
  stdin?: Uint8Array | string;
  /** Learns the modules notebooks write. */
  resolver: LocalResolver;
  /** Warnings, in the order found. */
  warnings: string[];
  /** The units to scan, in load order. */
  units: Unit[];
  /** `requires-python` values in effect. */
  requires: string[];
  /** PEP 723 dependencies and notebook pip installs (pip requirements). */
  declared: string[];
  /** Notebook conda installs (match specs). */
  condaInstalls: string[];
  /** Absolute paths of the files read (stdin excluded). */
  read: string[];
}

/** Names of Python sources (a named source without one needs a python shebang). */
const PYTHON_NAME = /\.(py|pyw|ipynb)$/;

const reason = (err: unknown) => err instanceof Error ? err.message : String(err);

/**
 * Reads one source into `state.units`. A source that cannot be read is an
 * error when it was named, else a warning (and skipped).
 *
 * @param governing The PEP 723 dependencies of the script whose import led here.
 * @throws {NotFoundError} when a named source cannot be read or is a broken notebook.
 */
export async function loadSource(
  state: LoadState,
  file: SourceFile,
  followed: boolean,
  governing?: string[],
): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = await readSource(file, state.stdin);
  } catch (err) {
    if (err instanceof RefusedSource) {
      state.warnings.push(`${file.path}: ${reason(err)}; skipped`);
      return;
    }
    if (file.explicit) {
      throw new NotFoundError(`source ${file.path}: cannot read (${reason(err)})`, { cause: err });
    }
    state.warnings.push(`${file.path}: cannot read, skipped (${reason(err)})`);
    return;
  }
  if (!file.stdin) state.read.push(file.absPath);
  const notebook = file.kind === "notebook" || (file.stdin && looksLikeNotebook(bytes));
  if (notebook && loadNotebook(state, file, bytes, followed, governing)) return;
  loadPython(state, file, bytes, followed, governing);
}

/**
 * Reads a notebook's cells into units. Returns false for stdin that only
 * looked like JSON (then it is Python).
 */
function loadNotebook(
  state: LoadState,
  file: SourceFile,
  bytes: Uint8Array,
  followed: boolean,
  governing: string[] | undefined,
): boolean {
  let content: NotebookContent;
  try {
    content = readNotebook(new TextDecoder().decode(bytes));
  } catch (err) {
    if (file.kind !== "notebook") return false; // stdin that only looked like JSON
    if (file.explicit) {
      throw new NotFoundError(`source ${file.path}: not a readable notebook (${reason(err)})`, {
        cause: err,
      });
    }
    state.warnings.push(`${file.path}: not a readable notebook, skipped (${reason(err)})`);
    return true;
  }
  notebookFacts(state, file, content);
  for (const c of content.code) {
    state.units.push({
      source: file,
      followed,
      declared: governing,
      text: c.source,
      where: (line) => `${file.path}[${c.cell}]:${line}`,
    });
  }
  return true;
}

/** A notebook's problems, written modules and installs. */
function notebookFacts(state: LoadState, file: SourceFile, content: NotebookContent): void {
  for (const p of content.problems) {
    state.warnings.push(`${file.path}${p.cell ? `[${p.cell}]` : ""}: ${p.message}`);
  }
  for (const w of content.writefiles) {
    const name = moduleOfWrittenFile(w.path);
    if (name) state.resolver.addModule(dirname(file.absPath), name);
  }
  for (const inst of content.installs) {
    const where = `${file.path}[${inst.cell}]:${inst.line}`;
    (inst.manager === "pip" ? state.declared : state.condaInstalls).push(...inst.packages);
    state.warnings.push(
      `${where}: notebook runs ${inst.manager} install ${inst.packages.join(" ")}; ` +
        `added to the spec${inst.manager === "pip" ? " under pip" : ""}`,
    );
  }
}

/** Decodes a Python source into one unit, with its PEP 723 metadata. */
function loadPython(
  state: LoadState,
  file: SourceFile,
  bytes: Uint8Array,
  followed: boolean,
  governing: string[] | undefined,
): void {
  const decoded = decodePythonSource(bytes);
  if (decoded.warning) state.warnings.push(`${file.path}: ${decoded.warning}`);
  if (file.explicit && !file.stdin && !PYTHON_NAME.test(file.path)) {
    const first = decoded.text.slice(0, decoded.text.indexOf("\n") >>> 0);
    if (!/^#!.*python/.test(first)) {
      state.warnings.push(
        `${file.path}: not a Python source (no .py/.pyw/.ipynb name, no python shebang); ` +
          `analysed anyway`,
      );
    }
  }
  const meta = parseScriptMetadata(decoded.text);
  if (meta) {
    for (const p of meta.problems) state.warnings.push(`${file.path}:${p.line}: ${p.message}`);
    state.declared.push(...meta.dependencies);
    if (meta.requiresPython) state.requires.push(meta.requiresPython);
  }
  state.units.push({
    source: file,
    followed,
    declared: meta ? meta.dependencies : governing,
    text: decoded.text,
    where: (line) => `${file.path}:${line}`,
  });
}
