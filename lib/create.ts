/**
 * `create`: a spec becomes a relocatable environment archive (or an
 * installed prefix). The pipeline: canonical spec and hash -> archive cache
 * lookup -> (under a per-spec lock) solve -> fetch and verify -> extract into
 * the package cache -> pre-link messages -> link (clobbers warned) -> `.pyc`
 * of noarch python -> post-link scripts -> conda-meta -> pip -> data sources
 * -> pack into the store's archive cache -> copy to the output. Any failure
 * about one package names it (`name-version-build`) and its URL.
 *
 * The same spec (channels in order, normalised requirements, platform) is
 * built at most once per store, even when several processes ask at once; a
 * spec whose environment an automatic run linked into the store is packed
 * from that environment instead of being built again.
 *
 * This module chooses the mode (dry run, `--prefix`, archive) and holds the
 * store's build caches while it works; each step is a module of
 * `lib/create/`: the options and results (`types.ts`), names and hashes
 * (`identity.ts`), solving (`solve.ts`), the native install and its steps
 * (`native.ts`, `cache_packages.ts`, `link_all.ts`, `byte_compile.ts`,
 * `scripts.ts`, `conda_meta.ts`), `--conda-exe` (`conda_exe.ts`), conda +
 * pip + sources (`install.ts`), the locked build and pack (`build.ts`), the
 * archive cache (`archive_cache.ts`), the output file (`output.ts`) and
 * `--prefix` (`prefix.ts`).
 *
 * @module
 */

import { resolve } from "node:path";
import { UsageError } from "./errors.ts";
import { type CanonicalSpec, canonicalSpec } from "./envspec/canonical.ts";
import type { EnvSpec } from "./envspec/types.ts";
import { defaultStoreRoot, ensureStore, type StoreLayout } from "../store/layout.ts";
import { acquireLock } from "../store/lock.ts";
import { buildCacheLockPath } from "../store/cache_gc.ts";
import { condaPlatform, parsePlatform } from "./conda/platform.ts";
import { buildHash, withChannels } from "./create/identity.ts";
import { archiveExt, checkOutputDir, copyAtomic } from "./create/output.ts";
import { archiveIntact, cachedArchivePath, fromManifest } from "./create/archive_cache.ts";
import { reporter } from "./create/report.ts";
import type { CreatedPackage, CreateOptions, CreateResult } from "./create/types.ts";
import { lazyImporter } from "./lazy.ts";

// The solver, the install pipeline and the packer are loaded only by the modes that use them: a
// create answered from the archive cache loads none of them.
const load = lazyImporter(import.meta.url);
type SolveModule = typeof import("./create/solve.ts");
type PrefixModule = typeof import("./create/prefix.ts");
type BuildModule = typeof import("./create/build.ts");

export type { CreatedPackage, CreateOptions, CreateResult, SolvedRecords } from "./create/types.ts";
export { DEFAULT_BUILD_WAIT_MS, INCOMPLETE_MARKER } from "./create/types.ts";
export { envIdentity, withChannels } from "./create/identity.ts";

/** What every mode of a create works on. */
interface CreateTarget {
  /** The spec with the command-line channels. */
  spec: EnvSpec;
  /** The target platform. */
  platform: string;
  /** The canonical spec. */
  canonical: CanonicalSpec;
  /** The build hash. */
  hash: string;
  /** The store. */
  layout: StoreLayout;
  /** When the create started (`performance.now()`). */
  started: number;
}

/** Seconds since the create started, to the millisecond. */
function seconds(t: CreateTarget): number {
  return Math.round(performance.now() - t.started) / 1000;
}

/** Throws unless exactly one of `output` and `prefix` is given (none for `cacheOnly`, dry runs). */
function checkMode(opts: CreateOptions): void {
  const badTarget = opts.cacheOnly ? (opts.output || opts.prefix) : !opts.output === !opts.prefix;
  if (!opts.dryRun && badTarget) {
    throw new UsageError("give either an output archive or --prefix DIR");
  }
}

/** The spec, platform, hashes and store of a create. */
async function createTarget(opts: CreateOptions, started: number): Promise<CreateTarget> {
  const platform = opts.platform ? parsePlatform(opts.platform) : condaPlatform();
  const spec = withChannels(opts.spec, opts.channels);
  const canonical: CanonicalSpec = canonicalSpec(spec, platform);
  const hash = buildHash(canonical, opts.noLinkScripts);
  const layout = await ensureStore(opts.store ?? defaultStoreRoot());
  return { spec, platform, canonical, hash, layout, started };
}

/** A dry run: the solution, nothing written. */
async function dryRunCreate(t: CreateTarget, opts: CreateOptions): Promise<CreateResult> {
  const { dryRunPackages } = await load<SolveModule>("./create/solve.ts");
  const packages = await dryRunPackages(t.spec, t.platform, t.layout, opts);
  return {
    specHash: t.hash,
    platform: t.platform,
    cached: false,
    dryRun: true,
    packages,
    pip: t.spec.pip,
    seconds: seconds(t),
  };
}

/** `--prefix`: the spec installed into the directory. */
async function prefixCreate(t: CreateTarget, opts: CreateOptions): Promise<CreateResult> {
  const prefix = resolve(opts.prefix!);
  const { installIntoPrefix } = await load<PrefixModule>("./create/prefix.ts");
  const packages = await installIntoPrefix(t.spec, prefix, t.platform, t.layout, opts);
  return {
    specHash: t.hash,
    platform: t.platform,
    prefix,
    cached: false,
    packages,
    pip: t.spec.pip,
    seconds: seconds(t),
  };
}

/** An archive: reused from the cache, or built into it; then copied to the output. */
async function archiveCreate(t: CreateTarget, opts: CreateOptions): Promise<CreateResult> {
  const output = opts.output ? resolve(opts.output) : undefined;
  const ext = output ? archiveExt(output) : ".tar.zst";
  if (output) await checkOutputDir(output);
  const cachedArchive = cachedArchivePath(t.layout, t.hash, ext);
  const result = (cached: boolean, packages: CreatedPackage[] = [], envId?: string) => ({
    specHash: t.hash,
    envId,
    platform: t.platform,
    output,
    cached,
    cachedArchive,
    packages,
    pip: t.spec.pip,
    seconds: seconds(t),
  });
  const log = reporter(opts);
  if (!opts.force && await archiveIntact(t.layout, cachedArchive, log)) {
    if (output) await copyAtomic(cachedArchive, output, t.layout);
    log(`reused ${cachedArchive}`);
    return result(true, ...await fromManifest(cachedArchive));
  }
  const { buildArchive } = await load<BuildModule>("./create/build.ts");
  const built = await buildArchive({ ...t, opts, cachedArchive, log });
  if (output) await copyAtomic(cachedArchive, output, t.layout);
  return built
    ? result(false, built.packages, built.envId)
    : result(true, ...await fromManifest(cachedArchive));
}

/**
 * Creates the environment described by `opts.spec`: an archive at
 * `opts.output`, or an installed prefix at `opts.prefix`.
 *
 * @throws {UsageError} for a bad output name or options.
 * @throws {PonchoError} when solving, fetching, linking or packing fails; nothing
 *   is then left at the output path or in the caches.
 */
export async function createEnvironment(opts: CreateOptions): Promise<CreateResult> {
  const started = performance.now();
  checkMode(opts);
  const t = await createTarget(opts, started);
  // Shared while this create reads and fills the build caches: gc removes from them only exclusively.
  const cacheLock = await acquireLock(buildCacheLockPath(t.layout), {
    exclusive: false,
    timeoutMs: 600_000,
    what: "the store's build caches (a gc is removing from them)",
  });
  try {
    if (opts.dryRun) return await dryRunCreate(t, opts);
    if (opts.prefix) return await prefixCreate(t, opts);
    return await archiveCreate(t, opts);
  } finally {
    cacheLock.release();
  }
}
