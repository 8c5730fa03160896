/**
 * Activation of a conda environment without a shell: the variables
 * `conda activate` would set, computed directly, plus the list of
 * `etc/conda/activate.d/*.sh` scripts that still need `/bin/sh`.
 *
 * @module
 */

import { isAbsent } from "../fs/probe.ts";

/** Where conda packages put their activation scripts, relative to the prefix. */
export const ACTIVATE_D = "etc/conda/activate.d";

/** Variables removed from the command's environment (they would leak a foreign Python in). */
export const UNSET_VARS: readonly string[] = ["PYTHONPATH", "PYTHONHOME"];

/**
 * The environment a command runs with inside `prefix`: `base` plus
 * `PATH=<prefix>/bin:$PATH`, `CONDA_PREFIX`, `CONDA_DEFAULT_ENV` and
 * `PONCHO_PREFIX` set to the prefix, and `PYTHONPATH`/`PYTHONHOME` removed.
 *
 * @param prefix Absolute path of the environment.
 * @param base The starting environment (default: this process's).
 */
export function activationEnv(
  prefix: string,
  base: Record<string, string> = Deno.env.toObject(),
): Record<string, string> {
  const env = { ...base };
  for (const name of UNSET_VARS) delete env[name];
  const path = base.PATH;
  env.PATH = path ? `${prefix}/bin:${path}` : `${prefix}/bin`;
  env.CONDA_PREFIX = prefix;
  env.CONDA_DEFAULT_ENV = prefix;
  env.PONCHO_PREFIX = prefix;
  return env;
}

/**
 * The activation scripts of the environment (`etc/conda/activate.d/*.sh`),
 * as absolute paths in name order (the order conda sources them in).
 * Returns `[]` when the directory does not exist.
 */
export function findActivateScripts(prefix: string): string[] {
  const dir = `${prefix}/${ACTIVATE_D}`;
  const names: string[] = [];
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.name.endsWith(".sh") && (entry.isFile || entry.isSymlink)) names.push(entry.name);
    }
  } catch (err) {
    if (isAbsent(err)) return [];
    throw err;
  }
  return names.sort().map((name) => `${dir}/${name}`);
}

/** Quotes `word` for POSIX sh (single quotes, with embedded `'` escaped). */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_\/.,:=+@%-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The `/bin/sh -c` program that sources `scripts` in order and then `exec`s
 * its arguments (`"$@"`). Scripts' exit statuses are ignored, as conda does
 * (many end with a false `test`).
 */
export function sourcingProgram(scripts: readonly string[]): string {
  return [...scripts.map((s) => `. ${shellQuote(s)}`), 'exec "$@"'].join("\n");
}
