/**
 * The automatic-environment part of `poncho run` (no `-e`): resolve the
 * script, module or spec to a spec and its hash, then make sure the store's
 * archive cache has the build (building it at most once per hash, under the
 * create lock). Loaded only when `poncho run` has no `-e`.
 *
 * @module
 */

import { join } from "node:path";
import { resolveAutoSpec } from "../lib/auto.ts";
import { condaPlatform } from "../lib/conda/platform.ts";
import { specToJson } from "../lib/envspec/canonical.ts";
import { storeLayout } from "../store/layout.ts";
import type { RunOptions } from "./run.ts";

/** The environment chosen for an automatic run. */
export interface AutoEnvironment {
  /** The store's cached archive for the spec hash. */
  archive: string;
  /** What the environment is for (recorded in the store index). */
  source: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves and (unless `--dry-run`) builds the automatic environment of
 * `opts`. Returns `undefined` after a dry run (which prints its report).
 */
export async function resolveAutoEnvironment(
  opts: RunOptions,
): Promise<AutoEnvironment | undefined> {
  const a = opts.auto!;
  const platform = a.platform ?? condaPlatform();
  const auto = await resolveAutoSpec({
    script: a.script,
    module: a.module,
    specFile: a.specFile,
    python: a.python,
    channels: a.channels,
    pkgMappings: a.pkgMappings,
    platform,
  });
  for (const w of auto.warnings) console.error(`warning: ${w}`);
  const layout = storeLayout(opts.store);
  const archive = join(layout.archives, `${auto.hash}.tar.zst`);
  const cached = await exists(archive);
  if (a.dryRun) {
    const report = {
      hash: auto.hash,
      action: cached ? "reuse" : "build",
      archive,
      source: auto.source,
      files: auto.files,
      platform,
      spec: JSON.parse(specToJson(auto.spec)),
      command: opts.argv,
    };
    if (a.json) console.log(JSON.stringify(report, null, 2));
    else {
      console.log(specToJson(auto.spec).trimEnd());
      console.log(`hash: ${auto.hash}`);
      console.log(`platform: ${platform}`);
      console.log(`would ${cached ? "reuse" : "build"}: ${archive}`);
    }
    return undefined;
  }
  if (!cached) {
    if (opts.debug) {
      console.error(`poncho run: building environment ${auto.hash} for ${auto.source}`);
    }
    const { createEnvironment } = await import("../lib/create.ts");
    const r = await createEnvironment({
      spec: auto.spec,
      specSource: auto.source,
      cacheOnly: true,
      waitForLockMs: a.buildWaitMs,
      platform,
      offline: a.offline,
      condaExe: a.condaExe,
      store: opts.store,
      quiet: !opts.debug && !Deno.stderr.isTerminal(),
      verbose: opts.debug,
    });
    if (r.cachedArchive !== archive) throw new Error(`unexpected archive ${r.cachedArchive}`);
  } else if (opts.debug) {
    console.error(`poncho run: reusing environment ${auto.hash} for ${auto.source}`);
  }
  return { archive, source: auto.source };
}
