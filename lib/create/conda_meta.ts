/**
 * The conda-meta step of a native install: one `conda-meta/<dist>.json` per
 * package, as conda writes it (its files, their `paths_data`, the spec the
 * user asked it by), and `conda-meta/history`.
 *
 * @module
 */

import { writeHistory, writeMetaRecord } from "../conda/meta.ts";
import { linkedOf, type NativeInstall } from "./native_state.ts";
import type { SolvedRecords } from "./types.ts";

/** The spec each requested package was asked by, by lower-case package name. */
function requestedSpecs(conda: string[]): Map<string, string> {
  const requested = new Map<string, string>();
  for (const s of conda) {
    const name = s.replace(/^[^:]*::/, "").match(/^[A-Za-z0-9_.\-]+/)?.[0]?.toLowerCase();
    if (name) requested.set(name, s);
  }
  return requested;
}

/** Writes the conda-meta record of every linked package and the history of the install. */
export async function writeCondaMeta(run: NativeInstall, records: SolvedRecords): Promise<void> {
  const requested = requestedSpecs(run.spec.conda);
  for (const p of run.pkgs) {
    const linked = linkedOf(p);
    await writeMetaRecord(run.prefix, {
      record: { ...p.r.record, sha256: p.sha },
      channel: p.r.channel,
      url: p.r.url,
      fn: p.r.fn,
      source: p.dir,
      tarball: p.path,
      linkType: linked.linkType,
      files: linked.files,
      pathsData: linked.pathsData,
      requestedSpec: requested.get(p.r.name),
    });
  }
  await writeHistory(run.prefix, records, run.spec.conda);
}
