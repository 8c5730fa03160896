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
import { VERSION } from "./version.ts";
import {
  createdPackages,
  type CreateOptions,
  DEFAULT_BUILD_WAIT_MS,
  envIdentity,
  installAll,
  solveNative,
  withChannels,
} from "./create.ts";
import { canonicalSpec, specHash } from "./envspec/canonical.ts";
import { condaPlatform, parsePlatform } from "./conda/platform.ts";
import { ensureStore, type StoreLayout } from "../store/layout.ts";
import { acquireLock, withLock } from "../store/lock.ts";
import { buildCacheLockPath } from "../store/cache_gc.ts";
import { buildEnvInPlace, storeSlot } from "../store/envs.ts";
import { readMarker } from "../store/marker.ts";
import { readSpecEnv, writeSpecEnv } from "../store/auto.ts";
import { MANIFEST_FORMAT, MANIFEST_PATH } from "./env/manifest.ts";
import { prefixManifest } from "./env/pack.ts";
import { findActivateScripts } from "./exec/activate.ts";
import { writeRunInEnv } from "./exec/run_in_env.ts";
import type { CreatedPackage } from "./create.ts";

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
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(join(prefix, "conda-meta"))].map((e) => e.name);
  } catch {
    return { placeholders, unchanged };
  }
  for (const name of names.filter((n) => n.endsWith(".json"))) {
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
  const reuse = !opts.force && !opts.refresh;
  const result = (id: string, built: boolean, packages: CreatedPackage[] = []) => ({
    specHash: hash,
    id,
    prefix: storeSlot(layout, id).path,
    built,
    platform,
    packages,
  });
  const known = readSpecEnv(layout, hash);
  if (reuse && ready(layout, known)) return result(known, false);
  return await withLock(
    join(layout.locks, `create-${hash}.lock`),
    async () => {
      const now = readSpecEnv(layout, hash);
      if (reuse && ready(layout, now)) return result(now, false); // built meanwhile
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
        return result(id, false);
      }
      let packages: CreatedPackage[] = [];
      const slot = storeSlot(layout, id);
      await buildEnvInPlace(slot, async (_root, prefix) => {
        packages = await installAll(spec, prefix, platform, layout, opts, solved);
        const activateScripts = findActivateScripts(prefix);
        await writeRunInEnv(prefix, prefix, activateScripts);
        const { placeholders, unchanged } = await linkedFiles(prefix);
        const { manifest, size } = prefixManifest(
          prefix,
          {
            format: MANIFEST_FORMAT,
            id,
            spec: canonical,
            specHash: hash,
            platform,
            created: new Date().toISOString(),
            poncho: VERSION,
            packages,
          },
          placeholders,
          unchanged,
        );
        await Deno.mkdir(join(prefix, ".poncho"), { recursive: true });
        await Deno.writeTextFile(
          join(prefix, MANIFEST_PATH),
          JSON.stringify(manifest, null, 1) + "\n",
        );
        return { activateScripts, size };
      }, { source: opts.specSource ?? "spec", timeoutMs: opts.waitMs, replace: opts.force });
      await writeSpecEnv(layout, hash, id);
      return result(id, true, packages);
    },
    {
      exclusive: true,
      timeoutMs: opts.buildWaitMs ?? DEFAULT_BUILD_WAIT_MS,
      what: `the build of spec ${hash.slice(0, 12)}`,
    },
  );
}

export { packStoreEnv } from "./env/store_pack.ts";
