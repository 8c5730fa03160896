/**
 * What CCTools' first-generation `python_package_analyze <script> <out>`
 * computes: the script's top-level third-party modules (by Poncho's analyzer:
 * standard-library and local modules are left out) and the full version of
 * the local `python3`.
 *
 * @module
 */

import { analyze } from "../analyze/analyze.ts";
import { runPython3 } from "../analyze/python3.ts";
import type { LegacyDeps } from "./format.ts";

/** The `X.Y.Z` of the `python3` on PATH, or null when there is none. */
async function localPythonVersion(cwd: string): Promise<string | null> {
  const out = await runPython3(["-c", "import platform; print(platform.python_version())"], {
    cwd,
    stderr: "null",
  });
  if (!out) return null;
  const v = new TextDecoder().decode(out.stdout).trim();
  return out.success && /^\d+\.\d+\.\d+/.test(v) ? v : null;
}

/**
 * Analyses one script the way the first-generation tool did.
 *
 * @param script The Python script (a path).
 * @param cwd Base for a relative `script` (default `Deno.cwd()`).
 * @throws {NotFoundError} when the script is missing or unreadable (exit code 2).
 */
export async function analyzeLegacy(script: string, cwd = Deno.cwd()): Promise<LegacyDeps> {
  const result = await analyze({ sources: [script], cwd });
  const modules = [
    ...new Set(
      // Unresolved imports are third-party too: the old format names modules, not packages.
      result.imports.filter((r) => r.kind === "third-party" || r.kind === "unresolved")
        .map((r) => r.module.split(".")[0]),
    ),
  ].sort();
  return { python: (await localPythonVersion(cwd)) ?? result.python, modules };
}
