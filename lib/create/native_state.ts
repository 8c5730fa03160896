/**
 * What the steps of a native install share: the target, the printers, and
 * each solved package as it goes from download to extracted cache entry to
 * linked files (see `native.ts` for the order of the steps).
 *
 * @module
 */

import type { SolvedRecord } from "../conda/solve.ts";
import type { PackageInfo } from "../conda/package_info.ts";
import type { LinkResult } from "../conda/link.ts";
import type { PythonLayout } from "../conda/noarch.ts";
import type { Reporter } from "./report.ts";
import type { InstallTarget } from "./types.ts";

/** A solved package on its way into the prefix. */
export interface Installing {
  /** The solver's record. */
  r: SolvedRecord;
  /** The verified download. */
  path: string;
  /** Its sha256. */
  sha: string;
  /** Its extracted package cache entry. */
  dir: string;
  /** Its metadata, read from the cache entry. */
  info: PackageInfo;
  /** What linking it put into the prefix (set by the link step). */
  linked?: LinkResult;
}

/** A native install in progress. */
export interface NativeInstall extends Omit<InstallTarget, "solved"> {
  /** Whether the target is this machine's platform (link scripts and `.pyc` can run). */
  native: boolean;
  /** Details (`--verbose`). */
  log: Reporter;
  /** Main steps. */
  step: Reporter;
  /** Notices (warnings, packages' messages). */
  say: Reporter;
  /** The environment's Python, when the solution has one. */
  python?: PythonLayout;
  /** The packages, in install order. */
  pkgs: Installing[];
}

/** The link result of a package past the link step. */
export function linkedOf(p: Installing): LinkResult {
  return p.linked!;
}
