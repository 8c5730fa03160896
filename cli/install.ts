/**
 * `deno task install [DIR]`: builds the single file (`dist/poncho`) and
 * installs it as `DIR/poncho` (default `~/.local/bin`), with the CCTools
 * names `poncho_package_analyze/create/run` and the first generation's
 * `python_package_analyze/create/run` as symlinks to it; prints what it
 * wrote and whether DIR is on PATH.
 *
 * @module
 */

import { DEFAULT_OUTPUT, distCommand, mib } from "./dist.ts";
import { DROPIN_NAMES } from "./dropin.ts";
import { installSingleFile, onPath } from "../lib/dist/install.ts";
import { UsageError } from "../lib/errors.ts";

const HELP = `Usage: deno task install [DIR]

Builds dist/poncho (see deno task dist) and installs it as DIR/poncho (default
~/.local/bin), with poncho_package_analyze, poncho_package_create,
poncho_package_run and the first generation's python_package_analyze,
python_package_create and python_package_run as symlinks to it.
`;

/** Runs the install task with `args`; returns the exit code. */
export async function installCommand(args: string[]): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    console.log(HELP);
    return 0;
  }
  if (args.length > 1 || args.some((a) => a.startsWith("-"))) {
    throw new UsageError("expected at most one argument, the directory to install into");
  }
  const home = Deno.env.get("HOME");
  if (args.length === 0 && !home) throw new UsageError("HOME is not set; name the directory");
  const cwd = Deno.env.get("INIT_CWD") ?? Deno.cwd();
  let dir = args[0] ?? `${home}/.local/bin`;
  if (!dir.startsWith("/")) dir = `${cwd}/${dir}`;
  dir = dir.replace(/\/+$/, "") || "/";
  const built = (await distCommand(["--output", DEFAULT_OUTPUT]))!;
  console.log(`built ${built.path} (${mib(built.size)}, payload sha256:${built.payloadSha256})`);
  for (const p of await installSingleFile(built.path, dir, DROPIN_NAMES)) {
    console.log(`wrote ${p}`);
  }
  console.log(
    await onPath(dir)
      ? `${dir} is on PATH: run poncho --help`
      : `${dir} is NOT on PATH: add it (export PATH="${dir}:$PATH") or run ${dir}/poncho`,
  );
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await installCommand(Deno.args));
  } catch (e) {
    const { reportError } = await import("./main.ts");
    Deno.exit(reportError("poncho install", e));
  }
}
