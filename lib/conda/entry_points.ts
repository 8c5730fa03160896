/**
 * Entry points of `noarch: python` packages (`info/link.json`'s
 * `noarch.entry_points`, `name = module:function`): parsed, and written as
 * the small Python launcher scripts conda writes into `bin/`, with the
 * environment's interpreter in the shebang (shortened by `fixShebang` when
 * the prefix is too long for one).
 *
 * @module
 */

import { BuildError } from "../errors.ts";
import { fixShebang } from "../env/prefix.ts";
import { removeIfExists } from "../../store/remove.ts";

/** Parses an entry point `name = module.sub:func.attr`. */
export function parseEntryPoint(ep: string): { name: string; module: string; func: string } {
  const m = ep.match(/^\s*([^=\s]+)\s*=\s*([\w.]+)\s*:\s*([\w.]+)\s*$/);
  if (!m) throw new BuildError(`invalid entry point '${ep}' (expected 'name = module:function')`);
  return { name: m[1], module: m[2], func: m[3] };
}

/** The text of a generated entry-point script. */
export function entryPointScript(python: string, module: string, func: string): string {
  const head = func.split(".")[0];
  return `#!${python}
# -*- coding: utf-8 -*-
import re
import sys

from ${module} import ${head}

if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw?|\\.exe)?$", "", sys.argv[0])
    sys.exit(${func}())
`;
}

/**
 * Writes the entry-point script `dst` (in the prefix's `bin/`, whose
 * directory exists) calling `module:func` with the interpreter `python`
 * (absolute), replacing what was there, mode 0755.
 */
export async function writeEntryPoint(
  dst: string,
  python: string,
  module: string,
  func: string,
  prefix: string,
): Promise<void> {
  await removeIfExists(dst);
  const script = new TextEncoder().encode(entryPointScript(python, module, func));
  await Deno.writeFile(dst, fixShebang(script, prefix), { mode: 0o755 });
  await Deno.chmod(dst, 0o755);
}
