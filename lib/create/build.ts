/**
 * Building a spec's archive into the store's archive cache, at most once per
 * build hash even when several processes ask at once: under the spec's
 * create lock the cache is looked at again (built meanwhile?), a spec whose
 * environment an automatic run linked into the store is packed from that
 * environment, and otherwise everything is installed into a fresh build
 * prefix in the store's `tmp/`, packed with its manifest, and its digest
 * recorded. The build prefix is removed whatever happens.
 *
 * @module
 */

import { join } from "node:path";
import type { CanonicalSpec } from "../envspec/canonical.ts";
import type { EnvSpec } from "../envspec/types.ts";
import type { StoreLayout } from "../../store/layout.ts";
import { describeHolder, type LockHolder, withLock } from "../../store/lock.ts";
import { ownerTmp, sweepDeadOwners } from "../../store/owner.ts";
import { readSpecEnv } from "../../store/auto.ts";
import { readMarker } from "../../store/marker.ts";
import { packPrefix } from "../env/pack.ts";
import { pristineFromCondaMeta } from "../env/pristine.ts";
import { archiveIntact, recordArchive } from "./archive_cache.ts";
import { buildManifest, envIdentity } from "./identity.ts";
import { installAll } from "./install.ts";
import { type Reporter, stepper } from "./report.ts";
import { type CreatedPackage, type CreateOptions, DEFAULT_BUILD_WAIT_MS } from "./types.ts";

/** One build of a spec into the archive cache. */
export interface ArchiveBuild {
  /** The spec (command-line channels included). */
  spec: EnvSpec;
  /** Its canonical form (written to the manifest). */
  canonical: CanonicalSpec;
  /** The build hash naming the cached archive. */
  hash: string;
  /** The target platform. */
  platform: string;
  /** The store. */
  layout: StoreLayout;
  /** The create's options. */
  opts: CreateOptions;
  /** The cached archive to write. */
  cachedArchive: string;
  /** Details (`--verbose`). */
  log: Reporter;
}

/** What a build that installed the spec made. */
export interface Built {
  /** The conda packages installed. */
  packages: CreatedPackage[];
  /** The environment's identity (in the manifest). */
  envId: string;
}

/** Packs the store's environment `id` (built in place by an automatic run) as the archive. */
async function packFromStoreEnv(b: ArchiveBuild, id: string): Promise<void> {
  const { packStoreEnv } = await import("../env/store_pack.ts");
  stepper(b.opts)(`packing ${b.cachedArchive} from the store's environment ${id}`);
  await packStoreEnv(b.layout, id, b.cachedArchive, ownerTmp(b.layout));
  await recordArchive(b.layout, b.cachedArchive);
}

/** Removes this spec's build prefixes left by a killed process (we hold its lock: none is live). */
async function sweepBuilds(layout: StoreLayout, hash: string): Promise<void> {
  for (const e of Deno.readDirSync(layout.tmp)) {
    if (e.name.startsWith(`b-${hash.slice(0, 12)}-`)) {
      // Best effort: one that cannot be removed now is left for `store gc`; the new build
      // uses a fresh name, so a leftover never mixes into it.
      await Deno.remove(join(layout.tmp, e.name), { recursive: true }).catch(() => {});
    }
  }
}

/** Installs the spec into a fresh build prefix and packs it into the cached archive. */
async function installAndPack(b: ArchiveBuild): Promise<Built> {
  const buildPrefix = join(
    b.layout.tmp,
    `b-${b.hash.slice(0, 12)}-${crypto.randomUUID().slice(0, 6)}`,
  );
  await Deno.mkdir(buildPrefix);
  try {
    const packages = await installAll({
      spec: b.spec,
      prefix: buildPrefix,
      platform: b.platform,
      layout: b.layout,
      opts: b.opts,
    });
    const envId = envIdentity(b.hash, packages, b.spec);
    stepper(b.opts)(`packing ${b.cachedArchive}`);
    await packPrefix({
      prefix: buildPrefix,
      output: b.cachedArchive,
      pristine: await pristineFromCondaMeta(buildPrefix),
      tmpDir: ownerTmp(b.layout),
      manifest: buildManifest(b, envId, packages),
    });
    await recordArchive(b.layout, b.cachedArchive);
    return { packages, envId };
  } finally {
    // Best effort: the archive (or the error) is what counts; a build prefix that cannot be
    // removed now is swept by the next build of this spec or by `store gc`.
    await Deno.remove(buildPrefix, { recursive: true }).catch(() => {});
  }
}

/** The build under the spec's lock; null when the archive was there or was packed from the store. */
async function buildLocked(b: ArchiveBuild): Promise<Built | null> {
  const { opts, layout, hash } = b;
  // Built by another process meanwhile? (A damaged or unrecorded archive is rebuilt.)
  if (!opts.force && await archiveIntact(layout, b.cachedArchive, b.log)) return null;
  await sweepDeadOwners(layout);
  const linked = opts.force ? undefined : readSpecEnv(layout, hash);
  if (linked !== undefined && readMarker(`${layout.envs}/${linked}`, linked)) {
    // An automatic run built this spec in place: the archive is that environment, packed.
    await packFromStoreEnv(b, linked);
    return null;
  }
  await sweepBuilds(layout, hash);
  return await installAndPack(b);
}

/** What a create prints while it waits for another process's build (even when quiet). */
function sayWaiting(hash: string, holder: LockHolder | null, waited: number): void {
  // shown even when quiet: a silent wait looks like a hang
  console.error(
    `poncho create: waiting for the build of spec ${hash.slice(0, 12)}${
      holder ? ` by ${describeHolder(holder)}` : " by another process"
    } (${Math.round(waited / 1000)} s so far; --wait-for-lock limits the wait)`,
  );
}

/**
 * Builds the spec's archive into the cache under its create lock (waiting
 * for another process's build at most `opts.waitForLockMs`). Returns what was
 * installed, or null when the archive came from another process's build or
 * from the store's environment.
 */
export function buildArchive(b: ArchiveBuild): Promise<Built | null> {
  return withLock(join(b.layout.locks, `create-${b.hash}.lock`), () => buildLocked(b), {
    exclusive: true,
    timeoutMs: b.opts.waitForLockMs ?? DEFAULT_BUILD_WAIT_MS,
    what: `the build of spec ${b.hash.slice(0, 12)}`,
    record: true,
    onWait: (holder, waited) => sayWaiting(b.hash, holder, waited),
  });
}
