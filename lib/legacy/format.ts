/**
 * The dependency file of CCTools' first-generation Python packaging tools
 * (`python_package_analyze` writes it, `python_package_create` reads it):
 *
 * ```json
 * {"python": "3.7.3", "modules": ["antigravity", "matplotlib"]}
 * ```
 *
 * `python` is the full interpreter version of the machine that analysed the
 * script; `modules` are the top-level, non-standard-library modules the script
 * imports (import names, not package names).
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { BUILTIN_MAPPING } from "../analyze/mapping.ts";

/** The first-generation dependency file. */
export interface LegacyDeps {
  /** The Python version, `X.Y.Z` (or `X.Y`). */
  python: string;
  /** Top-level third-party modules, as imported. */
  modules: string[];
}

const VERSION_RE = /^\d+(\.\d+){0,2}$/;
const MODULE_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/**
 * True when `doc` is a first-generation dependency file: an object whose keys
 * are only `python` and `modules` (at least one of them). Poncho specs have
 * `conda`; environment.yml files have `dependencies` or `channels`.
 */
export function isLegacyDeps(doc: unknown): boolean {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return false;
  const keys = Object.keys(doc);
  return keys.length > 0 && keys.every((k) => k === "python" || k === "modules");
}

/**
 * Validates a first-generation dependency file (see {@link isLegacyDeps}).
 *
 * @param file The name used in error messages.
 * @throws {UsageError} naming the file and field when a value is malformed.
 */
export function readLegacyDeps(doc: Record<string, unknown>, file: string): LegacyDeps {
  const python = doc.python;
  if (python !== undefined && (typeof python !== "string" || !VERSION_RE.test(python.trim()))) {
    throw new UsageError(
      `${file}: field 'python' must be a version like "3.7.3", got ${JSON.stringify(python)}`,
    );
  }
  const modules = doc.modules ?? [];
  if (!Array.isArray(modules)) {
    throw new UsageError(
      `${file}: field 'modules' must be a list of module names, got ${JSON.stringify(modules)}`,
    );
  }
  modules.forEach((m, i) => {
    if (typeof m !== "string" || !MODULE_RE.test(m)) {
      throw new UsageError(
        `${file}: field 'modules[${i}]' must be a module name like "numpy", got ${
          JSON.stringify(m)
        }`,
      );
    }
  });
  return { python: typeof python === "string" ? python.trim() : "", modules: modules as string[] };
}

/** The conda package of an imported module: the built-in table's, else the import name. */
function packageOf(module: string): string {
  const parts = module.split(".");
  for (let n = parts.length; n >= 1; n--) {
    const key = parts.slice(0, n).join(".");
    if (Object.hasOwn(BUILTIN_MAPPING, key)) return BUILTIN_MAPPING[key];
  }
  return parts[0].toLowerCase();
}

/**
 * The poncho JSON document for a first-generation dependency file: `python`
 * pinned to its version (any python when the file names none) and each module
 * mapped to the conda package that provides it (the analyzer's table, else the
 * import name: `yaml` -> `pyyaml`, `sklearn` -> `scikit-learn`). No channels:
 * the spec reader applies its default.
 */
export function legacyToPonchoDocument(deps: LegacyDeps): { conda: { dependencies: string[] } } {
  const packages = new Set<string>();
  for (const m of deps.modules) packages.add(packageOf(m));
  packages.delete("python");
  return {
    conda: {
      dependencies: [deps.python ? `python=${deps.python}` : "python", ...[...packages].sort()],
    },
  };
}

/**
 * Renders the file as the original tool wrote it (Python's `json.dumps`
 * separators), one line with a trailing newline.
 */
export function renderLegacyDeps(deps: LegacyDeps): string {
  return `{"python": ${JSON.stringify(deps.python)}, "modules": [${
    deps.modules.map((m) => JSON.stringify(m)).join(", ")
  }]}\n`;
}
