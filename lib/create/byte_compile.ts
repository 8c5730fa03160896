/**
 * The `.pyc` step of a native install: the `noarch: python` packages'
 * sources in site-packages (those no later package clobbered) byte-compiled
 * with the environment's own interpreter, each `.pyc` recorded in its
 * package's conda-meta as a `pyc_file`.
 *
 * @module
 */

import { pythonExecutable } from "../conda/noarch.ts";
import { compilePyc } from "../conda/pyc.ts";
import { type Installing, linkedOf, type NativeInstall } from "./native_state.ts";

/** The site-packages `.py` files the packages linked (and still own). */
function noarchSources(run: NativeInstall, noarchPy: Installing[]): string[] {
  const sitePackages = run.python!.sitePackages;
  return noarchPy.flatMap((p) =>
    linkedOf(p).pathsData.filter((d) =>
      d.path_type === "hardlink" && !d.clobbered_by && d._path.endsWith(".py") &&
      d._path.startsWith(`${sitePackages}/`)
    ).map((d) => d._path)
  );
}

/** Byte-compiles the `noarch: python` packages `noarchPy` and records their `.pyc` files. */
export async function compileNoarch(run: NativeInstall, noarchPy: Installing[]): Promise<void> {
  const exe = pythonExecutable(run.prefix, run.python!);
  const sources = noarchSources(run, noarchPy);
  run.step(`byte-compiling ${sources.length} files of ${noarchPy.length} noarch python packages`);
  const compiled = await compilePyc(run.prefix, exe, sources);
  if (compiled.size === 0 && sources.length > 0) run.log(`no ${exe} in the environment: no .pyc`);
  for (const p of noarchPy) {
    const linked = linkedOf(p);
    const pycs = linked.files.map((f) => compiled.get(f)).filter((x): x is string => !!x);
    for (const pyc of pycs) {
      linked.files.push(pyc);
      linked.pathsData.push({ _path: pyc, path_type: "pyc_file" });
    }
  }
}
