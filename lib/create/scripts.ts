/**
 * The link-script steps of a native install, as conda runs them: pre-link
 * messages shown before anything is linked; deprecated pre-link scripts
 * named and never run; post-link scripts run in install order once
 * everything is linked (unless `--no-link-scripts`), their messages shown.
 * Nothing of another platform can run here: a build for one gets no link
 * scripts and no `.pyc`, said once.
 *
 * @module
 */

import { condaPlatform } from "../conda/platform.ts";
import {
  formatPrelinkMessages,
  postLinkScriptPath,
  prelinkMessages,
  runPostLink,
} from "../conda/link_scripts.ts";
import { distOf } from "./package_errors.ts";
import { type Installing, linkedOf, type NativeInstall } from "./native_state.ts";

/** Shows each package's pre-link messages (from its cache entry), in install order. */
export async function showPrelinkMessages(run: NativeInstall): Promise<void> {
  for (const p of run.pkgs) {
    const messages = await prelinkMessages(p.dir);
    if (messages.length > 0) run.say(formatPrelinkMessages(distOf(p.r), messages));
  }
}

/** The linked packages that have a post-link script, in install order. */
export function scriptedPackages(run: NativeInstall): Installing[] {
  return run.pkgs.filter((p) => linkedOf(p).files.includes(postLinkScriptPath(p.r.name)));
}

/**
 * Says what will not run: on another platform the `.pyc` and post-link
 * scripts; anywhere, deprecated pre-link scripts (conda still runs them from
 * the package cache; in a shared store they could change other environments'
 * files, so they are named and skipped).
 */
export function sayNotRun(
  run: NativeInstall,
  noarchPy: Installing[],
  scripted: Installing[],
): void {
  if (!run.native && (noarchPy.length > 0 || scripted.length > 0)) {
    run.say(
      `building for ${run.platform} on ${condaPlatform()}: noarch python files are not ` +
        `byte-compiled and post-link scripts (${
          scripted.map((p) => distOf(p.r)).join(", ") || "none"
        }) ` +
        `are not run`,
    );
  }
  for (const p of run.pkgs) {
    const pre = `bin/.${p.r.name}-pre-link.sh`;
    if (linkedOf(p).files.includes(pre)) {
      run.say(`warning: ${pre} of ${distOf(p.r)} is not run (pre-link scripts are deprecated)`);
    }
  }
}

/** Runs the post-link scripts of `scripted` in order, or says each is skipped. */
export async function runPostLinkScripts(
  run: NativeInstall,
  scripted: Installing[],
): Promise<void> {
  for (const p of scripted) {
    const script = postLinkScriptPath(p.r.name);
    if (run.opts.noLinkScripts) {
      run.say(`skipped ${script} of ${distOf(p.r)} (--no-link-scripts)`);
      continue;
    }
    run.step(`running ${script} of ${distOf(p.r)}`);
    await runPostLink(run.prefix, {
      name: p.r.name,
      version: p.r.version,
      build: p.r.build,
      buildNumber: Number(p.r.record.build_number ?? 0),
      url: p.r.url,
    }, { onMessages: (dist, text) => run.say(`messages from ${dist}:\n${text.trimEnd()}`) });
  }
}
