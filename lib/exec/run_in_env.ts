/**
 * `bin/run_in_env`: a POSIX sh launcher written into every unpacked
 * environment, with the activation precomputed, so `run_in_env cmd args...`
 * (the entry point TaskVine calls inside poncho environments) costs one
 * `/bin/sh` start and an `exec`.
 *
 * @module
 */

import { shellQuote, UNSET_VARS } from "./activate.ts";

/** Path of the launcher relative to the environment root. */
export const RUN_IN_ENV_PATH = "bin/run_in_env";

/**
 * The launcher's text for an environment at `prefix` whose activation
 * scripts are `activateScripts` (absolute paths, sourced in order).
 */
export function renderRunInEnv(prefix: string, activateScripts: readonly string[] = []): string {
  const p = shellQuote(prefix);
  const lines = [
    "#!/bin/sh",
    "# Written by poncho: runs a command inside this environment.",
    "# Usage: run_in_env command [args...]",
    'if [ "$#" -eq 0 ]; then',
    '  echo "usage: run_in_env command [args...]" >&2',
    "  exit 1",
    "fi",
    `PATH=${p}/bin\${PATH:+:\$PATH}`,
    `CONDA_PREFIX=${p}`,
    `CONDA_DEFAULT_ENV=${p}`,
    `PONCHO_PREFIX=${p}`,
    "export PATH CONDA_PREFIX CONDA_DEFAULT_ENV PONCHO_PREFIX",
    `unset ${UNSET_VARS.join(" ")}`,
    ...activateScripts.map((s) => `. ${shellQuote(s)}`),
    'exec "$@"',
    "",
  ];
  return lines.join("\n");
}

/**
 * Writes `<prefix>/bin/run_in_env` (mode 0755), replacing any file there
 * (e.g. the CCTools launcher a conda-pack archive carries).
 *
 * @param root Where the environment's files are now (a temp dir before the final rename).
 * @param prefix The environment's final path, written into the launcher.
 * @param activateScripts Activation scripts as final absolute paths.
 * @returns The launcher's path under `root`.
 */
export async function writeRunInEnv(
  root: string,
  prefix: string,
  activateScripts: readonly string[] = [],
): Promise<string> {
  // Synchronous: four small calls, cheaper than four trips to Deno's I/O threads on a cold start.
  const path = `${root}/${RUN_IN_ENV_PATH}`;
  Deno.mkdirSync(`${root}/bin`, { recursive: true });
  try {
    Deno.removeSync(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  Deno.writeTextFileSync(path, renderRunInEnv(prefix, activateScripts), { mode: 0o755 });
  Deno.chmodSync(path, 0o755);
  return await Promise.resolve(path);
}
