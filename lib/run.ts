/**
 * Running a command inside an environment: find it in the store (or
 * `unpackTo`, or a private temp dir) by its identity, unpack it once under
 * the environment's lock if it is not there, then activate and exec.
 *
 * The warm path loads only this module, the store's lock, marker and index
 * helpers and the exec module; the unpacking code is imported on a miss only.
 *
 * @module
 */

import { EXIT_NOT_FOUND, NotFoundError, PonchoError } from "./errors.ts";
import { type StoreLayout, storeLayout } from "../store/layout.ts";
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
import { execInEnv } from "./exec/exec.ts";
import { findActivateScripts } from "./exec/activate.ts";

type UnpackModule = typeof import("./env/unpack.ts");

/**
 * Imports the unpacking code (archive engine, relocation) on a miss only.
 * The specifier is computed so that Deno does not follow it (and load the
 * archive engine's modules) when it loads this file on the warm path.
 */
function loadUnpack(): Promise<UnpackModule> {
  return import(new URL("./env/unpack.ts", import.meta.url).href);
}

/** Options of {@link runEnvironment}. */
export interface RunEnvOptions {
  /** The environment: an archive (`.tar.zst`, `.tar.gz`, `.tar.bz2`, `.tar`) or a directory. */
  environment: string;
  /** Unpack to (and relocate for) this directory instead of the store. */
  unpackTo?: string;
  /** Unpack to a temp dir removed after the command exits. */
  tmp: boolean;
  /** The store root. */
  store: string;
  /** How long to wait for another process's unpack, in milliseconds. */
  waitMs: number;
  /** Print what happens on stderr. */
  debug: boolean;
  /** The command and its arguments. */
  argv: string[];
  /** What to record as the environment's source in the store index (default `environment`). */
  sourceLabel?: string;
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

/** Runs `opts.argv` in the environment `opts.environment` (archive or directory). */
export async function runEnvironment(opts: RunEnvOptions): Promise<number> {
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
  opts: RunEnvOptions,
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
