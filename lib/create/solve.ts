/**
 * The solve step of `create`: the spec's conda requirements solved natively
 * (the solver is loaded only when a build needs it), for a real build or a
 * dry run, and the solution as the packages `create` reports.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { EnvSpec } from "../envspec/types.ts";
import type { StoreLayout } from "../../store/layout.ts";
import { distOf } from "./package_errors.ts";
import { reporter, stepper } from "./report.ts";
import type { CreatedPackage, CreateOptions, SolvedRecords } from "./types.ts";

/** The solver options of a create (shared by real and dry runs). */
function solveOptions(spec: EnvSpec, platform: string, layout: StoreLayout, opts: CreateOptions) {
  const showProgress = !opts.quiet && Deno.stderr.isTerminal();
  return {
    channels: spec.channels,
    platform,
    layout,
    offline: opts.offline,
    log: reporter(opts),
    showProgress,
  };
}

/** A dry run: the solve of a real create, reported as the packages it would install. */
export async function dryRunPackages(
  spec: EnvSpec,
  platform: string,
  layout: StoreLayout,
  opts: CreateOptions,
): Promise<CreatedPackage[]> {
  if (opts.condaExe) throw new UsageError("--dry-run solves natively; drop --conda-exe");
  const { solve } = await import("../conda/solve.ts");
  stepper(opts)(`solving ${spec.conda.join(", ")} for ${platform}`);
  const records = spec.conda.length
    ? await solve(spec.conda, solveOptions(spec, platform, layout, opts))
    : [];
  return records.map((r) => ({
    name: r.name,
    version: r.version,
    build: r.build,
    channel: r.channel,
    size: r.size,
    url: r.url,
  }));
}

/** Solves the spec's conda part natively. */
export async function solveNative(
  spec: EnvSpec,
  platform: string,
  layout: StoreLayout,
  opts: CreateOptions,
): Promise<SolvedRecords> {
  const { solve } = await import("../conda/solve.ts");
  const step = stepper(opts);
  step(`solving ${spec.conda.join(", ")} for ${platform}`);
  const records = await solve(spec.conda, solveOptions(spec, platform, layout, opts));
  step(`solved: ${records.map(distOf).join(", ")}`);
  return records;
}

/** The installed-package records of a solution. */
export function createdPackages(records: SolvedRecords): CreatedPackage[] {
  return records.map((r) => ({
    name: r.name,
    version: r.version,
    build: r.build,
    channel: r.channel,
  }));
}
