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

import { CorruptError, errnoOf, fsError, NotFoundError, UsageError } from "./errors.ts";
import { ensureStore, type StoreLayout, storeLayout } from "../store/layout.ts";
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
import { deleteTree, deleteTreeSync } from "../store/remove.ts";
import { adoptInheritedLock, inheritableLock } from "../store/inherit_lock.ts";
import { currentLauncher } from "./dist/self.ts";
import { absolutePath } from "./fs/path.ts";
import { acquireLock, type HeldLock, LockTimeoutError } from "../store/lock.ts";
import { type ExternalRecord, recordExternal } from "../store/owner.ts";
import { MARKER_PATH, readMarker } from "../store/marker.ts";
import { writeWarmRecord } from "../store/warm_record.ts";
import { execInEnv, FORWARDED_SIGNALS, signalExitCode } from "./exec/exec.ts";
import { findActivateScripts } from "./exec/activate.ts";
import { lazyImporter } from "./lazy.ts";
import { statOrNullSync } from "./fs/probe.ts";

type UnpackModule = typeof import("./env/unpack.ts");

/**
 * Imports the unpacking code (archive engine, relocation) on a miss only, so
 * that the warm path never loads the archive engine's modules.
 */
const loadUnpack = (): Promise<UnpackModule> => load<UnpackModule>("./env/unpack.ts");

/** Imports the archive reader (part of the unpacking code) for a decode begun early. */
const loadOpen = () => load<typeof import("./archive/open.ts")>("./archive/open.ts");

/** Imports this module's lazily loaded modules (see `lib/lazy.ts`). */
const load = lazyImporter(import.meta.url);

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
  /**
   * What to record as the environment's source in the store index (default:
   * `environment` as an absolute path).
   */
  sourceLabel?: string;
  /**
   * Give this process to the command once the environment is ready
   * (`execve`; not with `tmp`, and only where the command can inherit the
   * environment's lock): the call then never returns. For a command line
   * with nothing left to do; a library caller keeps the default, a child.
   */
  replace?: boolean;
}

function toBuild(r: {
  activateScripts: string[];
  size: number;
  finish?: (prefix: string) => Promise<void>;
}): BuildResult {
  return { activateScripts: r.activateScripts, size: r.size, finish: r.finish };
}

/** Options of {@link archiveId}. */
export interface ArchiveIdOptions {
  /** Says what happens (with `--debug`). */
  log?: (msg: string) => void;
  /** Resolve a miss under the archive's identity lock, waiting at most this long. */
  waitMs?: number;
  /** Keeps the identity lock for the caller (see {@link archiveId}). */
  keep?: { lock?: { release(): void } };
  /**
   * On a miss, begin decoding the archive for the unpack that follows
   * (`prefetchArchive`, `lib/archive/open.ts`); {@link runEnvironment} frees that
   * decode if the unpack does not take it.
   */
  prefetch?: boolean;
}

/**
 * The identity of an archive: cached by path, size, mtime and inode, else
 * read. With `waitMs`, a miss is resolved under the archive's identity lock
 * (`locks/source-<key>.lock`, waiting at most `waitMs`), so that concurrent
 * cold starts read the archive once. With `keep`, the process that read it
 * keeps that lock in `keep.lock` (to release once the environment is ready,
 * so that the single file's launcher, which waits on it, then finds the
 * environment without starting Deno).
 *
 * @throws {LockTimeoutError} (exit 3) when another process keeps that lock too long.
 */
export async function archiveId(
  layout: StoreLayout,
  path: string,
  info: Deno.FileInfo,
  options: ArchiveIdOptions = {},
): Promise<string> {
  const { waitMs, keep } = options;
  const cached = await cachedSourceId(layout, path, info);
  if (cached) {
    keep?.lock?.release();
    return cached;
  }
  if (keep?.lock) return await identify(layout, path, info, options); // the launcher's lock is held
  if (waitMs === undefined) return await identify(layout, path, info, options);
  // A burst of cold starts: one process reads the archive, the others wait for its cache entry
  // instead of each loading the archive engine and reading the archive too.
  let lock: HeldLock;
  try {
    lock = await acquireLock(
      `${layout.locks}/source-${(await sha256Hex(path)).slice(0, 32)}.lock`,
      {
        timeoutMs: waitMs,
        what: `the identity of ${path}`,
      },
    );
  } catch (err) {
    if (err instanceof LockTimeoutError || errnoOf(err) === undefined) throw err;
    return await identify(layout, path, info, options); // a read-only store: no lock to share
  }
  let kept = false;
  try {
    const id = await cachedSourceId(layout, path, info);
    if (id) return id;
    const read = await identify(layout, path, info, options);
    if (keep) {
      keep.lock = lock; // held until the environment is ready: the launcher waits on it
      kept = true;
    }
    return read;
  } finally {
    if (!kept) lock.release();
  }
}

/** Archives whose decode {@link archiveId} began ahead of their unpack. */
const begunEarly = new Set<string>();

/**
 * Frees the decode of `path` begun ahead of its unpack (`prefetch`) if the
 * unpack did not take it (the environment was there after all, or failed).
 */
async function dropAhead(path: string): Promise<void> {
  if (!begunEarly.delete(path)) return;
  await (await loadOpen()).dropPrefetchedArchive(path);
}

async function identify(
  layout: StoreLayout,
  path: string,
  info: Deno.FileInfo,
  { log = () => {}, prefetch }: ArchiveIdOptions,
): Promise<string> {
  // The decoder works on the first frames while the manifest is read and the lock taken.
  if (prefetch && (await loadOpen()).prefetchArchive(path, info)) begunEarly.add(path);
  const unpack = await loadUnpack();
  const manifest = await unpack.readArchiveManifest(path);
  const id = manifest ? manifest.id : `archive-${await unpack.fileDigest(path)}`;
  log(manifest ? `identity ${id} from the manifest` : `identity ${id} from the archive digest`);
  try {
    await cacheSourceId(layout, path, info, id);
  } catch (err) {
    if (errnoOf(err) === undefined) throw err; // a read-only or full store works, just slower
  }
  return id;
}

/**
 * The stat of `path` inside (or of) an environment given with `-e`, or null
 * when it is not there.
 *
 * @throws {PonchoError} (exit 2) when it cannot be read (permission denied).
 */
const statIn = (path: string): Deno.FileInfo | null =>
  statOrNullSync(path, { what: "cannot access" });

function isDir(path: string): boolean {
  return statIn(path)?.isDirectory === true;
}

function isFile(path: string): boolean {
  return statIn(path)?.isFile === true;
}

/**
 * Whether the directory `dir` looks like an environment: it has a
 * `conda-meta/` or a `bin/` directory, or a poncho manifest or state marker.
 */
export function looksLikeEnvironmentDir(dir: string): boolean {
  return isDir(`${dir}/conda-meta`) || isDir(`${dir}/bin`) ||
    isFile(`${dir}/.poncho/manifest.json`) || isFile(`${dir}/${MARKER_PATH}`);
}

/**
 * Whether an unpacked foreign archive brought an environment: a
 * `conda-meta/` directory, or a `bin/` with more than the `run_in_env`
 * launcher that unpacking adds.
 */
function unpackedSomething(root: string): boolean {
  if (isDir(`${root}/conda-meta`)) return true;
  if (!isDir(`${root}/bin`)) return false;
  for (const e of Deno.readDirSync(`${root}/bin`)) if (e.name !== "run_in_env") return true;
  return false;
}

/**
 * Runs `opts.argv` in the environment `opts.environment` (archive or directory).
 *
 * @throws {NotFoundError} (exit 2) when the environment does not exist, or is
 *   a directory that does not look like an environment.
 */
export async function runEnvironment(opts: RunEnvOptions): Promise<number> {
  const log = opts.debug
    ? (msg: string) => console.error(`poncho run: ${msg}`)
    : (_msg: string) => {};
  const source = absolutePath(opts.environment);
  const info = statIn(source);
  if (info === null) {
    throw new NotFoundError(`environment ${opts.environment} does not exist (-e/--environment)`, {
      path: source,
    });
  }
  const layout = storeLayout(opts.store);
  const identity: { lock?: { release(): void } } = { lock: launcherLock() };
  try {
    return await runSource(opts, source, info, layout, identity, log);
  } finally {
    identity.lock?.release();
    await dropAhead(source);
  }
}

/**
 * The archive identity lock that the single file's launcher holds for this
 * process on the descriptor it names in `PONCHO_SOURCE_LOCK_FD` (taken when
 * its fast path missed, so that a burst of cold starts waits for one), or
 * undefined. The variable is removed so that no command sees it.
 */
function launcherLock(): { release(): void } | undefined {
  const fd = Deno.env.get("PONCHO_SOURCE_LOCK_FD");
  if (fd === undefined) return undefined;
  Deno.env.delete("PONCHO_SOURCE_LOCK_FD");
  if (!/^[0-9]+$/.test(fd) || currentLauncher() === undefined) return undefined;
  return adoptInheritedLock(Number(fd)) ?? undefined;
}

/**
 * How to run in an environment given with `-e`: a poncho environment
 * directory used in place (`marked`), a plain conda prefix activated in place
 * (`plain`), or an environment to unpack (or copy) first, by its `id`.
 */
type Plan =
  | { kind: "marked"; id: string }
  | { kind: "plain" }
  | { kind: "unpack"; id: string; build: Builder };

async function runSource(
  opts: RunEnvOptions,
  source: string,
  info: Deno.FileInfo,
  layout: StoreLayout,
  identity: { lock?: { release(): void } },
  log: (msg: string) => void,
): Promise<number> {
  if (info.isDirectory) identity.lock?.release(); // only archives are resolved under it
  const plan = info.isDirectory
    ? await planDirectory(opts, source)
    : await planArchive(opts, source, info, layout, identity, log);
  if (plan.kind === "marked") {
    // An unpacked poncho environment: use it in place, under its shared lock.
    log(`using environment directory ${source} in place`);
    return await runIn(dirSlot(source, plan.id), noBuild(source), opts, source, log);
  }
  if (plan.kind === "plain") {
    // A plain conda prefix (valid where it is): activate it in place.
    log(`using plain environment directory ${source} in place`);
    // Nothing to hold or remove after the command: it may take this process.
    return await execInEnv({
      prefix: source,
      argv: opts.argv,
      activateScripts: findActivateScripts(source),
      replace: opts.replace,
    });
  }
  if (opts.tmp) {
    identity.lock?.release(); // a private unpack: nobody waits for it
    return await runInTemp(plan.build, source, plan.id, opts, log, layout);
  }
  const slot = opts.unpackTo !== undefined
    ? dirSlot(absolutePath(opts.unpackTo), plan.id)
    : storeSlot(layout, plan.id);
  const archiveInfo = slot.inStore && info.isFile ? info : undefined;
  return await runIn(slot, plan.build, opts, source, log, archiveInfo, identity);
}

/**
 * Refuses a directory that is no environment, or half of one.
 *
 * @throws {NotFoundError} (exit 2) naming the directory.
 */
function checkEnvironmentDir(opts: RunEnvOptions, source: string): void {
  if (!looksLikeEnvironmentDir(source)) {
    throw new NotFoundError(
      `environment directory ${opts.environment} is not an environment (no conda-meta/ or bin/ ` +
        `directory, no poncho manifest); give an environment archive or directory ` +
        `(-e/--environment)`,
      { path: source },
    );
  }
  if (isFile(`${source}/.poncho/incomplete`)) {
    throw new NotFoundError(
      `environment directory ${opts.environment} is half-installed (a poncho create --prefix ` +
        `did not finish); create it again (-e/--environment)`,
      { path: source },
    );
  }
}

/**
 * Makes the environment at `source` (a directory or an archive) into `root`
 * for `prefix`: member by member, stoppable by a signal, for `--tmp`; else
 * the whole tree at once (the directory copied, the archive unpacked).
 */
async function materialize(
  opts: RunEnvOptions,
  unpack: UnpackModule,
  source: string,
  kind: "dir" | "archive",
  root: string,
  prefix: string,
): Promise<BuildResult> {
  if (opts.tmp) {
    const members = kind === "dir"
      ? unpack.directoryMembers(source)
      : unpack.archiveMembers(source);
    return toBuild(await unpack.unpackMembers(interruptible(members), root, prefix, source));
  }
  return toBuild(
    kind === "dir"
      ? await unpack.copyEnvDir(source, root, prefix)
      : await unpack.unpackArchive(source, root, prefix),
  );
}

/** The plan for an environment directory (see {@link Plan}). */
async function planDirectory(opts: RunEnvOptions, source: string): Promise<Plan> {
  checkEnvironmentDir(opts, source);
  const inPlace = !opts.tmp && opts.unpackTo === undefined;
  const ready = readMarker(source);
  if (ready && inPlace) return { kind: "marked", id: ready.id };
  const unpack = await loadUnpack();
  const manifest = await unpack.readDirManifest(source);
  if (!manifest && inPlace) return { kind: "plain" };
  const id = manifest?.id ?? `dir-${(await sha256Hex(source)).slice(0, 40)}`;
  const build: Builder = (root, prefix) => materialize(opts, unpack, source, "dir", root, prefix);
  return { kind: "unpack", id, build };
}

/** The plan for an environment archive: its identity and how to unpack it. */
async function planArchive(
  opts: RunEnvOptions,
  source: string,
  info: Deno.FileInfo,
  layout: StoreLayout,
  identity: { lock?: { release(): void } },
  log: (msg: string) => void,
): Promise<Plan> {
  const id = await archiveId(layout, source, info, {
    log,
    waitMs: opts.waitMs,
    keep: identity,
    prefetch: true,
  });
  const build: Builder = async (root, prefix) => {
    const unpack = await loadUnpack();
    log(`unpacking ${source} for ${prefix}`);
    const built = await materialize(opts, unpack, source, "archive", root, prefix);
    await checkUnpacked(opts, source, id, root, unpack);
    return built;
  };
  return { kind: "unpack", id, build };
}

/**
 * Checks what an archive unpacked into `root`: a plain `.tar` (no checksum)
 * against its manifest's digests, and an archive without a manifest for an
 * environment in it (an empty tar is none).
 *
 * @throws {CorruptError} (exit 3) when it fails either check.
 */
async function checkUnpacked(
  opts: RunEnvOptions,
  source: string,
  id: string,
  root: string,
  unpack: UnpackModule,
): Promise<void> {
  if (/\.tar$/i.test(source)) {
    const { verifyDigests } = await load<typeof import("./env/verify.ts")>("./env/verify.ts");
    await verifyDigests(root, await unpack.readArchiveManifest(source), opts.environment);
  }
  if (id.startsWith("archive-") && !unpackedSomething(root)) {
    throw new CorruptError(
      `environment archive ${opts.environment} has no poncho manifest and no environment in it ` +
        `(no conda-meta/ or bin/); give an archive made by poncho create or conda-pack`,
      { path: source },
    );
  }
}

/**
 * Passes `members` through, letting the event loop turn (a zero timer) at
 * least every 100 ms: an unpack whose data is already in memory otherwise runs
 * as one long chain of promise jobs, and `--tmp`'s signal listeners would
 * only fire once it is over.
 */
async function* interruptible<T>(members: AsyncIterable<T>): AsyncGenerator<T> {
  let last = performance.now();
  for await (const member of members) {
    yield member;
    if (performance.now() - last >= 100) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      last = performance.now();
    }
  }
}

/**
 * `--tmp`: unpacks into a private temp dir, runs the command there and
 * removes the dir after the command has exited. A SIGINT, SIGTERM, SIGHUP or
 * SIGQUIT arriving before the command starts (during the unpack) removes the
 * dir at once and exits with 128+N; once the command runs, `execInEnv`
 * forwards signals to it and the dir is removed after it exits.
 */
async function runInTemp(
  build: Builder,
  source: string,
  id: string,
  opts: RunEnvOptions,
  log: (msg: string) => void,
  layout: StoreLayout,
): Promise<number> {
  let dir: string | undefined;
  let record: ExternalRecord | undefined;
  let unpacking = true;
  const listeners = FORWARDED_SIGNALS.map((signal) => {
    const handler = () => {
      if (!unpacking) return; // the command runs: execInEnv forwards the signal to it
      // Synchronous, so no unpacking code runs (and writes) while the dir is removed.
      if (dir !== undefined) {
        try {
          deleteTreeSync(dir);
          log(`${signal} during the unpack: removed ${dir}`);
        } catch (err) {
          console.error(`poncho run: cannot remove ${dir}: ${(err as Error).message}`);
        }
      }
      Deno.exit(signalExitCode(signal));
    };
    Deno.addSignalListener(signal, handler);
    return { signal, handler };
  });
  try {
    // Synchronous: a signal cannot arrive between the dir's creation and `dir` being set.
    dir = Deno.makeTempDirSync({ prefix: "poncho-run-" });
    // Recorded in the store, so that gc removes it if this process is killed (kill -9).
    record = recordExternal(layout, dir);
    const prefix = `${dir}/env`;
    try {
      await Deno.mkdir(prefix);
      log(`unpacking into temp dir ${prefix}`);
      let marker;
      try {
        marker = await unpackPrivate(prefix, build, source, id);
      } finally {
        await dropAhead(source);
      }
      // No await between here and execInEnv's own signal listeners: no signal is lost.
      unpacking = false;
      return await execInEnv({
        prefix,
        argv: opts.argv,
        activateScripts: marker.activateScripts,
      });
    } finally {
      unpacking = false;
      await deleteTree(dir); // only after the command has exited
      record.done();
    }
  } finally {
    for (const { signal, handler } of listeners) Deno.removeSignalListener(signal, handler);
  }
}

function noBuild(dir: string): Builder {
  return () => {
    throw new NotFoundError(`environment directory ${dir} is no longer complete`, { path: dir });
  };
}

async function runIn(
  slot: EnvSlot,
  build: Builder,
  opts: RunEnvOptions,
  source: string,
  log: (msg: string) => void,
  archiveInfo?: Deno.FileInfo,
  identity?: { lock?: { release(): void } },
): Promise<number> {
  let opened;
  try {
    opened = await openEnv(slot, build, {
      timeoutMs: opts.waitMs,
      source: opts.sourceLabel ?? source,
    });
  } catch (err) {
    // A store that is a file, read-only or full: say so, naming the store, not a lock file.
    if (slot.layout && errnoOf(err)) await ensureStore(slot.layout.root);
    throw fsError(err, slot.path, { what: "cannot unpack the environment into" });
  } finally {
    await dropAhead(source); // the environment was there after all: the decode is not needed
  }
  // The single file's launcher finds this environment without Deno next time.
  if (archiveInfo && slot.layout) {
    await writeWarmRecord(slot.layout, {
      archive: source,
      info: archiveInfo,
      id: slot.id,
      envPath: slot.path,
      lockPath: slot.lockPath,
    });
  }
  identity?.lock?.release(); // before the command: waiters must not wait for it
  // The command inherits a shared lock of its own: a killed `poncho run` leaves it locked.
  const inherited = inheritableLock(slot.lockPath, false);
  try {
    log(`${opened.unpacked ? "unpacked" : "found"} environment at ${slot.path}`);
    if (!inherited) log("the command does not inherit the environment's lock (no FFI)");
    // With the lock inherited, nothing is left to do after the command: it may take this process.
    return await execInEnv({
      prefix: slot.path,
      argv: opts.argv,
      activateScripts: opened.marker.activateScripts,
      replace: opts.replace === true && inherited !== null,
    });
  } finally {
    inherited?.release();
    opened.lock.release();
  }
}

/**
 * Where the environment of the archive `archive` lives in the store (or
 * will, once unpacked), and whether it is unpacked there.
 *
 * @throws {NotFoundError} (exit 2) when the archive does not exist.
 * @throws {UsageError} (exit 1) when it is a directory.
 */
export async function archiveEnvPath(
  layout: StoreLayout,
  archive: string,
): Promise<{ path: string; ready: boolean }> {
  const source = absolutePath(archive);
  const info = statIn(source);
  if (info === null) throw new NotFoundError(`archive ${archive} does not exist`);
  if (info.isDirectory) throw new UsageError(`${archive} is a directory; give an archive`);
  const slot = storeSlot(layout, await archiveId(layout, source, info));
  return { path: slot.path, ready: readMarker(slot.path, slot.id) !== undefined };
}
