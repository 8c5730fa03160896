/**
 * The vocabulary of `create`: its options, what it installs where, what it reports, and the
 * constants the other steps share (the `--prefix` incomplete marker, the
 * default wait for another process's build).
 *
 * @module
 */

import type { EnvSpec } from "../envspec/types.ts";
import type { SolvedRecord } from "../conda/solve.ts";
import type { StoreLayout } from "../../store/layout.ts";

/** Options of `createEnvironment` (`lib/create.ts`). */
export interface CreateOptions {
  /** The parsed spec. */
  spec: EnvSpec;
  /** Where the spec came from (for messages and the store index). */
  specSource?: string;
  /** The archive to write. Exactly one of `output` and `prefix` is required. */
  output?: string;
  /** Install into this directory instead of writing an archive. */
  prefix?: string;
  /** Channels to put before the spec's own. */
  channels?: string[];
  /** Target platform (default: this machine). */
  platform?: string;
  /** Use only cached repodata and packages. */
  offline?: boolean;
  /** Rebuild even when the archive cache has this spec. */
  force?: boolean;
  /** Delegate solve and install to conda, mamba or micromamba at this path. */
  condaExe?: string;
  /** Store root (default: the store's default root). */
  store?: string;
  /** Print nothing but errors. */
  quiet?: boolean;
  /** Print each step on stderr. */
  verbose?: boolean;
  /** Only make sure the store's archive cache has the build (no `output`, no `prefix`). */
  cacheOnly?: boolean;
  /** Do not run packages' post-link scripts (for untrusted channels); a separate cache entry. */
  noLinkScripts?: boolean;
  /**
   * How long to wait for another process's build of the same spec, in
   * milliseconds (default {@linkcode DEFAULT_BUILD_WAIT_MS}).
   */
  waitForLockMs?: number;
  /** Only solve: report what would be installed; fetch nothing, write no output. */
  dryRun?: boolean;
}

/**
 * The file `create --prefix` keeps in the prefix until the install is
 * complete; `poncho run -e DIR` refuses a directory that has it.
 */
export const INCOMPLETE_MARKER = ".poncho/incomplete";

/** How long a create waits by default for another process's build of the same spec (6 h). */
export const DEFAULT_BUILD_WAIT_MS = 6 * 3600_000;

/** One installed conda package in a {@link CreateResult}. */
export interface CreatedPackage {
  /** Package name. */
  name: string;
  /** Version. */
  version: string;
  /** Build string. */
  build: string;
  /** Channel URL. */
  channel: string;
  /** Package file size in bytes (dry runs). */
  size?: number;
  /** Package download URL (dry runs). */
  url?: string;
}

/** What an install puts where: the spec, into `prefix`, for `platform`, from the store's caches. */
export interface InstallTarget {
  /** The spec being installed. */
  spec: EnvSpec;
  /** The prefix (absolute). */
  prefix: string;
  /** The target platform. */
  platform: string;
  /** The store. */
  layout: StoreLayout;
  /** The create's options. */
  opts: CreateOptions;
  /** The solution to install; solved first when not given (natively, or by `opts.condaExe`). */
  solved?: SolvedRecords;
}

/** What `createEnvironment` did. */
export interface CreateResult {
  /** sha256 of the canonical spec. */
  specHash: string;
  /** Environment identity written to the manifest (spec hash + solved packages). */
  envId?: string;
  /** Target platform. */
  platform: string;
  /** The archive written, if any. */
  output?: string;
  /** The prefix installed, if `prefix` was given. */
  prefix?: string;
  /** True when the archive came from the cache without building. */
  cached: boolean;
  /** True for a dry run: `packages` is what would be installed, nothing was written. */
  dryRun?: boolean;
  /** The store's cached archive. */
  cachedArchive?: string;
  /** Conda packages installed (empty when cached). */
  packages: CreatedPackage[];
  /** pip requirements installed. */
  pip: string[];
  /** Wall time in seconds. */
  seconds: number;
}

/** A native solution: the records the solver chose. */
export type SolvedRecords = SolvedRecord[];
