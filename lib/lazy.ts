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
 * The single file carries the code as JavaScript (Deno's own emit of each
 * module, `lib/dist/emit.ts`), so a module named at run time by its `.ts`
 * path is the `.js` beside it there: {@link moduleUrl} says which, for
 * lazy imports and for workers alike.
 *
 * @module
 */

/** The extension of the running code: `.js` in the single file's payload, else `.ts`. */
const MODULE_EXT: ".js" | ".ts" = import.meta.url.endsWith(".js") ? ".js" : ".ts";

/**
 * The URL of Poncho's module `path` (written with its `.ts` name) relative
 * to `base`, as it runs here: the `.js` emit in the single file's payload.
 * Other specifiers (`node:`, `npm:`, data files) are left as they are.
 *
 * @example
 * ```ts
 * import { moduleUrl } from "./lazy.ts";
 *
 * console.log(moduleUrl("./version.ts", import.meta.url).pathname.endsWith("/version.ts")); // true
 * ```
 */
export function moduleUrl(path: string, base: string | URL): URL {
  const named = MODULE_EXT === ".js" && /^\.{1,2}\/.*\.ts$/.test(path)
    ? `${path.slice(0, -3)}.js`
    : path;
  return new URL(named, base);
}

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
  return (path) => import(moduleUrl(path, base).href);
}
