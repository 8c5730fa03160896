/**
 * The environment spec `poncho analyze` writes: the poncho JSON format
 * (`{"conda": {"channels": [...], "dependencies": [...]}}`) or a conda
 * `environment.yml`, deterministic (sorted, de-duplicated, `python` first,
 * the `pip` list last and only when non-empty).
 *
 * @module
 */

import { specName } from "./mapping.ts";

/** One `--explain` record: a top-level imported module and what provides it. */
export interface ExplainRecord {
  /** Top-level module name (a relative import keeps its leading dots). */
  module: string;
  /**
   * How it is provided: `typing` is seen by type checkers only (`if
   * TYPE_CHECKING:`, `_typeshed`), `unresolved` names no known package (left
   * out of the spec; the module is then as imported, dotted).
   */
  kind: "stdlib" | "local" | "third-party" | "typing" | "unresolved";
  /** The package providing it; null for stdlib, local, typing and unresolved modules. */
  package: string | null;
  /** The installed version, when known. */
  version?: string;
  /** True when every import of it is conditional (try/except ImportError, version checks...). */
  optional: boolean;
  /** Where it is imported, `file:line` (notebooks: `file[cell]:line`), sorted. */
  locations: string[];
}

/** A conda dependency list entry: a spec string or the `pip` sub-list. */
export type Dependency = string | { pip: string[] };

/** The poncho JSON spec. */
export interface PonchoSpec {
  /** The conda part. */
  conda: {
    /** Channels, in priority order. */
    channels: string[];
    /** `python` first, then sorted specs, then `{pip: [...]}` when any. */
    dependencies: Dependency[];
  };
  /** `--explain` records, when asked for. */
  imports?: ExplainRecord[];
  /** `--explain`: every file read (given and followed local modules). */
  files?: string[];
}

/** Output formats of `--format`. */
export type SpecFormat = "json" | "yaml";

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Sorts and de-duplicates specs by package name (case-insensitively): exact
 * duplicates collapse, and a bare name is dropped when the same name also
 * comes with a version constraint.
 */
export function normalizeSpecs(specs: Iterable<string>): string[] {
  const unique = [...new Set([...specs].map((s) => s.trim()).filter(Boolean))];
  const constrained = new Set(
    unique.filter((s) => s !== specName(s)).map((s) => specName(s).toLowerCase()),
  );
  return unique
    .filter((s) => s !== specName(s) || !constrained.has(s.toLowerCase()))
    .sort((a, b) => cmp(specName(a).toLowerCase(), specName(b).toLowerCase()) || cmp(a, b));
}

/**
 * Builds the spec.
 *
 * @param python The python spec, e.g. `python=3.11` or `python>=3.10`.
 * @param conda Conda specs (any order, duplicates allowed).
 * @param pip Pip requirements (any order, duplicates allowed).
 * @param imports `--explain` records to include, if any.
 * @param channels The channels, in priority order (default `conda-forge`).
 */
export function buildSpec(
  python: string,
  conda: Iterable<string>,
  pip: Iterable<string>,
  imports?: ExplainRecord[],
  channels: readonly string[] = ["conda-forge"],
): PonchoSpec {
  const deps: Dependency[] = [
    python,
    ...normalizeSpecs(conda).filter((s) => specName(s) !== "python"),
  ];
  const pipList = normalizeSpecs(pip);
  if (pipList.length > 0) {
    // pip requirements are installed with the environment's own pip: make sure it has one.
    if (!deps.some((d) => typeof d === "string" && specName(d) === "pip")) {
      deps.splice(1, deps.length - 1, ...normalizeSpecs([...deps.slice(1) as string[], "pip"]));
    }
    deps.push({ pip: pipList });
  }
  const spec: PonchoSpec = { conda: { channels: [...channels], dependencies: deps } };
  if (imports) spec.imports = imports;
  return spec;
}

/**
 * Renders a spec: poncho JSON (2-space indent) or a conda `environment.yml`
 * (`channels`, `dependencies` with a `- pip:` sub-list, then `imports` when
 * present). Both end with a newline. The YAML library is loaded only for YAML.
 */
export async function renderSpec(spec: PonchoSpec, format: SpecFormat): Promise<string> {
  if (format === "json") return JSON.stringify(spec, null, 2) + "\n";
  const { stringify } = await import("../deps/yaml.ts"); // loaded for YAML output only
  const doc: Record<string, unknown> = {
    channels: spec.conda.channels,
    dependencies: spec.conda.dependencies,
  };
  if (spec.imports) doc.imports = spec.imports;
  if (spec.files) doc.files = spec.files;
  return stringify(doc);
}
