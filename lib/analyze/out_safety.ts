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
import { fsError, UsageError } from "../errors.ts";
import { parseSpec } from "../envspec/parse.ts";
import { isAbsent } from "../fs/probe.ts";

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
  const info = await statOut(abs, out);
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
  } catch (err) {
    if (isAbsent(err)) return; // removed meanwhile
    // Unreadable is not "not there": the spec is written by renaming over it, which needs no
    // permission on the file itself, so an out that cannot be checked is not replaced.
    throw fsError(err, out, { what: "refusing to replace out", role: "output" });
  }
  try {
    await parseSpec(text, out);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    throw new UsageError(
      `out ${out} exists and is not an environment spec; refusing to overwrite it ` +
        `(remove it first, or ${USAGE})`,
    );
  }
}

/** The out's status, or null when there is none yet. */
async function statOut(abs: string, out: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(abs);
  } catch (err) {
    if (isAbsent(err)) return null; // a new file (a missing directory fails when writing)
    throw fsError(err, out, { what: "cannot inspect out", role: "output" });
  }
}

async function sameFile(path: string, info: Deno.FileInfo): Promise<boolean> {
  try {
    const other = await Deno.stat(path);
    return other.ino === info.ino && other.dev === info.dev;
  } catch (err) {
    if (isAbsent(err)) return false; // a missing source is reported by the analysis
    throw fsError(err, path, { what: "source", role: "input" });
  }
}
