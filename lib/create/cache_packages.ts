/**
 * The fetch and extract steps of a native install: every solved package
 * downloaded (or found) in the store's download cache and verified, then
 * extracted into the content-addressed package cache and its metadata read.
 * Everything is extracted before anything is linked, so that pre-link
 * messages come first.
 *
 * @module
 */

import { type FetchedPackage, fetchPackages } from "../conda/fetch.ts";
import type { SolvedRecord } from "../conda/solve.ts";
import { extractPackageToCache } from "../conda/extract.ts";
import { readPackageInfo } from "../conda/package_info.ts";
import { fileSha256 } from "../digest.ts";
import type { StoreLayout } from "../../store/layout.ts";
import { forPackage } from "./package_errors.ts";
import type { Reporter } from "./report.ts";
import type { Installing } from "./native_state.ts";
import type { CreateOptions, SolvedRecords } from "./types.ts";

/** A verified download of one solved package. */
export type Fetched = FetchedPackage<SolvedRecord>;

/** Downloads (or finds in the store) and verifies every package of the solution. */
export function fetchSolution(
  records: SolvedRecords,
  layout: StoreLayout,
  opts: CreateOptions,
  log: Reporter,
): Promise<Fetched[]> {
  return fetchPackages(records, {
    layout,
    offline: opts.offline,
    progress: opts.quiet ? false : undefined,
    log,
  });
}

/** Extracts every download into the package cache and reads its metadata, in order. */
export async function extractAll(layout: StoreLayout, fetched: Fetched[]): Promise<Installing[]> {
  const pkgs: Installing[] = [];
  for (const { item: r, path } of fetched) {
    pkgs.push(
      await forPackage(r, path, async () => {
        const sha = r.sha256 ?? await fileSha256(path);
        const dir = await extractPackageToCache(layout, path, sha, r.url);
        return { r, path, sha, dir, info: await readPackageInfo(dir) };
      }),
    );
  }
  return pkgs;
}
