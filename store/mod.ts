/**
 * The store's door: where Poncho keeps packages, archives and unpacked
 * environments on a machine (`store/layout.ts` documents the buckets), the
 * file locks that make every writer once-only, and collection of old entries.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const root = await Deno.makeTempDir();
 * const layout = storeLayout(root);
 * const lock = await acquireLock(`${root}/demo.lock`, { exclusive: true, timeoutMs: 1000 });
 * assert.equal(tryLock(`${root}/demo.lock`), null); // held: a second try fails
 * lock.release();
 * assert.ok(layout.envs.startsWith(root));
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @module
 */

export { defaultStoreRoot, ensureStore, storeLayout } from "./layout.ts";
export type { StoreLayout } from "./layout.ts";
export { acquireLock, LockTimeoutError, tryLock, withLock } from "./lock.ts";
export type { HeldLock, LockHolder, LockOptions } from "./lock.ts";
export type { IndexEntry, IndexRecord } from "./index.ts";
export { gc } from "./gc.ts";
export type { CacheReport, GcOptions, GcResult } from "./gc.ts";
export { listEnvs } from "./list.ts";
export type { StoreEntry } from "./list.ts";
export { formatSize, parseSize } from "./size.ts";
export type { SweptLeftover } from "./sweep.ts";
export type { CacheBucket } from "./cache_gc.ts";
