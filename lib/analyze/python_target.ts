/**
 * The target Python `X.Y` of an analysis: `--python`, else (unless the
 * version is left to the solver) the installed environment's, else the
 * version `python3` reports, else {@linkcode DEFAULT_PYTHON}.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { InstalledIndex } from "./installed.ts";
import { runPython3 } from "./python3.ts";
import { parseMinorVersion, stdlibVersionFor } from "./stdlib.ts";

/** The default target when no interpreter is found. */
export const DEFAULT_PYTHON = "3.12";

/** What decides the target. */
export interface TargetOptions {
  /** `--python X.Y`. */
  python?: string;
  /** Leave the version to the solver: {@linkcode DEFAULT_PYTHON} for stdlib checks. */
  unpinnedPython?: boolean;
}

/**
 * The target `X.Y` (see the module documentation).
 *
 * @throws {UsageError} for a `--python` that is not a version like 3.11.
 */
export async function targetVersion(
  options: TargetOptions,
  installed: InstalledIndex | undefined,
): Promise<string> {
  if (options.python !== undefined) {
    const parsed = parseMinorVersion(options.python);
    if (!parsed) {
      throw new UsageError(`--python ${options.python}: expected a version like 3.11`);
    }
    stdlibVersionFor(options.python); // validates the major version
    return `${parsed[0]}.${parsed[1]}`;
  }
  if (options.unpinnedPython) return DEFAULT_PYTHON;
  if (installed?.pythonVersion) return installed.pythonVersion;
  const out = await runPython3(["--version"]);
  if (!out) return DEFAULT_PYTHON; // no python3
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const m = /Python (\d+\.\d+)/.exec(text);
  return out.success && m ? m[1] : DEFAULT_PYTHON;
}
