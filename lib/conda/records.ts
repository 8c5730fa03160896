/**
 * The repodata record type shared by `repodata.json`, the per-name index
 * and CEP-16 shards.
 *
 * @module
 */

/** The file name of a subdir's CEP-16 shard index. */
export const SHARD_INDEX_FILE = "repodata_shards.msgpack.zst";

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

/** The records of one package name, in the shape of `repodata.json`'s sections. */
export interface NameRecords {
  /** `.tar.bz2` records by file name. */
  packages: Record<string, RepodataRecord>;
  /** `.conda` records by file name. */
  "packages.conda": Record<string, RepodataRecord>;
}

/** Where the records of one channel subdir are read from, name by name. */
export interface RecordSource {
  /** Whether the subdir has records named `name`. */
  has(name: string): boolean;
  /** The records named `name` (fetched, or read from the store, on demand). */
  read(name: string): Promise<NameRecords>;
  /** Releases open files. */
  close(): Promise<void>;
}

/** The package name a match spec refers to (`conda-forge::numpy >=1` -> `numpy`). */
export function specName(spec: string): string {
  const s = spec.trim().replace(/^.*::/, "");
  return (s.match(/^[A-Za-z0-9_.\-]+/)?.[0] ?? s).toLowerCase();
}
