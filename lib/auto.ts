/**
 * Automatic environments for `poncho run script.py`, `poncho run -m module`
 * and `poncho run --spec spec.json`: build-or-reuse, for the CLI and for
 * library users ({@link ensureAutoEnvironment}).
 *
 * The identity of an automatic environment is the hash of the requirement
 * set derived from the code (the script and the local modules it imports,
 * see `analyze`) and the options, plus the Python requirement, channels and
 * platform; never the host's installed packages (unless `pinLocal`). Reuse
 * keeps the versions first solved until `refresh` re-solves.
 *
 * The warm path is this module alone: stat the files the cached analysis
 * read (keyed by the options; valid while every file keeps its size and
 * mtime and every directory it listed keeps its mtime), read which store
 * environment serves the spec hash, take its shared lock, check its marker.
 * The analyzer, the create engine, the solver and the YAML parser are
 * loaded only when something must be analysed or built.
 *
 * @module
 */

import { UsageError } from "./errors.ts";
import type { EnvSpec } from "./envspec/types.ts";
import type { AutoSpec, AutoSpecOptions } from "./auto_types.ts";
import { defaultStoreRoot, type StoreLayout, storeLayout } from "../store/layout.ts";
import { type AnalysisRecord, readAnalysis, readSpecEnv } from "../store/auto.ts";
import { sha256Hex } from "../store/index.ts";
import { openEnv, storeSlot } from "../store/envs.ts";
import { readMarker } from "../store/marker.ts";
import type { HeldLock } from "../store/lock.ts";
import { condaPlatform, parsePlatform } from "./conda/platform.ts";
import { absolutePath } from "./fs/path.ts";
import { execInEnv } from "./exec/exec.ts";
import { inheritableLock } from "../store/inherit_lock.ts";
import { VERSION } from "./version.ts";
import { lazyImporter } from "./lazy.ts";

export type { AutoSpec, AutoSpecOptions } from "./auto_types.ts";

type AutoSpecModule = typeof import("./auto_spec.ts");
type StoreEnvModule = typeof import("./store_env.ts");

/** Loads a module only on a miss: the warm path never loads the analyzer or the create engine. */
const load = lazyImporter(import.meta.url);

/** Options of {@link ensureAutoEnvironment}. */
export interface AutoEnvOptions extends AutoSpecOptions {
  /** Use only cached repodata and packages. */
  offline?: boolean;
  /** Let conda, mamba or micromamba solve and install. */
  condaExe?: string;
  /** Rebuild the environment (and re-analyse). */
  force?: boolean;
  /** Re-solve (and re-analyse); the environment changes only if the solution did. */
  refresh?: boolean;
  /** Print nothing but errors while building. */
  quiet?: boolean;
  /** Print each build step. */
  verbose?: boolean;
  /** How long to wait for runners holding the environment (ms). Default 300 s. */
  waitMs?: number;
  /** How long to wait for another process's build of the same spec (ms). Default 6 h. */
  buildWaitMs?: number;
  /** Receives one line per decision (reuse, build, cache hit). */
  log?: (line: string) => void;
}

/** An automatic environment ready to run in. */
export interface AutoEnvironment {
  /** The resolved spec. */
  auto: AutoSpec;
  /** The store environment's id. */
  id: string;
  /** Its absolute path. */
  prefix: string;
  /** Activation scripts to source before a command. */
  activateScripts: string[];
  /** True when this call built it. */
  built: boolean;
  /** The shared lock held on it (`gc` leaves it alone): release it when done. */
  lock: HeldLock;
}

/** What {@link planAutoEnvironment} found. */
export interface AutoPlan {
  /** The resolved spec. */
  auto: AutoSpec;
  /** `reuse` when the store has a ready environment for the hash, else `build`. */
  action: "reuse" | "build";
  /** The environment's path when reused. */
  prefix?: string;
}

/** The canonical key of the options that decide an analysis. */
function optionsKey(opts: AutoSpecOptions, cwd: string, platform: string): Promise<string> {
  const env = opts.env ?? { PYTHONPATH: Deno.env.get("PYTHONPATH") };
  return sha256Hex(JSON.stringify({
    v: 1,
    poncho: VERSION, // another analyzer may decide otherwise
    script: opts.script === undefined ? null : absolutePathIn(cwd, opts.script),
    module: opts.module ?? null,
    moduleDir: opts.module === undefined ? null : cwd,
    specFile: opts.specFile === undefined ? null : absolutePathIn(cwd, opts.specFile),
    python: opts.python ?? null,
    channels: opts.channels ?? [],
    platform,
    pkgMappings: opts.pkgMappings ?? [],
    extraPkgs: opts.extraPkgs ?? [],
    pythonPath: env.PYTHONPATH ?? "",
  }));
}

function absolutePathIn(cwd: string, path: string): string {
  return path.startsWith("/") ? absolutePath(path) : absolutePath(`${cwd}/${path}`);
}

function fromRecord(rec: AnalysisRecord): AutoSpec {
  return {
    spec: rec.spec as EnvSpec,
    hash: rec.hash,
    platform: rec.platform,
    files: rec.files.filter((f) => !f.path.endsWith("/")).map((f) => f.path),
    warnings: rec.warnings,
    source: rec.source,
    cached: true,
  };
}

function checkOne(opts: AutoSpecOptions): void {
  const given = [opts.script, opts.module, opts.specFile].filter((x) => x !== undefined);
  if (given.length !== 1) throw new UsageError("give one of a script, -m MODULE or --spec FILE");
}

/**
 * Resolves the spec of an automatic environment: from the store's analysis
 * cache when every file it depends on is unchanged, else by analysing the
 * script's local-module closure (the same analysis as `poncho analyze`) or
 * reading the spec file, and caching the result.
 *
 * @throws {NotFoundError} when the script, module or spec does not exist.
 * @throws {UsageError} when none or more than one of script/module/specFile
 *   is given, or for a bad option.
 */
export async function resolveAutoSpec(opts: AutoSpecOptions): Promise<AutoSpec> {
  checkOne(opts);
  const cwd = opts.cwd ?? Deno.cwd();
  const platform = opts.platform ? parsePlatform(opts.platform) : condaPlatform();
  const layout = storeLayout(opts.store ?? defaultStoreRoot());
  const cacheable = !opts.pinLocal && opts.specFile !== "-";
  const key = await optionsKey(opts, cwd, platform);
  if (cacheable && !opts.reanalyze) {
    const rec = readAnalysis(layout, key);
    if (rec) return fromRecord(rec);
  }
  const { analyzeAuto } = await load<AutoSpecModule>("./auto_spec.ts");
  return await analyzeAuto(opts, { cwd, platform, layout, key: cacheable ? key : undefined });
}

function readyEnv(layout: StoreLayout, hash: string): { id: string; prefix: string } | undefined {
  const id = readSpecEnv(layout, hash);
  if (id === undefined) return undefined;
  const slot = storeSlot(layout, id);
  return readMarker(slot.path, id) ? { id, prefix: slot.path } : undefined;
}

/** Resolves the spec and says whether the store would reuse or build its environment. */
export async function planAutoEnvironment(opts: AutoSpecOptions): Promise<AutoPlan> {
  const auto = await resolveAutoSpec(opts);
  const env = readyEnv(storeLayout(opts.store ?? defaultStoreRoot()), auto.hash);
  return env ? { auto, action: "reuse", prefix: env.prefix } : { auto, action: "build" };
}

/** Thrown by the builder of {@link openReady}: the environment was removed after it was found. */
class RemovedMeanwhile extends Error {}

/**
 * Opens the ready environment `id` under its shared lock, or returns
 * undefined when it was removed (by gc) since it was found ready: it is then
 * built again. Lock timeouts and store errors are thrown.
 */
async function openReady(
  layout: StoreLayout,
  id: string,
  source: string,
  waitMs: number | undefined,
): Promise<Awaited<ReturnType<typeof openEnv>> | undefined> {
  try {
    return await openEnv(storeSlot(layout, id), () => {
      throw new RemovedMeanwhile(`environment ${id} was removed meanwhile`);
    }, { source, timeoutMs: waitMs });
  } catch (err) {
    if (err instanceof RemovedMeanwhile) return undefined;
    throw err;
  }
}

/**
 * Makes sure the store has the environment of an automatic run and returns
 * it ready, holding its shared lock: reuses the environment recorded for the
 * spec hash, or builds it once (concurrent callers wait for one build),
 * linking the packages straight into the store (no archive; see
 * `poncho store pack` to make one).
 *
 * @throws {NotFoundError} (exit 2) when the script, module or spec does not exist.
 * @throws {UsageError} (exit 1) for bad options.
 * @throws {PonchoError} (exit 3) when building fails or a lock is not obtained in time.
 */
export async function ensureAutoEnvironment(opts: AutoEnvOptions): Promise<AutoEnvironment> {
  const log = opts.log ?? (() => {});
  const rebuild = opts.force === true || opts.refresh === true;
  const auto = await resolveAutoSpec({ ...opts, reanalyze: opts.reanalyze || rebuild });
  log(
    `${auto.cached ? "cached analysis" : "analysed"} of ${auto.files.join(", ") || "stdin"}: ` +
      `spec ${auto.hash.slice(0, 12)}`,
  );
  const layout = storeLayout(opts.store ?? defaultStoreRoot());
  if (!rebuild) {
    const env = readyEnv(layout, auto.hash);
    if (env) {
      const opened = await openReady(layout, env.id, auto.source, opts.waitMs);
      if (opened) {
        log(`reusing environment ${env.id} for ${auto.source}`);
        return {
          auto,
          id: env.id,
          prefix: env.prefix,
          activateScripts: opened.marker.activateScripts,
          built: false,
          lock: opened.lock,
        };
      }
    }
  }
  log(`building environment for ${auto.source}`);
  const { createInStore } = await load<StoreEnvModule>("./store_env.ts");
  const r = await createInStore({
    spec: auto.spec,
    specSource: auto.source,
    platform: auto.platform,
    offline: opts.offline,
    condaExe: opts.condaExe,
    store: opts.store ?? defaultStoreRoot(),
    force: opts.force,
    refresh: opts.refresh,
    quiet: opts.quiet,
    verbose: opts.verbose,
    waitMs: opts.waitMs,
    buildWaitMs: opts.buildWaitMs,
  });
  const opened = await openEnv(storeSlot(layout, r.id), () => {
    throw new Error(`environment ${r.id} was removed right after its build`);
  }, { source: auto.source, timeoutMs: opts.waitMs });
  log(`${r.built ? "built" : "reusing"} environment ${r.id}`);
  return {
    auto,
    id: r.id,
    prefix: r.prefix,
    activateScripts: opened.marker.activateScripts,
    built: r.built,
    lock: opened.lock,
  };
}

/**
 * Runs `argv` in an environment from {@link ensureAutoEnvironment} and
 * releases its lock when the command has exited. `PYTHONPATH` is kept: the
 * local modules found on it were analysed as the script's own. With
 * `options.replace` the command takes this process instead (the call then
 * never returns), holding the environment's lock on a descriptor it
 * inherits; without FFI it runs as a child all the same.
 *
 * @returns The command's exit status (128+N when it died of signal N).
 * @throws {PonchoError} (exit 4) when the command cannot be started.
 */
export async function runInAutoEnvironment(
  env: AutoEnvironment,
  argv: readonly string[],
  options: { replace?: boolean } = {},
): Promise<number> {
  const inherited = options.replace ? inheritableLock(env.lock.path, false) : null;
  try {
    return await execInEnv({
      prefix: env.prefix,
      argv,
      activateScripts: env.activateScripts,
      keepVars: ["PYTHONPATH"],
      replace: inherited !== null,
    });
  } finally {
    inherited?.release();
    env.lock.release();
  }
}
