/**
 * The `--explain` records of an analysis: one per (module, package), with
 * every place it is imported, sorted by module and package, places by file,
 * notebook cell and line.
 *
 * @module
 */

import type { Occurrence } from "./classify.ts";
import type { ExplainRecord } from "./spec_out.ts";

/** Merges occurrences into explain records (optional only when optional everywhere). */
export function explainRecords(occurrences: Occurrence[]): ExplainRecord[] {
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
  for (const r of imports) r.locations.sort(byPlace);
  return imports;
}

/** Orders `file:line` / `file[cell]:line` places by file, cell, line. */
function byPlace(a: string, b: string): number {
  const pa = splitLocation(a);
  const pb = splitLocation(b);
  return pa.file < pb.file ? -1 : pa.file > pb.file ? 1 : pa.cell - pb.cell || pa.line - pb.line;
}

/** Splits `file:line` / `file[cell]:line` into its parts, for sorting. */
function splitLocation(loc: string): { file: string; cell: number; line: number } {
  const m = /^(.*?)(?:\[(\d+)\])?:(\d+)$/.exec(loc);
  return m
    ? { file: m[1], cell: Number(m[2] ?? 0), line: Number(m[3]) }
    : { file: loc, cell: 0, line: 0 };
}
