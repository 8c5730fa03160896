/**
 * Importing a module only when a command needs it. The specifier is
 * computed, not a literal, so that Deno does not follow it when it builds the
 * module graph at startup: with literal `import("./create.ts")` calls,
 * `deno run cli/main.ts` reads and hashes every module of every subcommand
 * (the solver, yaml, the archive engine) before running anything, which cost
 * a warm `poncho run` ~5 ms. Types still come from the real module, through
 * the type argument.
 *
 * This module imports nothing, so that it costs the warm path one tiny file.
 *
 * @module
 */

/**
 * A loader of modules relative to `base` (the caller's `import.meta.url`):
 * `load<typeof import("./x.ts")>("./x.ts")` imports `./x.ts` at run time,
 * without Deno following it when it loads the caller.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lazyImporter } from "./lazy.ts";
 * const load = lazyImporter(import.meta.url);
 * const { VERSION } = await load<typeof import("./version.ts")>("./version.ts");
 * assert.equal(typeof VERSION, "string");
 * ```
 */
export function lazyImporter(base: string): <T>(path: string) => Promise<T> {
  return (path) => import(new URL(path, base).href);
}
