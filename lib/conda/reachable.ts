/**
 * The reachable subset of a channel set: the records of the requested names
 * and, transitively, of every name any of those records depends on (conda's
 * "reduced index", CEP-16's fetch loop). Names are read from every subdir
 * that has them, with a bounded number of reads (shard downloads) at once;
 * a newly found name starts as soon as a slot is free.
 *
 * @module
 */

import { type NameRecords, type RecordSource, specName } from "./records.ts";

/** Reads in flight at once (default for {@linkcode collectReachable}). */
export const DEFAULT_CONCURRENCY = 16;

/**
 * Reads the records reachable from `specs` in each of `sources` (null sources
 * are skipped); the result has one map (name -> records) per source, in order.
 * Virtual package names (`__glibc`) are not looked up.
 */
export function collectReachable(
  specs: string[],
  sources: (RecordSource | null)[],
  concurrency = DEFAULT_CONCURRENCY,
): Promise<Map<string, NameRecords>[]> {
  const results = sources.map(() => new Map<string, NameRecords>());
  const seen = new Set<string>();
  const jobs: [number, string][] = [];
  let active = 0;
  let failed = false;
  return new Promise((resolve, reject) => {
    const add = (name: string) => {
      if (seen.has(name) || name.startsWith("__")) return;
      seen.add(name);
      sources.forEach((s, i) => {
        if (s?.has(name)) jobs.push([i, name]);
      });
    };
    const pump = () => {
      if (failed) return;
      while (active < concurrency && jobs.length) {
        const [i, name] = jobs.shift()!;
        active++;
        sources[i]!.read(name).then((recs) => {
          results[i].set(name, recs);
          for (const section of [recs.packages, recs["packages.conda"]]) {
            for (const fn in section) {
              for (const dep of section[fn].depends ?? []) add(specName(dep));
            }
          }
          active--;
          pump();
        }, (err) => {
          failed = true;
          reject(err);
        });
      }
      if (active === 0 && jobs.length === 0 && !failed) resolve(results);
    };
    for (const s of specs) add(specName(s));
    pump();
  });
}
