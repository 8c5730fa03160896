/**
 * Removing the store's records of things that no longer exist, for `poncho
 * store gc`:
 *
 * - `index/<id>.json` (valid or damaged) without `envs/<id>`, while holding
 *   the environment's lock exclusively (an unpack in progress holds it, and
 *   writes the record only after its rename);
 * - `index/sources/<key>.json|.warm` (the identity cache and the launcher's
 *   warm record) naming an archive that is gone, a warm record naming an
 *   environment that is gone, and damaged ones. Removing one costs at most
 *   one slower start (it is written again), so no lock is needed; an archive
 *   that only another host of a shared store can see costs that host one;
 * - `index/auto/spec-<hash>.json` naming an environment that is gone, while
 *   holding that spec's build lock exclusively (the build writes it last);
 *   `index/auto/analysis-<key>.json` that no longer matches the files it read
 *   (it can never be used again), and damaged ones;
 * - `index/archives/<name>.json` without `archives/<name>`, while holding the
 *   build-cache lock exclusively (a create writes it after the archive).
 *
 * (The temp files killed writers leave beside these records are swept by
 * `store/sweep.ts`.)
 *
 * @module
 */

import type { StoreLayout } from "./layout.ts";
import { analysisStale, autoDir } from "./auto.ts";
import { buildCacheLockPath } from "./cache_gc.ts";
import { ID_PATTERN } from "./envs.ts";
import { tryLock } from "./lock.ts";
import { removeIfExists, unlessDenied } from "./remove.ts";
import type { SweptLeftover } from "./sweep.ts";
import { dirNames, goneFromStore } from "./walk.ts";
import { readTextOrNull } from "../lib/fs/probe.ts";

/** The text of a record, or null when it was removed meanwhile. */
const readRecord = (path: string): Promise<string | null> =>
  readTextOrNull(path, { role: "store", what: "cannot read the store's record" });

/** The JSON value of `text`, or undefined when it is not JSON (a damaged record). */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/**
 * Removes `path` (a record) while holding `lockPath` exclusively, taken
 * without waiting, if `stillDead` says so under the lock; false when the
 * lock is held (its owner is at work) or the record came alive meanwhile.
 */
async function removeUnder(
  lockPath: string,
  path: string,
  stillDead: () => Promise<boolean>,
): Promise<boolean> {
  const lock = tryLock(lockPath, true);
  if (!lock) return false;
  try {
    if (!await stillDead()) return false;
    await removeIfExists(path);
    return true;
  } finally {
    lock.release();
  }
}

function swept(path: string): SweptLeftover {
  return { name: path.slice(path.lastIndexOf("/") + 1), path, kind: "record", size: 0 };
}

/** Removes the record `path`; false when this user may not (recorded in `denied`). */
async function removed(denied: string[] | undefined, path: string): Promise<boolean> {
  return await unlessDenied(denied, path, () => removeIfExists(path).then(() => true)) ?? false;
}

/** `index/<id>.json` whose environment is gone. */
async function sweepEnvRecords(
  layout: StoreLayout,
  denied?: string[],
): Promise<SweptLeftover[]> {
  const out: SweptLeftover[] = [];
  for (const name of await dirNames(layout.index)) {
    const id = /^(.+)\.json$/.exec(name)?.[1];
    if (id === undefined || !ID_PATTERN.test(id)) continue;
    const env = `${layout.envs}/${id}`;
    if (!await goneFromStore(env)) continue;
    const path = `${layout.index}/${name}`;
    const lock = `${layout.locks}/env-${id}.lock`;
    if (await unlessDenied(denied, path, () => removeUnder(lock, path, () => goneFromStore(env)))) {
      out.push(swept(path));
    }
  }
  return out;
}

/** Whether the identity or warm record `text` (of a file named `name`) is of no use any more. */
async function deadSourceRecord(layout: StoreLayout, name: string, text: string): Promise<boolean> {
  if (name.endsWith(".warm")) {
    const [, archive, id] = text.split("\n");
    if (!archive?.startsWith("/") || id === undefined || !ID_PATTERN.test(id)) return true;
    return await goneFromStore(archive) || await goneFromStore(`${layout.envs}/${id}`);
  }
  const rec = parsed(text) as { path?: unknown } | undefined;
  if (typeof rec?.path !== "string" || !rec.path.startsWith("/")) return true;
  return await goneFromStore(rec.path);
}

/** `index/sources/*` naming an archive or environment that is gone, or damaged. */
async function sweepSourceRecords(
  layout: StoreLayout,
  denied?: string[],
): Promise<SweptLeftover[]> {
  const dir = `${layout.index}/sources`;
  const out: SweptLeftover[] = [];
  for (const name of await dirNames(dir)) {
    if (!/^[0-9a-f]{32}\.(json|warm)$/.test(name)) continue;
    const path = `${dir}/${name}`;
    const text = await readRecord(path);
    if (text === null || !await deadSourceRecord(layout, name, text)) continue;
    if (await removed(denied, path)) out.push(swept(path));
  }
  return out;
}

/** Whether the spec record `text` names no environment that exists. */
async function deadSpecRecord(layout: StoreLayout, path: string): Promise<boolean> {
  const text = await readRecord(path);
  if (text === null) return false; // removed meanwhile
  const id = (parsed(text) as { id?: unknown } | undefined)?.id;
  if (typeof id !== "string" || !ID_PATTERN.test(id)) return true;
  return await goneFromStore(`${layout.envs}/${id}`);
}

/** `index/auto/` records whose environment is gone, stale analyses, damaged ones. */
async function sweepAutoRecords(
  layout: StoreLayout,
  denied?: string[],
): Promise<SweptLeftover[]> {
  const dir = autoDir(layout);
  const out: SweptLeftover[] = [];
  for (const name of await dirNames(dir)) {
    const path = `${dir}/${name}`;
    const spec = /^spec-([0-9a-f]+)\.json$/.exec(name);
    if (spec) {
      if (!await deadSpecRecord(layout, path)) continue;
      const lock = `${layout.locks}/create-${spec[1]}.lock`;
      const gone = () => removeUnder(lock, path, () => deadSpecRecord(layout, path));
      if (await unlessDenied(denied, path, gone)) out.push(swept(path));
      continue;
    }
    const analysis = /^analysis-([0-9a-f]+)\.json$/.exec(name);
    if (analysis && analysisStale(layout, analysis[1]) && !await goneFromStore(path)) {
      if (await removed(denied, path)) out.push(swept(path));
    }
  }
  return out;
}

/** `index/archives/<name>.json` whose cached archive is gone. */
async function sweepArchiveRecords(
  layout: StoreLayout,
  denied?: string[],
): Promise<SweptLeftover[]> {
  const dir = `${layout.index}/archives`;
  const dead: string[] = [];
  for (const name of await dirNames(dir)) {
    const archive = /^(.+)\.json$/.exec(name)?.[1];
    if (archive !== undefined && await goneFromStore(`${layout.archives}/${archive}`)) {
      dead.push(name);
    }
  }
  if (dead.length === 0) return [];
  const lockPath = buildCacheLockPath(layout);
  const lock = await unlessDenied(denied, lockPath, () => Promise.resolve(tryLock(lockPath)));
  if (!lock) return []; // a build is running (it may be writing one), or the lock is not ours
  try {
    const out: SweptLeftover[] = [];
    for (const name of dead) {
      if (!await goneFromStore(`${layout.archives}/${name.slice(0, -".json".length)}`)) continue;
      if (await removed(denied, `${dir}/${name}`)) out.push(swept(`${dir}/${name}`));
    }
    return out;
  } finally {
    lock.release();
  }
}

/**
 * Removes the records of things that no longer exist (see the module
 * documentation). With `denied`, a record this user may not remove (another
 * user's, in a shared store) is recorded there and left.
 */
export async function sweepDeadRecords(
  layout: StoreLayout,
  denied?: string[],
): Promise<SweptLeftover[]> {
  return [
    ...await sweepEnvRecords(layout, denied),
    ...await sweepSourceRecords(layout, denied),
    ...await sweepAutoRecords(layout, denied),
    ...await sweepArchiveRecords(layout, denied),
  ];
}
