/**
 * Everything a spec asks for, installed into a prefix: its conda part
 * (natively, or by `--conda-exe`), then its pip requirements, then its git
 * and http data sources. Each part's code is loaded only when the spec has
 * that part.
 *
 * @module
 */

import { installWithCondaExe } from "./conda_exe.ts";
import type { CreatedPackage, InstallTarget } from "./types.ts";

/** Installs the spec's conda part: by `opts.condaExe`, else natively (from `solved` when given). */
async function installConda(t: InstallTarget): Promise<CreatedPackage[]> {
  const { spec, prefix, platform, opts } = t;
  if (opts.condaExe) return await installWithCondaExe(spec, prefix, platform, opts.condaExe, opts);
  if (spec.conda.length === 0) return [];
  const { installNative } = await import("./native.ts");
  return await installNative(t);
}

/**
 * Installs everything the spec asks for into `t.prefix` (conda, pip, data
 * sources), natively from `t.solved` when given, else solving (or with
 * `opts.condaExe`).
 */
export async function installAll(t: InstallTarget): Promise<CreatedPackage[]> {
  const { spec, prefix, opts } = t;
  const packages = await installConda(t);
  if (spec.pip.length > 0) {
    const { pipInstall } = await import("../conda/pip.ts");
    await pipInstall(prefix, spec.pip, { quiet: opts.quiet });
  }
  if (Object.keys(spec.git).length > 0 || Object.keys(spec.http).length > 0) {
    const { materializeSources } = await import("../sources/materialize.ts");
    await materializeSources(spec, prefix);
  }
  return packages;
}
