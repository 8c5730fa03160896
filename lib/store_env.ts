/**
 * Environments built straight into the store, where they will be used: the
 * spec is solved, its identity (spec hash + solution) names the store slot,
 * and the packages are linked at that final path (as `create --prefix` does),
 * with no archive packed or unpacked. The environment gets the same manifest
 * an archive would carry (relocation records for every file that holds its
 * prefix) and `bin/run_in_env`; {@link packStoreEnv} makes a relocatable
 * archive of it when one must be shipped.
 *
 * A spec hash is mapped to the environment that serves it in the store's
 * index; `refresh` re-solves and moves the mapping when the solution changed,
 * `force` rebuilds.
 *
 * @module
 */

import { join } from "node:path";
import { fsError } from "./errors.ts";
import { type CreatedPackage, type CreateOptions, DEFAULT_BUILD_WAIT_MS } from "./create/types.ts";
import type { SolvedRecords } from "./create/types.ts";
import { buildManifest, envIdentity, withChannels } from "./create/identity.ts";
import { createdPackages, solveNative } from "./create/solve.ts";
import { installAll } from "./create/install.ts";
import { type CanonicalSpec, canonicalSpec, specHash } from "./envspec/canonical.ts";
import type { EnvSpec } from "./envspec/types.ts";
import { condaPlatform, parsePlatform } from "./conda/platform.ts";
import { ensureStore, type StoreLayout } from "../store/layout.ts";
import { acquireLock, withLock } from "../store/lock.ts";
import { buildCacheLockPath } from "../store/cache_gc.ts";
import { buildEnvInPlace, type BuildResult, storeSlot } from "../store/envs.ts";
import { readMarker } from "../store/marker.ts";
import { readSpecEnv, writeSpecEnv } from "../store/auto.ts";
import { MANIFEST_PATH } from "./env/manifest.ts";
import { prefixManifest } from "./env/pack.ts";
import { findActivateScripts } from "./exec/activate.ts";
import { writeRunInEnv } from "./exec/run_in_env.ts";

/** Options of {@link createInStore}. */
export interface StoreEnvOptions extends Omit<CreateOptions, "output" | "prefix" | "cacheOnly"> {
  /** Re-solve even when the store has an environment for this spec; reuse it if the solution is the same. */
  refresh?: boolean;
  /** How long to wait for runners holding the environment when it must be replaced (ms). */
  waitMs?: number;
  /** How long to wait for another process's build of the same spec (ms; default 6 h). */
  buildWaitMs?: number;
}

/** What {@link createInStore} did. */
export interface StoreEnvResult {
  /** sha256 of the canonical spec. */
  specHash: string;
  /** The environment's identity (its directory name under `envs/`). */
  id: string;
  /** Its absolute path. */
  prefix: string;
  /** True when this call built it. */
  built: boolean;
  /** Target platform. */
  platform: string;
  /** Conda packages installed (empty when reused). */
  packages: CreatedPackage[];
}

/** The conda-meta records of `prefix`; none when it has no conda-meta (a spec without conda). */
function condaMetaNames(prefix: string): string[] {
  try {
    return [...Deno.readDirSync(join(prefix, "conda-meta"))].map((e) => e.name);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw fsError(err, join(prefix, "conda-meta"), { what: "cannot read" });
  }
}

/**
 * conda-meta's view of the linked files: those written with a placeholder
 * (and how) and those hardlinked or copied unchanged from the package cache.
 */
async function linkedFiles(prefix: string): Promise<{
  placeholders: Map<string, { mode: "text" | "binary" }>;
  unchanged: Set<string>;
}> {
  const placeholders = new Map<string, { mode: "text" | "binary" }>();
  const unchanged = new Set<string>();
  for (const name of condaMetaNames(prefix).filter((n) => n.endsWith(".json"))) {
    const rec = JSON.parse(await Deno.readTextFile(join(prefix, "conda-meta", name)));
    for (const p of rec.paths_data?.paths ?? []) {
      if (p.prefix_placeholder) {
        placeholders.set(p._path, { mode: p.file_mode === "binary" ? "binary" : "text" });
      } else if (p.path_type === "hardlink") unchanged.add(p._path);
    }
  }
  return { placeholders, unchanged };
}

function ready(layout: StoreLayout, id: string | undefined): id is string {
  return id !== undefined && readMarker(storeSlot(layout, id).path, id) !== undefined;
}

/** One build of a spec straight into the store. */
interface StoreBuild {
  /** The spec with the command-line channels. */
  spec: EnvSpec;
  /** Its canonical form. */
  canonical: CanonicalSpec;
  /** The spec hash. */
  hash: string;
  /** The target platform. */
  platform: string;
  /** The store. */
  layout: StoreLayout;
  /** The caller's options. */
  opts: StoreEnvOptions;
}

/** The result naming environment `id`. */
function storeResult(
  b: StoreBuild,
  id: string,
  built: boolean,
  packages: CreatedPackage[] = [],
): StoreEnvResult {
  return {
    specHash: b.hash,
    id,
    prefix: storeSlot(b.layout, id).path,
    built,
    platform: b.platform,
    packages,
  };
}

/**
 * Gives the freshly installed `prefix` of environment `id` what an unpacked
 * archive would have: `bin/run_in_env` and the manifest (relocation records
 * for every file that holds the prefix). Returns what the store's ready
 * marker records.
 */
async function finishStoreEnv(
  b: StoreBuild,
  prefix: string,
  id: string,
  packages: CreatedPackage[],
): Promise<BuildResult> {
  const activateScripts = findActivateScripts(prefix);
  await writeRunInEnv(prefix, prefix, activateScripts);
  const { placeholders, unchanged } = await linkedFiles(prefix);
  const { manifest, size } = prefixManifest(
    prefix,
    buildManifest(b, id, packages),
    placeholders,
    unchanged,
  );
  await Deno.mkdir(join(prefix, ".poncho"), { recursive: true });
  await Deno.writeTextFile(join(prefix, MANIFEST_PATH), JSON.stringify(manifest, null, 1) + "\n");
  return { activateScripts, size };
}

/** Installs the spec (from `solved`) into the store slot of environment `id`. */
async function installInStore(
  b: StoreBuild,
  id: string,
  solved: SolvedRecords | undefined,
): Promise<CreatedPackage[]> {
  const { spec, platform, layout, opts } = b;
  let packages: CreatedPackage[] = [];
  await buildEnvInPlace(storeSlot(layout, id), async (_root, prefix) => {
    packages = await installAll({ spec, prefix, platform, layout, opts, solved });
    return await finishStoreEnv(b, prefix, id, packages);
  }, { source: opts.specSource ?? "spec", timeoutMs: opts.waitMs, replace: opts.force });
  return packages;
}

/** The build under the spec's create lock: reuse, or solve and build. */
async function buildLocked(b: StoreBuild, reuse: boolean): Promise<StoreEnvResult> {
  const { spec, platform, layout, opts, hash } = b;
  const now = readSpecEnv(layout, hash);
  if (reuse && ready(layout, now)) return storeResult(b, now, false); // built meanwhile
  // Shared while this build reads and fills the build caches: gc removes from them only
  // exclusively.
  using _cacheLock = await acquireLock(buildCacheLockPath(layout), {
    exclusive: false,
    timeoutMs: 600_000,
    what: "the store's build caches (a gc is removing from them)",
  });
  const solved = opts.condaExe || spec.conda.length === 0
    ? undefined
    : await solveNative(spec, platform, layout, opts);
  const id = envIdentity(hash, solved ? createdPackages(solved) : [], spec);
  if (!opts.force && ready(layout, id)) {
    // --refresh found the same solution: keep the environment.
    await writeSpecEnv(layout, hash, id);
    return storeResult(b, id, false);
  }
  const packages = await installInStore(b, id, solved);
  await writeSpecEnv(layout, hash, id);
  return storeResult(b, id, true, packages);
}

/**
 * Makes sure the store holds an environment for `opts.spec`, building it in
 * place when needed (at most once per spec hash, under the create lock).
 *
 * @throws {PonchoError} when solving, fetching, linking or pip fails; nothing
 *   usable is then left in the store.
 */
export async function createInStore(opts: StoreEnvOptions): Promise<StoreEnvResult> {
  const platform = opts.platform ? parsePlatform(opts.platform) : condaPlatform();
  const spec = withChannels(opts.spec, opts.channels);
  const canonical = canonicalSpec(spec, platform);
  const hash = specHash(canonical);
  const layout = await ensureStore(opts.store);
  const b: StoreBuild = { spec, canonical, hash, platform, layout, opts };
  const reuse = !opts.force && !opts.refresh;
  const known = readSpecEnv(layout, hash);
  if (reuse && ready(layout, known)) return storeResult(b, known, false);
  return await withLock(join(layout.locks, `create-${hash}.lock`), () => buildLocked(b, reuse), {
    exclusive: true,
    timeoutMs: opts.buildWaitMs ?? DEFAULT_BUILD_WAIT_MS,
    what: `the build of spec ${hash.slice(0, 12)}`,
  });
}

export { packStoreEnv } from "./env/store_pack.ts";
