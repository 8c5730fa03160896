/**
 * The automatic-environment part of `poncho run` (no `-e`): parses nothing,
 * decides nothing; it hands the parsed options to `ensureAutoEnvironment()`
 * (`lib/auto.ts`), prints warnings, the `--dry-run` report and `-d` lines,
 * and runs the command. Loaded only when `poncho run` has no `-e`.
 *
 * @module
 */

import {
  type AutoEnvOptions,
  ensureAutoEnvironment,
  planAutoEnvironment,
  runInAutoEnvironment,
} from "../lib/auto.ts";
import { runEnvironment, type RunEnvOptions } from "../lib/run.ts";
import { lazyImporter } from "../lib/lazy.ts";

/** Options of an automatic environment (`poncho run` without `-e`). */
export interface AutoRunOptions {
  /** The script (then `argv` starts with `python script`). */
  script?: string;
  /** `-m`: the module. */
  module?: string;
  /** `--spec`: the spec file. */
  specFile?: string;
  /** `-c` channels. */
  channels: string[];
  /** `--python`. */
  python?: string;
  /** `--platform`. */
  platform?: string;
  /** `--offline`. */
  offline: boolean;
  /** `--conda-exe`. */
  condaExe?: string;
  /** `--dry-run`. */
  dryRun: boolean;
  /** `--json`. */
  json: boolean;
  /** `--pkg-mapping`. */
  pkgMappings: string[];
  /** `--extra-pkg`. */
  extraPkgs: string[];
  /** `--pin-local`. */
  pinLocal: boolean;
  /** `--force`. */
  force: boolean;
  /** `--refresh`. */
  refresh: boolean;
  /** `-q`. */
  quiet: boolean;
  /** `-v`. */
  verbose: boolean;
  /** `-w` when given: how long to wait for another process's build of the same spec (ms). */
  buildWaitMs?: number;
}

/** Parsed `poncho run` options of an automatic run. */
export interface AutoCommandOptions extends RunEnvOptions {
  /** The automatic-environment options. */
  auto: AutoRunOptions;
}

function libraryOptions(opts: AutoCommandOptions, log: (line: string) => void): AutoEnvOptions {
  const a = opts.auto;
  return {
    script: a.script,
    module: a.module,
    specFile: a.specFile,
    python: a.python,
    channels: a.channels,
    platform: a.platform,
    pkgMappings: a.pkgMappings,
    extraPkgs: a.extraPkgs,
    pinLocal: a.pinLocal,
    store: opts.store,
    offline: a.offline,
    condaExe: a.condaExe,
    force: a.force,
    refresh: a.refresh,
    quiet: a.quiet || (!a.verbose && !opts.debug && !Deno.stderr.isTerminal()),
    verbose: a.verbose || opts.debug,
    waitMs: opts.waitMs,
    buildWaitMs: a.buildWaitMs,
    log,
  };
}

async function dryRun(opts: AutoCommandOptions, lib: AutoEnvOptions): Promise<number> {
  const plan = await planAutoEnvironment(lib);
  if (!opts.auto.quiet) { for (const w of plan.auto.warnings) console.error(`warning: ${w}`); }
  // Lazy, so the warm path does not load it.
  const { specToJson } = await lazyImporter(import.meta.url)<
    typeof import("../lib/envspec/canonical.ts")
  >("../lib/envspec/canonical.ts");
  const specText = specToJson(plan.auto.spec);
  if (opts.auto.json) {
    console.log(JSON.stringify(
      {
        hash: plan.auto.hash,
        action: plan.action,
        env: plan.prefix ?? null,
        source: plan.auto.source,
        files: plan.auto.files,
        platform: plan.auto.platform,
        spec: JSON.parse(specText),
        command: opts.argv,
      },
      null,
      2,
    ));
  } else {
    console.log(specText.trimEnd());
    console.log(`hash: ${plan.auto.hash}`);
    console.log(`platform: ${plan.auto.platform}`);
    console.log(plan.prefix ? `would reuse: ${plan.prefix}` : "would build");
  }
  return 0;
}

/** Runs an automatic `poncho run`; returns the exit code (the command's own). */
export async function runAutoCommand(opts: AutoCommandOptions): Promise<number> {
  const log = opts.debug || opts.auto.verbose
    ? (line: string) => console.error(`poncho run: ${line}`)
    : () => {};
  const lib = libraryOptions(opts, log);
  if (opts.auto.dryRun) return await dryRun(opts, lib);
  const env = await ensureAutoEnvironment(lib);
  if (!opts.auto.quiet) { for (const w of env.auto.warnings) console.error(`warning: ${w}`); }
  if (opts.tmp || opts.unpackTo !== undefined) {
    env.lock.release(); // a private copy: the store's environment is only its source
    return await runEnvironment({ ...opts, environment: env.prefix, sourceLabel: env.auto.source });
  }
  return await runInAutoEnvironment(env, opts.argv, { replace: opts.replace });
}
