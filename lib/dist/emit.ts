/**
 * Poncho's code for the single file's payload as JavaScript: Deno's own
 * emit of each TypeScript module (`deno cache` into a scratch `DENO_DIR`,
 * then its `gen/` file, without the inline source map and cache metadata),
 * with relative `.ts` specifiers of `import`/`export` turned into `.js`.
 *
 * A module shipped as TypeScript costs every start of Deno a second file
 * (the emit, looked up by the source's hash) and the hash itself; for the
 * 47 modules of a cold `poncho run -e` that was 3-5 ms. Specifiers computed
 * at run time (lazy imports, workers) name `.ts` files and are mapped by
 * `moduleUrl` (`lib/lazy.ts`). The emit of the pinned Deno is deterministic,
 * so the payload stays byte-identical for the same tree.
 *
 * @module
 */

import { PonchoError } from "../errors.ts";

/** A relative `.ts` specifier after `from`, `import` or `import(`. */
const RELATIVE_TS = /(\b(?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"'\n]*?)\.ts\2/g;

/** The lines Deno appends to an emit: the inline source map and its cache metadata. */
const TRAILER = /^(\/\/# sourceMappingURL=|\/\/ denoCacheMetadata=)/;

/**
 * `js` (Deno's emit of a module) as the payload carries it: the trailer
 * lines dropped, relative `.ts` imports and exports naming `.js`.
 *
 * @example
 * ```ts
 * import { shipEmit } from "./emit.ts";
 *
 * console.log(shipEmit('import { a } from "./a.ts";\nexport * from "../b.ts";\n'));
 * // import { a } from "./a.js";
 * // export * from "../b.js";
 * ```
 */
export function shipEmit(js: string): string {
  const lines = js.split("\n");
  while (lines.length > 0 && (lines.at(-1) === "" || TRAILER.test(lines.at(-1)!))) lines.pop();
  return `${lines.join("\n")}\n`.replace(RELATIVE_TS, "$1$2$3.js$2");
}

/**
 * Emits the TypeScript modules `files` (absolute paths) with the Deno
 * binary `deno` and returns each one's shipped JavaScript ({@link shipEmit}),
 * keyed by its path.
 *
 * @throws {PonchoError} when Deno cannot load a module or leaves no emit.
 */
export async function emitJavaScript(
  deno: string,
  root: string,
  files: readonly string[],
): Promise<Map<string, string>> {
  const dir = await Deno.makeTempDir({ prefix: "poncho-emit-" });
  // Deno files an emit under the module's real path.
  const real = files.map((f) => Deno.realPathSync(f));
  try {
    const out = await new Deno.Command(deno, {
      args: ["cache", "--quiet", ...real],
      cwd: root,
      env: { DENO_DIR: dir, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const lines = new TextDecoder().decode(out.stderr).split("\n").map((l) => l.trim());
      const where = lines.find((l) => l.startsWith("at "));
      const why = `${lines.find((l) => l) ?? "no message"}${where ? ` (${where})` : ""}`;
      throw new PonchoError(`deno cache of Poncho's code failed: ${why}`);
    }
    const emitted = new Map<string, string>();
    for (const [i, file] of files.entries()) {
      let js: string;
      try {
        js = await Deno.readTextFile(`${dir}/gen/file${real[i]}.js`);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
        throw new PonchoError(
          `deno cache left no emit for ${file} (is ${deno} the pinned Deno?)`,
        );
      }
      emitted.set(file, shipEmit(js));
    }
    return emitted;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
