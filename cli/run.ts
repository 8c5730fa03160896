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

import { EXIT_NOT_FOUND, NotFoundError, PonchoError, UsageError } from "../lib/errors.ts";
import { type OptionSpec, parseArgs } from "./args.ts";
import { defaultStoreRoot, type StoreLayout, storeLayout } from "../store/layout.ts";
import {
  type Builder,
  type BuildResult,
  dirSlot,
  type EnvSlot,
  openEnv,
  storeSlot,
  unpackPrivate,
} from "../store/envs.ts";
import { cachedSourceId, cacheSourceId, sha256Hex } from "../store/index.ts";
import { deleteTree } from "../store/remove.ts";
import { readMarker } from "../store/marker.ts";
import { execInEnv } from "../lib/exec/exec.ts";
import { findActivateScripts } from "../lib/exec/activate.ts";

type UnpackModule = typeof import("../lib/env/unpack.ts");

/**
 * Imports the unpacking code (archive engine, relocation) on a miss only.
 * The specifier is computed so that Deno does not follow it (and load the
 * archive engine's modules) when it loads this file on the warm path.
 */
function loadUnpack(): Promise<UnpackModule> {
  return import(new URL("../lib/env/unpack.ts", import.meta.url).href);
}

const HELP = `Usage: poncho run [options] -e <archive|dir> [--] command [args...]
       poncho run [options] script.py [args...]
       poncho run [options] -m module [args...]
       poncho run [options] --spec spec.json [--] command [args...]

Runs a command inside an environment. The environment is unpacked once into
the store (keyed by its identity) and reused by later runs; concurrent runs
wait for one unpack.

Without -e, the environment is automatic: the script (and the local modules it
imports, recursively) or the spec is resolved to a requirement set, hashed
with the Python version, channels and platform, and the store's environment
for that hash is reused, or built once (as 'poncho create' does) and unpacked.

Options:
  -e, --environment PATH    environment archive (.tar.zst, .tar.gz, .tar.bz2, .tar)
                            or directory
  -u, --unpack-to DIR       unpack to DIR (relocated there) instead of the store
      --tmp                 unpack to a temp dir removed after the command exits
      --store DIR           store root (default $PONCHO_STORE, else
                            $XDG_CACHE_HOME/poncho, else ~/.cache/poncho)
  -w, --wait-for-lock SECS  wait at most SECS for another unpack (default 300)
  -d, --debug               print what poncho does to stderr
  -h, --help                show this help

Automatic environments (no -e):
  -m, --module NAME         run 'python -m NAME' (looked up in the current directory)
      --spec FILE           use this spec (poncho JSON, JSONC, environment.yml)
  -c, --channel URL         channel (repeatable; replaces the analyzer's conda-forge
                            default; part of the hash)
      --python X.Y          target Python (default: the version of python3 found)
      --platform NAME       target platform (default: this machine)
      --offline             use only cached repodata and packages
      --conda-exe PATH      let conda, mamba or micromamba solve and install
      --dry-run             print the spec, its hash and whether it would be reused
                            or built; run nothing
      --json                with --dry-run: print that as JSON

Options stop at '--' or at the first word that is not an option.
Exit codes: the command's own (128+N if it died of signal N); poncho's failures:
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
];

/** Parsed `poncho run` options. */
export interface RunOptions {
  /** `-e`: the archive or directory. */
  environment: string;
  /** `-u`: the directory to unpack to. */
  unpackTo?: string;
  /** `--tmp`. */
  tmp: boolean;
  /** `--store` or the default store root. */
  store: string;
  /** `-w` in milliseconds. */
  waitMs: number;
  /** `-d`. */
  debug: boolean;
  /** The command and its arguments. */
  argv: string[];
  /** What to record as the environment's source in the store index (default `environment`). */
  sourceLabel?: string;
  /** Set when there is no `-e`: the environment is automatic. */
  auto?: AutoRunOptions;
}

/** Options of an automatic environment (`poncho run` without `-e`). */
export interface AutoRunOptions {
  /** The script (then `argv` starts with `python script`). */
  script?: string;
  /** `-m`: the module. */
  module?: string;
  /** `--spec`: the spec file. */
  specFile?: string;
  /** `-c` channels. */
  channels: string[];
  /** `--python`. */
  python?: string;
  /** `--platform`. */
  platform?: string;
  /** `--offline`. */
  offline: boolean;
  /** `--conda-exe`. */
  condaExe?: string;
  /** `--dry-run`. */
  dryRun: boolean;
  /** `--json`. */
  json: boolean;
}

/** Makes `path` absolute against the current directory, without touching the file system. */
export function absolutePath(path: string): string {
  const full = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const parts: string[] = [];
  for (const part of full.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/**
 * Parses `poncho run` arguments.
 *
 * @returns `undefined` when `--help` was asked for.
 * @throws {UsageError} on bad options, a missing `-e` or a missing command.
 */
export function parseRunArgs(args: string[]): RunOptions | undefined {
  const { options, rest } = parseArgs("poncho run", args, OPTIONS, true);
  if (options.help) return undefined;
  const environment = options.environment as string | undefined;
  const autoOnly = [
    "module",
    "spec",
    "python",
    "platform",
    "offline",
    "conda-exe",
    "dry-run",
    "json",
  ];
  let auto: AutoRunOptions | undefined;
  let argv = rest;
  if (environment === undefined || environment === "") {
    auto = {
      module: options.module as string | undefined,
      specFile: options.spec as string | undefined,
      channels: options.channel as string[],
      python: options.python as string | undefined,
      platform: options.platform as string | undefined,
      offline: options.offline === true,
      condaExe: options["conda-exe"] as string | undefined,
      dryRun: options["dry-run"] === true,
      json: options.json === true,
    };
    if (auto.module !== undefined && auto.specFile !== undefined) {
      throw new UsageError("-m/--module and --spec exclude each other; give one");
    }
    if (auto.module !== undefined) argv = ["python", "-m", auto.module, ...rest];
    else if (auto.specFile === undefined) {
      if (rest.length === 0 || !/\.pyw?$/.test(rest[0])) {
        throw new UsageError(
          "-e/--environment is required unless a script (script.py), -m MODULE or " +
            "--spec FILE is given; usage: poncho run -e ENV [--] command [args...]",
        );
      }
      auto.script = rest[0];
      argv = ["python", ...rest];
    }
  } else {
    const stray = autoOnly.filter((k) => options[k] !== undefined && options[k] !== false);
    if ((options.channel as string[]).length > 0) stray.push("channel");
    if (stray.length > 0) {
      throw new UsageError(`--${stray[0]} is for automatic environments; it does not go with -e`);
    }
  }
  if (argv.length === 0 && !auto?.dryRun) {
    throw new UsageError("no command given; usage: poncho run -e ENV [--] command [args...]");
  }
  const unpackTo = options["unpack-to"] as string | undefined;
  const tmp = options.tmp === true;
  if (tmp && unpackTo !== undefined) {
    throw new UsageError("--tmp and -u/--unpack-to exclude each other; give one");
  }
  const waitText = (options["wait-for-lock"] as string | undefined) ?? "300";
  const wait = Number(waitText);
  if (waitText.trim() === "" || !Number.isFinite(wait) || wait < 0) {
    throw new UsageError(`-w/--wait-for-lock '${waitText}' is not a number of seconds`);
  }
  return {
    environment: environment ?? "",
    unpackTo,
    tmp,
    store: (options.store as string | undefined) ?? defaultStoreRoot(),
    waitMs: wait * 1000,
    debug: options.debug === true,
    argv,
    auto,
  };
}

function toBuild(r: {
  activateScripts: string[];
  size: number;
  finish?: (prefix: string) => Promise<void>;
}): BuildResult {
  return { activateScripts: r.activateScripts, size: r.size, finish: r.finish };
}

/** The identity of an archive: cached by path, size, mtime and inode, else read. */
export async function archiveId(
  layout: StoreLayout,
  path: string,
  info: Deno.FileInfo,
  log: (msg: string) => void = () => {},
): Promise<string> {
  const cached = await cachedSourceId(layout, path, info);
  if (cached) return cached;
  const unpack = await loadUnpack();
  const manifest = await unpack.readArchiveManifest(path);
  const id = manifest ? manifest.id : `archive-${await unpack.fileDigest(path)}`;
  log(manifest ? `identity ${id} from the manifest` : `identity ${id} from the archive digest`);
  try {
    await cacheSourceId(layout, path, info, id);
  } catch { /* a read-only store still works, just slower */ }
  return id;
}

/** Runs `poncho run` with `args`; returns the exit code. */
export async function runCommand(args: string[]): Promise<number> {
  const opts = parseRunArgs(args);
  if (!opts) {
    console.log(HELP);
    return 0;
  }
  if (opts.auto) {
    const { resolveAutoEnvironment } = await load<typeof import("./run_auto.ts")>("./run_auto.ts");
    const env = await resolveAutoEnvironment(opts);
    if (env === undefined) return 0; // --dry-run
    return await runEnvironment({ ...opts, environment: env.archive, sourceLabel: env.source });
  }
  return await runEnvironment(opts);
}

function load<T>(path: string): Promise<T> {
  return import(new URL(path, import.meta.url).href);
}

/** Runs `opts.argv` in the environment `opts.environment` (archive or directory). */
export async function runEnvironment(opts: RunOptions): Promise<number> {
  const log = opts.debug
    ? (msg: string) => console.error(`poncho run: ${msg}`)
    : (_msg: string) => {};
  const source = absolutePath(opts.environment);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(source);
  } catch {
    throw new NotFoundError(`environment ${opts.environment} does not exist (-e/--environment)`);
  }
  const layout = storeLayout(opts.store);

  let id: string;
  let build: Builder;
  if (info.isDirectory) {
    const ready = readMarker(source);
    if (ready && !opts.tmp && opts.unpackTo === undefined) {
      // An unpacked poncho environment: use it in place, under its shared lock.
      log(`using environment directory ${source} in place`);
      return await runIn(dirSlot(source, ready.id), noBuild(source), opts, log);
    }
    const unpack = await loadUnpack();
    const manifest = await unpack.readDirManifest(source);
    if (!manifest && !opts.tmp && opts.unpackTo === undefined) {
      // A plain conda prefix (valid where it is): activate it in place.
      log(`using plain environment directory ${source} in place`);
      return await execInEnv({
        prefix: source,
        argv: opts.argv,
        activateScripts: findActivateScripts(source),
      });
    }
    id = manifest?.id ?? `dir-${(await sha256Hex(source)).slice(0, 40)}`;
    build = async (root, prefix) => toBuild(await unpack.copyEnvDir(source, root, prefix));
  } else {
    id = await archiveId(layout, source, info, log);
    build = async (root, prefix) => {
      const unpack = await loadUnpack();
      log(`unpacking ${source} for ${prefix}`);
      return toBuild(await unpack.unpackArchive(source, root, prefix));
    };
  }

  if (opts.tmp) {
    const dir = await Deno.makeTempDir({ prefix: "poncho-run-" });
    const prefix = `${dir}/env`;
    try {
      await Deno.mkdir(prefix);
      log(`unpacking into temp dir ${prefix}`);
      const marker = await unpackPrivate(prefix, build, source, id);
      return await execInEnv({
        prefix,
        argv: opts.argv,
        activateScripts: marker.activateScripts,
      });
    } finally {
      await deleteTree(dir); // only after the command has exited
    }
  }
  const slot = opts.unpackTo !== undefined
    ? dirSlot(absolutePath(opts.unpackTo), id)
    : storeSlot(layout, id);
  return await runIn(slot, build, opts, log);
}

function noBuild(dir: string): Builder {
  return () => {
    throw new PonchoError(`environment directory ${dir} is no longer complete`, EXIT_NOT_FOUND);
  };
}

async function runIn(
  slot: EnvSlot,
  build: Builder,
  opts: RunOptions,
  log: (msg: string) => void,
): Promise<number> {
  const opened = await openEnv(slot, build, {
    timeoutMs: opts.waitMs,
    source: opts.sourceLabel ?? opts.environment,
  });
  try {
    log(`${opened.unpacked ? "unpacked" : "found"} environment at ${slot.path}`);
    return await execInEnv({
      prefix: slot.path,
      argv: opts.argv,
      activateScripts: opened.marker.activateScripts,
    });
  } finally {
    opened.lock.release();
  }
}
