/**
 * Classifying each import found, in Python's own order: a relative import
 * or a module found on the importing file's search path is `local`; a
 * standard module of any known version is `stdlib` (with a warning when the
 * target version lacks it); `typing`-only imports are `typing`; anything else
 * is `third-party` and gets its package from the declared dependencies
 * (PEP 723, notebook installs) or from name resolution, or stays
 * `unresolved`.
 *
 * @module
 */

import type { ExplainRecord } from "./spec_out.ts";
import type { Scanned } from "./follow.ts";
import type { LocalResolver } from "./local.ts";
import { choiceFromText, type PackageChoice } from "./mapping.ts";
import { normalizeDistName } from "./installed.ts";
import { type ResolveContext, resolveImport } from "./resolve.ts";
import { classifyStdlib } from "./stdlib.ts";

/** One classified import at one place. */
export interface Occurrence {
  /** The module (top-level, or as imported when unresolved; `.name` for relative). */
  module: string;
  /** Its kind. */
  kind: ExplainRecord["kind"];
  /** The package providing it (third-party only). */
  choice?: PackageChoice;
  /** Inside a try/except ImportError or a conditional block. */
  optional: boolean;
  /** `file:line` or `file[cell]:line`. */
  location: string;
}

/** What classification consults. */
export interface ClassifyContext {
  /** Finds local modules. */
  resolver: LocalResolver;
  /** The target `X.Y`. */
  python: string;
  /** Name resolution. */
  resolve: ResolveContext;
  /** Dependencies declared by every source (PEP 723, notebook pip installs). */
  declared: string[];
  /** Receives warnings. */
  warnings: string[];
}

/** Classifies every import, in order. */
export async function classifyImports(
  scanned: Scanned[],
  ctx: ClassifyContext,
): Promise<Occurrence[]> {
  const occurrences: Occurrence[] = [];
  for (const s of scanned) {
    const o = await classify(s, ctx);
    if (o) occurrences.push(o);
  }
  return occurrences;
}

/** Classifies one import (null for an empty module name). */
async function classify({ unit, rec }: Scanned, ctx: ClassifyContext): Promise<Occurrence | null> {
  const location = unit.where(rec.line);
  const optional = rec.optional;
  if (rec.level > 0) {
    const module = ".".repeat(rec.level) + rec.module.split(".")[0];
    return { module, kind: "local", optional, location };
  }
  const top = rec.module.split(".")[0];
  if (!top) return null;
  if (await ctx.resolver.isLocal(rec.module, unit.source.absPath)) {
    return { module: top, kind: "local", optional, location };
  }
  const std = classifyStdlib(top, ctx.python);
  if (std) {
    if (!std.available) ctx.warnings.push(`${location}: ${std.note}`);
    return { module: top, kind: "stdlib", optional, location };
  }
  if (rec.typing || top === "_typeshed") return { module: top, kind: "typing", optional, location };
  return thirdParty({ unit, rec }, top, location, ctx);
}

/**
 * A third-party import: the declared dependency covering it wins over
 * inferred names; a script that declares dependencies (PEP 723) but not this
 * one gets none (with a warning), unless the user named it.
 */
function thirdParty(
  { unit, rec }: Scanned,
  top: string,
  location: string,
  ctx: ClassifyContext,
): Occurrence {
  let choice = resolveImport(rec.module, ctx.resolve);
  const covering = (unit.declared ?? ctx.declared).find((d) => {
    const name = normalizeDistName(choiceFromText(d, "user").package);
    return (choice && name === normalizeDistName(choice.package)) ||
      name === normalizeDistName(top);
  });
  if (covering !== undefined && choice?.source !== "user") {
    choice = choiceFromText(`pip:${covering}`, "user"); // declared in PEP 723 or a notebook
  } else if (unit.declared !== undefined && choice?.source !== "user") {
    if (!rec.optional) {
      ctx.warnings.push(
        `${location}: ${top} is not among the script's declared dependencies (PEP 723); ` +
          `not added (declare it, or use --pkg-mapping/--extra-pkg)`,
      );
    }
    return { module: top, kind: "third-party", optional: rec.optional, location };
  }
  return {
    module: choice ? top : rec.module,
    kind: choice ? "third-party" : "unresolved",
    choice: choice ?? undefined,
    optional: rec.optional,
    location,
  };
}

/** One warning per unresolved module, at its first place. */
export function warnUnresolved(occurrences: Occurrence[], warnings: string[]): void {
  const seen = new Set<string>();
  for (const o of occurrences) {
    if (o.kind !== "unresolved" || seen.has(o.module)) continue;
    seen.add(o.module);
    const top = o.module.split(".")[0];
    warnings.push(
      `${o.location}: import ${o.module}: no package of the target channels is known to provide ` +
        `it; left out of the spec (name it with --pkg-mapping ${top}=PACKAGE)`,
    );
  }
}
