/**
 * `poncho run [options] -e <archive|dir> [--] command args...`: runs a
 * command inside an environment, unpacking it once into the store (or
 * `--unpack-to DIR`, or a private `--tmp` dir) first if needed.
 *
 * The warm path loads only this file, the argument parser, the store's lock,
 * marker and index helpers and the exec module: stat the archive, read its
 * cached identity, take the shared lock on the environment, read its state
 * marker, start the command. Unpacking code is imported only on a miss.
 *
 * @module
 */

import { UsageError } from "../lib/errors.ts";
import { type OptionSpec, parseArgs } from "./args.ts";
import { resolveStoreRoot } from "../store/layout.ts";
import { runEnvironment, type RunEnvOptions } from "../lib/run.ts";
import { lazyImporter } from "../lib/lazy.ts";
import type { AutoRunOptions } from "./run_auto.ts";

const HELP = `Usage: poncho run [options] -e <archive|dir> [--] command [args...]
       poncho run [options] script.py [args...]
       poncho run [options] -m module [args...]
       poncho run [options] --spec spec.json [--] command [args...]

Runs a command inside an environment. The environment is unpacked once into
the store (keyed by its identity) and reused by later runs; concurrent runs
wait for one unpack.

Without -e, the environment is automatic: the script (and the local modules it
imports, recursively: beside it, in the project root, on $PYTHONPATH; the same
analysis as 'poncho analyze') or the spec is resolved to a requirement set,
hashed with the Python requirement, channels and platform (never with what the
host has installed), and the store's environment for that hash is reused, or
built once, linked straight into the store. The analysis is cached until a file
it read changes. A reused environment keeps the versions first solved until
--refresh. A script's PEP 723 dependencies win over names inferred from imports.

Options:
  -e, --environment PATH    environment archive (.tar.zst, .tar.gz, .tar.bz2, .tar)
                            or directory (with conda-meta/ or bin/, or made by poncho)
  -u, --unpack-to DIR       unpack to DIR (relocated there) instead of the store
      --tmp                 unpack to a temp dir removed after the command exits
                            (or at once if poncho is interrupted while unpacking)
      --store DIR           store root (default $PONCHO_STORE, else
                            $XDG_CACHE_HOME/poncho, else ~/.cache/poncho)
  -w, --wait-for-lock SECS  wait at most SECS for another unpack (default 300)
  -d, --debug               print what poncho does to stderr
  -h, --help                show this help

Automatic environments (no -e):
  -m, --module NAME         run 'python -m NAME' (looked up in the current directory,
                            then on $PYTHONPATH)
      --spec FILE           use this spec (poncho JSON, JSONC, environment.yml)
  -c, --channel URL         channel (repeatable; replaces the analyzer's conda-forge
                            default; part of the hash; its import map names packages)
      --python X.Y          target Python (default: the script's requires-python, else
                            whatever the solver picks; never the host's python3); with
                            --spec it replaces the spec's python
      --platform NAME       target platform (default: this machine)
      --offline             use only cached repodata and packages
      --conda-exe PATH      let conda, mamba or micromamba solve and install
      --pkg-mapping IMP=PKG the module imported as IMP comes from package PKG
                            (repeatable; 'IMP=pip:PKG' puts it under pip)
      --extra-pkg PKG       also install PKG ('pip:PKG' for pip; repeatable)
      --pin-local           pin versions to what the local python3/$CONDA_PREFIX has
                            installed (as 'poncho analyze' does; the identity then
                            depends on this host)
      --force               re-analyse and rebuild the environment
      --refresh             re-analyse and re-solve; a new environment only if the
                            solution changed
  -q, --quiet               print nothing but errors (no warnings, no progress)
  -v, --verbose             print every step of a build
      --dry-run             print the spec, its hash and whether it would be reused
                            or built; run nothing
      --json                with --dry-run: print that as JSON

Options stop at '--' or at the first word that is not an option.
Exit codes: the command's own (it takes poncho's process, so a command killed by a
signal ends it the same way; with --tmp, 128+N for signal N); poncho's failures:
1 invalid usage, 2 environment (or script, spec) not found, 3 extraction,
relocation, build or lock timeout, 4 activation failed (e.g. command not found).
`;

const OPTIONS: OptionSpec[] = [
  { name: "environment", short: "e", type: "string" },
  { name: "unpack-to", short: "u", type: "string" },
  { name: "tmp", type: "boolean" },
  { name: "store", type: "string" },
  { name: "wait-for-lock", short: "w", type: "string" },
  { name: "debug", short: "d", type: "boolean" },
  { name: "help", short: "h", type: "boolean" },
  { name: "module", short: "m", type: "string" },
  { name: "spec", type: "string" },
  { name: "channel", short: "c", type: "string", multiple: true },
  { name: "python", type: "string" },
  { name: "platform", type: "string" },
  { name: "offline", type: "boolean" },
  { name: "conda-exe", type: "string" },
  { name: "dry-run", type: "boolean" },
  { name: "json", type: "boolean" },
  { name: "pkg-mapping", type: "string", multiple: true },
  { name: "extra-pkg", type: "string", multiple: true },
  { name: "pin-local", type: "boolean" },
  { name: "force", type: "boolean" },
  { name: "refresh", type: "boolean" },
  { name: "quiet", short: "q", type: "boolean" },
  { name: "verbose", short: "v", type: "boolean" },
];

/** Parsed `poncho run` options. */
export interface RunOptions extends RunEnvOptions {
  /** Set when there is no `-e`: the environment is automatic. */
  auto?: AutoRunOptions;
}

/** Options that only automatic environments (no `-e`) take. */
const AUTO_ONLY = [
  "module",
  "spec",
  "python",
  "platform",
  "offline",
  "conda-exe",
  "dry-run",
  "json",
  "pin-local",
  "force",
  "refresh",
  "quiet",
  "verbose",
  "channel",
  "pkg-mapping",
  "extra-pkg",
];

type Options = ReturnType<typeof parseArgs>["options"];

/**
 * Parses `poncho run` arguments.
 *
 * @returns `undefined` when `--help` was asked for.
 * @throws {UsageError} on bad options, a missing `-e` or a missing command.
 */
export function parseRunArgs(args: string[]): RunOptions | undefined {
  const { options, rest } = parseArgs(args, OPTIONS, true);
  if (options.help) return undefined;
  const environment = options.environment as string | undefined;
  let auto: AutoRunOptions | undefined;
  let argv = rest;
  if (environment === undefined || environment === "") {
    auto = autoOptions(options);
    argv = autoCommand(auto, rest);
  } else refuseAutoOptions(options);
  if (argv.length === 0 && !auto?.dryRun) {
    throw new UsageError(
      auto?.specFile !== undefined
        ? "no command given; usage: poncho run --spec FILE [--] command [args...]"
        : "no command given; usage: poncho run -e ENV [--] command [args...]",
    );
  }
  const unpackTo = options["unpack-to"] as string | undefined;
  const tmp = options.tmp === true;
  if (tmp && unpackTo !== undefined) {
    throw new UsageError("--tmp and -u/--unpack-to exclude each other; give one");
  }
  const wait = waitSeconds(options);
  if (auto && options["wait-for-lock"] !== undefined) auto.buildWaitMs = wait * 1000;
  return {
    environment: environment ?? "",
    unpackTo,
    tmp,
    store: resolveStoreRoot(options.store as string | undefined),
    waitMs: wait * 1000,
    debug: options.debug === true,
    argv,
    auto,
  };
}

/**
 * The options of an automatic environment (no `-e`).
 *
 * @throws {UsageError} when options exclude each other.
 */
function autoOptions(options: Options): AutoRunOptions {
  const auto: AutoRunOptions = {
    module: options.module as string | undefined,
    specFile: options.spec as string | undefined,
    channels: options.channel as string[],
    python: options.python as string | undefined,
    platform: options.platform as string | undefined,
    offline: options.offline === true,
    condaExe: options["conda-exe"] as string | undefined,
    dryRun: options["dry-run"] === true,
    json: options.json === true,
    pkgMappings: options["pkg-mapping"] as string[],
    extraPkgs: options["extra-pkg"] as string[],
    pinLocal: options["pin-local"] === true,
    force: options.force === true,
    refresh: options.refresh === true,
    quiet: options.quiet === true,
    verbose: options.verbose === true,
  };
  if (auto.quiet && auto.verbose) throw new UsageError("-q and -v exclude each other; give one");
  if (auto.module !== undefined && auto.specFile !== undefined) {
    throw new UsageError("-m/--module and --spec exclude each other; give one");
  }
  return auto;
}

/**
 * The command of an automatic run: `python -m MODULE ...`, `python
 * script.py ...` (setting `auto.script`), or, with `--spec`, `rest` as given.
 *
 * @throws {UsageError} when there is neither a script, a module nor a spec.
 */
function autoCommand(auto: AutoRunOptions, rest: string[]): string[] {
  if (auto.module !== undefined) return ["python", "-m", auto.module, ...rest];
  if (auto.specFile !== undefined) return rest;
  if (rest.length === 0 || !/\.pyw?$/.test(rest[0])) {
    throw new UsageError(
      "-e/--environment is required unless a script (script.py), -m MODULE or " +
        "--spec FILE is given; usage: poncho run -e ENV [--] command [args...]",
    );
  }
  auto.script = rest[0];
  return ["python", ...rest];
}

/**
 * Refuses the options of automatic environments next to `-e`.
 *
 * @throws {UsageError} naming the first one given.
 */
function refuseAutoOptions(options: Options): void {
  const given = (k: string) => {
    const v = options[k];
    return Array.isArray(v) ? v.length > 0 : v !== undefined && v !== false;
  };
  const stray = AUTO_ONLY.filter(given);
  if (stray.length > 0) {
    throw new UsageError(`--${stray[0]} is for automatic environments; it does not go with -e`);
  }
}

/**
 * The `-w/--wait-for-lock` seconds (default 300).
 *
 * @throws {UsageError} when it is not a non-negative number.
 */
function waitSeconds(options: Options): number {
  const text = (options["wait-for-lock"] as string | undefined) ?? "300";
  const wait = Number(text);
  if (text.trim() === "" || !Number.isFinite(wait) || wait < 0) {
    throw new UsageError(`-w/--wait-for-lock '${text}' is not a number of seconds`);
  }
  return wait;
}

/** Runs `poncho run` with `args`; returns the exit code. */
export async function runCommand(args: string[]): Promise<number> {
  const opts = parseRunArgs(args);
  if (!opts) {
    console.log(HELP);
    return 0;
  }
  if (opts.auto) {
    const { runAutoCommand } = await load<typeof import("./run_auto.ts")>("./run_auto.ts");
    return await runAutoCommand({ ...opts, auto: opts.auto, replace: true });
  }
  return await runEnvironment({ ...opts, replace: true }); // nothing runs after the command
}

/** Loads the automatic run only when asked for: `run -e` never loads the analyzer. */
const load = lazyImporter(import.meta.url);
