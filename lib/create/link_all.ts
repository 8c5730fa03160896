/**
 * The link step of a native install: every extracted package linked into the
 * prefix in install order (hardlinks from the package cache, or copies when
 * post-link scripts will run), with one clobber registry over the whole
 * install: a path a later package replaces is warned about and recorded in
 * both packages' conda-meta (`clobbers`, `clobbered_by`).
 *
 * @module
 */

import { join } from "node:path";
import { linkPackage } from "../conda/link.ts";
import { ClobberRegistry, clobberWarning } from "../conda/clobber.ts";
import { postLinkScriptPath } from "../conda/link_scripts.ts";
import { distOf, forPackage } from "./package_errors.ts";
import type { NativeInstall } from "./native_state.ts";

/**
 * Whether the install will run post-link scripts. A post-link script may
 * write into any file of the prefix: a hardlink would carry that write into
 * the shared package cache, so such an environment gets copies.
 */
function willRunScripts(run: NativeInstall): boolean {
  return run.native && !run.opts.noLinkScripts &&
    run.pkgs.some((p) =>
      p.info.paths.some((e) =>
        e.path === postLinkScriptPath(p.r.name) ||
        (p.info.noarch === "python" && e.path === `python-scripts/.${p.r.name}-post-link.sh`)
      )
    );
}

/** Links every package into the prefix, then records and warns about the clobbers. */
export async function linkAll(run: NativeInstall): Promise<void> {
  await Deno.mkdir(join(run.prefix, "conda-meta"), { recursive: true });
  const copies = willRunScripts(run);
  run.step(
    `linking ${run.pkgs.length} packages${copies ? " (copies: post-link scripts run)" : ""}`,
  );
  const registry = new ClobberRegistry();
  for (const p of run.pkgs) {
    p.linked = await forPackage(
      p.r,
      p.path,
      () =>
        linkPackage(p.info, {
          prefix: run.prefix,
          python: run.python,
          registry,
          dist: distOf(p.r),
          hardlink: !copies,
        }),
    );
    run.log(`linked ${distOf(p.r)} (${p.linked.files.length} files)`);
  }
  markClobbers(run, registry);
}

/** Warns about each clobbered path and marks the losing package's record `clobbered_by`. */
function markClobbers(run: NativeInstall, registry: ClobberRegistry): void {
  const byDist = new Map(run.pkgs.map((p) => [distOf(p.r), p]));
  for (const c of registry.clobbers) {
    run.say(clobberWarning(c));
    const loser = byDist.get(c.loser)?.linked?.pathsData.find((d) => d._path === c.path);
    if (loser) loser.clobbered_by = c.winner;
  }
}
