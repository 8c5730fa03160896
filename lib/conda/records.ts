/**
 * The repodata record type shared by `repodata.json`, the per-name index
 * and CEP-16 shards.
 *
 * @module
 */

/** One record of `repodata.json` (`packages` / `packages.conda`), as found there. */
export interface RepodataRecord {
  /** Package name. */
  name: string;
  /** Version. */
  version: string;
  /** Build string. */
  build: string;
  /** Build number. */
  build_number?: number;
  /** Match specs of the dependencies. */
  depends?: string[];
  /** Match specs constraining other packages when installed. */
  constrains?: string[];
  /** The subdir the package belongs to. */
  subdir?: string;
  /** `python`, `generic`, or absent. */
  noarch?: string;
  /** Lower-case hex sha256 of the package file. */
  sha256?: string;
  /** Lower-case hex md5 of the package file. */
  md5?: string;
  /** Package file size in bytes. */
  size?: number;
  /** Build time (ms since the epoch). */
  timestamp?: number;
  /** License. */
  license?: string;
  /** Other fields, kept as found. */
  [field: string]: unknown;
}
