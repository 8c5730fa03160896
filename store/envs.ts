/**
 * Where an environment lives and how it gets there exactly once.
 *
 * An {@link EnvSlot} is a final path (`<store>/v1/envs/<id>` or the
 * `--unpack-to` directory), its lock file and a directory on the same
 * filesystem for temp trees. {@link openEnv} returns the environment ready,
 * holding a shared lock on it for as long as the caller uses it; if it is
 * not ready, one process (holding the exclusive lock) cleans any leftovers,
 * builds the environment in a temp dir, relocates it for the final path,
 * writes the state marker and renames it into place, while the others wait.
 *
 * Nobody ever waits while holding a lock: waiting is polling non-blocking
 * try-locks, so a runner holding the shared lock for hours never blocks
 * another runner, and a timeout leaves nothing held.
 *
 * @module
 */

import { EXIT_FAILED, PonchoError } from "../lib/errors.ts";
import { type HeldLock, lockTimeoutError, tryLock } from "./lock.ts";
import type { StoreLayout } from "./layout.ts";
import { readMarker, type ReadyMarker, writeMarker } from "./marker.ts";
import { sha256Hex, touchIndex, writeIndex } from "./index.ts";
import { deleteTree, discardTree } from "./remove.ts";
import { sweepDeadOwners } from "./owner.ts";
import { faultPoint } from "../lib/fault.ts";
import { publishDir } from "../lib/fs/atomic.ts";

/** Where one environment lives. */
export interface EnvSlot {
  /** Environment id. */
  id: string;
  /** Absolute final path of the environment. */
  path: string;
  /** Lock file guarding it. */
  lockPath: string;
  /** Directory (same filesystem as `path`) for temp trees. */
  tmpParent: string;
  /** The store, when the slot is in one (for the index). */
  layout?: StoreLayout;
  /** Whether the final path may hold a foreign non-empty directory (never for -u dirs). */
  inStore: boolean;
}

/** What a builder produced in the temp dir. */
export interface BuildResult {
  /** Activation scripts as final absolute paths. */
  activateScripts: string[];
  /** Total size of regular files, bytes. */
  size: number;
  /**
   * Work that must run at the final path, after the rename and before the
   * marker (e.g. a conda-pack archive's `conda-unpack`).
   */
  finish?: (prefix: string) => Promise<void>;
}

/**
 * Fills `root` (an empty temp dir) with the environment, relocated for
 * `prefix`, its final path.
 */
export type Builder = (root: string, prefix: string) => Promise<BuildResult>;

/** An environment ready for use. */
export interface OpenEnv {
  /** The shared lock held on it (release when the command has exited). */
  lock: HeldLock;
  /** Its marker. */
  marker: ReadyMarker;
  /** Whether this call unpacked it. */
  unpacked: boolean;
}

/** Characters allowed in an environment id used as a directory name. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The slot of environment `id` in the store. */
export function storeSlot(layout: StoreLayout, id: string): EnvSlot {
  if (!ID_PATTERN.test(id)) {
    throw new PonchoError(`environment id '${id}' is not a valid store name`, EXIT_FAILED);
  }
  return {
    id,
    path: `${layout.envs}/${id}`,
    lockPath: `${layout.locks}/env-${id}.lock`,
    tmpParent: layout.tmp,
    layout,
    inStore: true,
  };
}

/** The slot for an `--unpack-to` directory (absolute path); its lock and temps sit beside it. */
export function dirSlot(dir: string, id: string): EnvSlot {
  const clean = dir.replace(/\/+$/, "") || "/";
  const slash = clean.lastIndexOf("/");
  const parent = slash <= 0 ? "/" : clean.slice(0, slash);
  const name = clean.slice(slash + 1);
  return {
    id,
    path: clean,
    lockPath: `${parent}/.${name}.poncho.lock`,
    tmpParent: parent,
    inStore: false,
  };
}

async function tempPrefix(slot: EnvSlot): Promise<string> {
  return `${slot.tmpParent}/.poncho-tmp-${(await sha256Hex(slot.path)).slice(0, 16)}-`;
}

/** Removes temp trees of this slot left by killed processes. Call only under the exclusive lock. */
export async function cleanLeftovers(slot: EnvSlot): Promise<number> {
  const prefix = await tempPrefix(slot);
  const dir = prefix.slice(0, prefix.lastIndexOf("/"));
  const base = prefix.slice(dir.length + 1);
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(base)) {
        await deleteTree(`${dir}/${entry.name}`);
        removed++;
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return removed;
}

async function isEmptyDir(path: string): Promise<boolean> {
  for await (const _ of Deno.readDir(path)) return false;
  return true;
}

/** Removes what is at the slot's final path (it has no valid marker). Exclusive lock held. */
async function clearFinalPath(slot: EnvSlot, trash: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(slot.path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (!slot.inStore) {
    const ours = info.isDirectory &&
      (await isEmptyDir(slot.path) ||
        await Deno.lstat(`${slot.path}/.poncho`).then(() => true, (err) => {
          if (err instanceof Deno.errors.NotFound) return false;
          throw err;
        }));
    if (!ours) {
      throw new PonchoError(
        `--unpack-to ${slot.path} exists and is not a poncho environment; ` +
          `remove it or choose another directory`,
        EXIT_FAILED,
      );
    }
  }
  await discardTree(slot.path, trash);
}

/** Builds the environment into the slot. The caller holds the exclusive lock. */
async function unpackInto(slot: EnvSlot, build: Builder, source: string): Promise<ReadyMarker> {
  await Deno.mkdir(slot.tmpParent, { recursive: true });
  await cleanLeftovers(slot);
  if (slot.layout) await sweepDeadOwners(slot.layout);
  const prefix = await tempPrefix(slot);
  const root = `${prefix}${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  await clearFinalPath(slot, `${root}.old`);
  await Deno.mkdir(root);
  await Deno.mkdir(slot.path.slice(0, slot.path.lastIndexOf("/")) || "/", { recursive: true });
  let renamed = false;
  try {
    faultPoint("unpack-start");
    const result = await build(root, slot.path);
    faultPoint("built");
    const marker: ReadyMarker = {
      format: 1,
      id: slot.id,
      prefix: slot.path,
      activateScripts: result.activateScripts,
      source,
      size: result.size,
      unpacked: new Date().toISOString(),
    };
    if (!result.finish) await writeMarker(root, marker);
    faultPoint("before-rename");
    await publishDir(root, slot.path, { durable: true });
    renamed = true;
    faultPoint("after-rename");
    if (result.finish) {
      await result.finish(slot.path);
      await writeMarker(slot.path, marker);
    }
    if (slot.layout) {
      await writeIndex(slot.layout, {
        id: slot.id,
        source,
        created: marker.unpacked,
        size: marker.size,
      });
    }
    return marker;
  } catch (err) {
    // Leave nothing a later run would use: the marker is what makes it usable. Best effort: the
    // build's error is the one to report, and a tree left without a marker is never used (the
    // next unpack or gc removes it).
    if (renamed) await discardTree(slot.path, `${root}.failed`).catch(() => {});
    else await deleteTree(root).catch(() => {});
    throw err;
  }
}

/** Options for {@link openEnv}. */
export interface OpenOptions {
  /** How long to wait for another process's unpack (ms). Default 300 s. */
  timeoutMs?: number;
  /** Recorded in the marker and the index. */
  source: string;
}

/**
 * Returns the environment of `slot` ready, holding a shared lock on it,
 * unpacking it with `build` first if needed (exactly once across processes).
 *
 * @throws {LockTimeoutError} (exit 3) when another process keeps it locked too long.
 */
export async function openEnv(
  slot: EnvSlot,
  build: Builder,
  options: OpenOptions,
): Promise<OpenEnv> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  let unpacked = false;
  return await pollUntil(slot, timeoutMs, async () => {
    const shared = tryLock(slot.lockPath, false);
    if (!shared) return undefined;
    const marker = readMarker(slot.path, slot.id);
    if (marker) {
      if (slot.layout) touchIndex(slot.layout, slot.id);
      return { lock: shared, marker, unpacked };
    }
    shared.release();
    const exclusive = tryLock(slot.lockPath, true);
    if (!exclusive) return undefined;
    try {
      if (!readMarker(slot.path, slot.id)) {
        await unpackInto(slot, build, options.source);
        unpacked = true;
      }
    } finally {
      exclusive.release();
    }
    return "again"; // take the shared lock and check again, at once
  });
}

/**
 * Calls `attempt` until it returns a result, pausing (2 ms, doubling up to
 * {@link WAIT_POLL_MAX_MS}) after each `undefined` (the lock is busy) and not
 * after `"again"`; nobody waits while holding a lock.
 *
 * @throws {LockTimeoutError} (exit 3) once `timeoutMs` have passed.
 */
async function pollUntil<T>(
  slot: EnvSlot,
  timeoutMs: number,
  attempt: () => Promise<T | "again" | undefined> | T | "again" | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let pause = 2;
  for (;;) {
    const result = await attempt();
    if (result === "again") continue;
    if (result !== undefined) return result;
    const left = deadline - Date.now();
    if (left <= 0) throw lockTimeoutError(slot.lockPath, `environment ${slot.path}`, timeoutMs);
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
    pause = Math.min(pause * 2, WAIT_POLL_MAX_MS);
  }
}

/**
 * The longest pause between two tries of a busy environment lock: short, so
 * that a burst's waiters start within milliseconds of the unpack's end (a try
 * is one non-blocking flock, so 16 waiters polling cost next to nothing).
 */
export const WAIT_POLL_MAX_MS = 8;

/**
 * Builds an environment into `dir` (an empty private directory, e.g. for
 * `--tmp`), without locks, and returns its marker.
 */
export async function unpackPrivate(dir: string, build: Builder, source: string, id: string) {
  const result = await build(dir, dir);
  if (result.finish) await result.finish(dir);
  const marker: ReadyMarker = {
    format: 1,
    id,
    prefix: dir,
    activateScripts: result.activateScripts,
    source,
    size: result.size,
    unpacked: new Date().toISOString(),
  };
  await writeMarker(dir, marker);
  return marker;
}

/** Options of {@link buildEnvInPlace}. */
export interface InPlaceOptions {
  /** Recorded in the marker and the index. */
  source: string;
  /** How long to wait for the exclusive lock (ms). Default 300 s. */
  timeoutMs?: number;
  /** Rebuild even when the slot already holds a ready environment. */
  replace?: boolean;
}

/**
 * Builds an environment directly at its final path (`build(path, path)`),
 * under the slot's exclusive lock, for builders that must install where the
 * environment will live (linking conda packages, as `create --prefix` does).
 * Crash safety comes from the marker, written last: a killed build leaves a
 * directory without one, which the next build (or `gc`) discards. Without
 * `replace`, a ready environment is kept as it is. Returns whether it built.
 *
 * @throws {LockTimeoutError} (exit 3) when runners or another build keep the lock too long.
 */
export async function buildEnvInPlace(
  slot: EnvSlot,
  build: Builder,
  options: InPlaceOptions,
): Promise<boolean> {
  const lock: HeldLock = await pollUntil(
    slot,
    options.timeoutMs ?? 300_000,
    () => tryLock(slot.lockPath, true) ?? undefined,
  );
  try {
    if (!options.replace && readMarker(slot.path, slot.id)) return false;
    await Deno.mkdir(slot.tmpParent, { recursive: true });
    await cleanLeftovers(slot);
    if (slot.layout) await sweepDeadOwners(slot.layout);
    const trash = `${await tempPrefix(slot)}${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.old`;
    await clearFinalPath(slot, trash);
    await Deno.mkdir(slot.path, { recursive: true });
    try {
      faultPoint("unpack-start");
      const result = await build(slot.path, slot.path);
      if (result.finish) await result.finish(slot.path);
      faultPoint("built");
      const marker: ReadyMarker = {
        format: 1,
        id: slot.id,
        prefix: slot.path,
        activateScripts: result.activateScripts,
        source: options.source,
        size: result.size,
        unpacked: new Date().toISOString(),
      };
      await writeMarker(slot.path, marker);
      if (slot.layout) {
        await writeIndex(slot.layout, {
          id: slot.id,
          source: options.source,
          created: marker.unpacked,
          size: marker.size,
        });
      }
      return true;
    } catch (err) {
      // Best effort, as in unpackInto: without a marker the tree is never used.
      await discardTree(slot.path, `${trash}.failed`).catch(() => {});
      throw err;
    }
  } finally {
    lock.release();
  }
}
