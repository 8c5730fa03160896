/**
 * Guards `poncho analyze`'s `<out>` argument: in CCTools' `<source ...> <out>`
 * form a mistyped command line (`analyze *.py`, `analyze spec.json job.py`)
 * would otherwise replace a source with JSON. An out is refused when it is
 * one of the sources, when its name is that of a Python source or notebook,
 * or when it exists as a regular, non-empty file that is not a spec.
 *
 * @module
 */

import { resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { parseSpec } from "../envspec/parse.ts";

/** Names an out may never have: Python sources, stubs and notebooks. */
const SOURCE_NAME = /\.(py|pyi|pyw|ipynb)$/i;

const USAGE = "the last argument is the output: poncho analyze <source ...> <out>";

/**
 * Throws a {@link UsageError} (exit 1) when writing the spec to `out` could
 * destroy input; touches nothing. Devices and FIFOs are accepted (written to,
 * never replaced), as are missing files, empty files and existing specs.
 *
 * @param out The out argument as given (not `-`).
 * @param sources The source arguments as given.
 * @param cwd Base for relative paths (default `Deno.cwd()`).
 */
export async function checkOutPath(
  out: string,
  sources: string[],
  cwd: string = Deno.cwd(),
): Promise<void> {
  const abs = resolve(cwd, out);
  const info = await Deno.stat(abs).catch(() => null);
  for (const src of sources) {
    if (src === "-") continue;
    const same = resolve(cwd, src) === abs ||
      (info?.ino !== undefined && info.ino !== null && await sameFile(resolve(cwd, src), info));
    if (same) {
      throw new UsageError(`out ${out} is also a source; refusing to overwrite it (${USAGE})`);
    }
  }
  if (SOURCE_NAME.test(out)) {
    throw new UsageError(
      `out ${out} is named like a Python source; refusing to write a spec there (${USAGE})`,
    );
  }
  if (!info || !info.isFile || info.size === 0) return;
  let text: string;
  try {
    text = await Deno.readTextFile(abs);
  } catch {
    return; // unreadable: writing it fails later with its own message
  }
  try {
    await parseSpec(text, out);
  } catch {
    throw new UsageError(
      `out ${out} exists and is not an environment spec; refusing to overwrite it ` +
        `(remove it first, or ${USAGE})`,
    );
  }
}

async function sameFile(path: string, info: Deno.FileInfo): Promise<boolean> {
  const other = await Deno.stat(path).catch(() => null);
  return !!other && other.ino === info.ino && other.dev === info.dev;
}
