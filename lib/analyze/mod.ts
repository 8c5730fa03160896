/**
 * The analyzer's door: from Python sources to the environment they need.
 *
 * `scanImports` finds the imports of one source text (a real tokenizer, not
 * regexes); `analyze` walks files, directories and notebooks, follows local
 * modules, names the packages and returns the spec; `renderSpec` writes it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const { imports } = scanImports("import numpy as np\nfrom .local import x\n");
 * assert.deepEqual(imports.map((i) => [i.module, i.level]), [["numpy", 0], ["local", 1]]);
 * assert.equal(classifyStdlib("json", "3.11")?.available, true);
 * ```
 *
 * @module
 */

export { analyze, DEFAULT_PYTHON } from "./analyze.ts";
export type { AnalyzeOptions, AnalyzeResult } from "./analyze.ts";
export { renderSpec } from "./spec_out.ts";
export type { Dependency, ExplainRecord, PonchoSpec, SpecFormat } from "./spec_out.ts";
export { classifyStdlib, STDLIB_VERSIONS } from "./stdlib.ts";
export type { StdlibInfo } from "./stdlib.ts";
export { BUILTIN_MAPPING } from "./mapping.ts";
export { scanImports } from "./scan.ts";
export { decodePythonSource } from "./decode.ts";
export type { DecodedSource } from "./decode.ts";
export type { ImportRecord, ScanResult } from "./types.ts";
