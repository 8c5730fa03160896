/**
 * A native install of a spec's conda part into a prefix, step by step as
 * rattler's installer runs them: solve (unless given a solution) -> fetch
 * and verify -> extract into the package cache -> pre-link messages -> link
 * (clobbers registered) -> `.pyc` of `noarch: python` -> post-link scripts
 * -> conda-meta. Each step is its own module; this one orders them.
 *
 * @module
 */

import { condaPlatform } from "../conda/platform.ts";
import { pythonLayout } from "../conda/noarch.ts";
import { forPackage } from "./package_errors.ts";
import { notifier, reporter, stepper } from "./report.ts";
import { createdPackages, solveNative } from "./solve.ts";
import { extractAll, fetchSolution } from "./cache_packages.ts";
import { linkAll } from "./link_all.ts";
import { compileNoarch } from "./byte_compile.ts";
import { runPostLinkScripts, sayNotRun, scriptedPackages, showPrelinkMessages } from "./scripts.ts";
import { writeCondaMeta } from "./conda_meta.ts";
import type { NativeInstall } from "./native_state.ts";
import type { CreatedPackage, InstallTarget } from "./types.ts";

/** Installs the spec natively into `prefix` (solving first unless `solved` is given). */
export async function installNative(t: InstallTarget): Promise<CreatedPackage[]> {
  const { spec, prefix, platform, layout, opts, solved } = t;
  const log = reporter(opts);
  const records = solved ?? await solveNative(spec, platform, layout, opts);
  const fetched = await fetchSolution(records, layout, opts, log);
  const pythonRec = records.find((r) => r.name === "python");
  const python = pythonRec
    ? await forPackage(pythonRec, undefined, () => Promise.resolve(pythonLayout(pythonRec.record)))
    : undefined;
  const run: NativeInstall = {
    spec,
    prefix,
    platform,
    native: platform === condaPlatform(),
    layout,
    opts,
    log,
    step: stepper(opts),
    say: notifier(opts),
    python,
    pkgs: await extractAll(layout, fetched),
  };
  await showPrelinkMessages(run);
  await linkAll(run);
  const noarchPy = run.pkgs.filter((p) => p.info.noarch === "python");
  const scripted = scriptedPackages(run);
  sayNotRun(run, noarchPy, scripted);
  if (run.native && python && noarchPy.length > 0) await compileNoarch(run, noarchPy);
  if (run.native) await runPostLinkScripts(run, scripted);
  await writeCondaMeta(run, records);
  return createdPackages(records);
}
