/**
 * Types shared by the automatic-environment modules (`auto.ts`, loaded on
 * every automatic run, and `auto_spec.ts`, loaded on an analysis miss).
 *
 * @module
 */

import type { EnvSpec } from "./envspec/types.ts";

/** Options of `resolveAutoSpec()` and `ensureAutoEnvironment()`. */
export interface AutoSpecOptions {
  /** A Python script to run. */
  script?: string;
  /** A module to run with `python -m` (looked up in `cwd`, then on `$PYTHONPATH`). */
  module?: string;
  /** A spec file (poncho JSON, JSONC or environment.yml) instead of analysis. */
  specFile?: string;
  /** Target Python `X.Y`; default: left to the solver (or the script's `requires-python`). */
  python?: string;
  /**
   * Channels; when given they replace the analyzer's default channel, and
   * their import maps (for `platform`) name the script's packages.
   */
  channels?: string[];
  /** Target platform (default: this machine). */
  platform?: string;
  /** `--pkg-mapping IMPORT=NAME` entries, as for `analyze`. */
  pkgMappings?: string[];
  /** `--extra-pkg PKG` entries, as for `analyze` (with a spec file: added to it). */
  extraPkgs?: string[];
  /**
   * Pin packages (and python) to what the host's `python3`/`$CONDA_PREFIX`
   * has installed, as `poncho analyze` does; the analysis is then not cached.
   */
  pinLocal?: boolean;
  /** Ignore the cached analysis. */
  reanalyze?: boolean;
  /** Base for relative paths (default `Deno.cwd()`). */
  cwd?: string;
  /** Environment (`PYTHONPATH`; with `pinLocal` also `PATH`, `CONDA_PREFIX`); default `Deno.env`. */
  env?: Record<string, string | undefined>;
  /** Store root (default `defaultStoreRoot()`); holds the analysis cache. */
  store?: string;
}

/** A resolved automatic environment spec. */
export interface AutoSpec {
  /** The spec. */
  spec: EnvSpec;
  /** sha256 of its canonical form (the environment's identity before solving). */
  hash: string;
  /** The target platform. */
  platform: string;
  /** Files that were read (absolute): the script closure, or the spec file. */
  files: string[];
  /** Analyzer warnings. */
  warnings: string[];
  /** What the environment was made for (script path, `-m module (dir)` or spec path). */
  source: string;
  /** True when the analysis came from the store's cache. */
  cached: boolean;
}
