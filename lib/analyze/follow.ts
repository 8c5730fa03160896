/**
 * Scanning the loaded units for imports, filtered by `--toplevel` /
 * `--function`, and following the local modules they import: each module's
 * files are loaded as new units (once each), which the same pass then scans.
 *
 * @module
 */

import { dirname } from "node:path";
import { UsageError } from "../errors.ts";
import { statOrNull } from "../fs/probe.ts";
import type { LocalResolver } from "./local.ts";
import { scanImports } from "./scan.ts";
import { moduleSources } from "./sources.ts";
import type { ImportRecord } from "./types.ts";
import { loadSource, type LoadState, type Unit } from "./units.ts";

/** Which imports count (the CLI's `--toplevel`, `--function`) and whether to follow. */
export interface ScanFilter {
  /** Only module-level imports. */
  toplevel?: boolean;
  /** Only imports inside this function (with `toplevel`: both). */
  function?: string;
  /** Follow local modules (default true). */
  follow?: boolean;
}

/** One import that counts, and the unit it is in. */
export interface Scanned {
  /** Where it is. */
  unit: Unit;
  /** The import. */
  rec: ImportRecord;
}

/**
 * Whether an import counts under the filter. Followed modules count whole
 * (with `--toplevel`: their module level).
 */
function wanted(filter: ScanFilter, rec: ImportRecord, followed: boolean): boolean {
  if (followed) return !filter.toplevel || filter.function !== undefined || rec.toplevel;
  if (!filter.toplevel && filter.function === undefined) return true;
  if (filter.toplevel && rec.toplevel) return true;
  return filter.function !== undefined && rec.functions.includes(filter.function);
}

/**
 * Scans every unit (including those that following adds) and returns the
 * imports that count, in order.
 *
 * @param seen Absolute paths already loaded; following skips them and adds what it loads.
 * @throws {UsageError} when `--function NAME` names no function of the sources.
 */
export async function scanAndFollow(
  state: LoadState,
  filter: ScanFilter,
  cwd: string,
  seen: Set<string>,
): Promise<Scanned[]> {
  let functionSeen = false;
  const scanned: Scanned[] = [];
  for (let i = 0; i < state.units.length; i++) { // following appends: this loop reaches them
    const unit = state.units[i];
    const result = scanImports(unit.text);
    for (const p of result.problems) state.warnings.push(`${unit.where(p.line)}: ${p.message}`);
    if (filter.function !== undefined && result.functions.includes(filter.function)) {
      functionSeen = true;
    }
    for (const rec of result.imports) {
      if (!wanted(filter, rec, unit.followed)) continue;
      scanned.push({ unit, rec });
      if (filter.follow !== false) await follow(state, rec, unit, cwd, seen);
    }
  }
  if (filter.function !== undefined && !functionSeen) {
    throw new UsageError(`--function ${filter.function}: no function of that name in the sources`);
  }
  return scanned;
}

/** Loads the files of the local module `rec` imports (those not seen yet). */
async function follow(
  state: LoadState,
  rec: ImportRecord,
  unit: Unit,
  cwd: string,
  seen: Set<string>,
): Promise<void> {
  for (const target of await localTargets(rec, unit.source.absPath, state.resolver)) {
    for (const f of await moduleSources(target, cwd)) {
      if (seen.has(f.absPath)) continue;
      seen.add(f.absPath);
      await loadSource(state, f, true, unit.declared);
    }
  }
}

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
      const st = await statOrNull(candidate);
      if (st && (st.isFile || (st.isDirectory && candidate === `${base}/${name}`))) {
        out.push(candidate);
        break;
      }
    }
  }
  return out;
}
