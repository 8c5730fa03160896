/**
 * The on-disk layout of a Poncho store. Everything lives under a versioned
 * root (`<store>/v1/`) so that a future layout can coexist with this one,
 * and each bucket has its own format version ({@linkcode BUCKET_FORMATS}):
 * format 1 of a bucket is the bare name (`pkgs/`), format N > 1 is
 * `<name>.v<N>/` (`pkgs.v2/`), so that changing one bucket's format starts
 * that bucket afresh without invalidating the others (gc collects the old
 * one as it ages). The root holds a `CACHEDIR.TAG`.
 *
 * ```
 * <store>/CACHEDIR.TAG
 * <store>/v1/
 *   pkgs/<sha256>/            extracted conda packages (content-addressed)
 *   downloads/<sha256>.<ext>  verified package archives
 *   repodata/<key>.meta.json  per channel subdir: form, ETag/Last-Modified, its per-name index
 *                             (<key>-<id>.idx/) or shard index; shards/<sha256>.json shards
 *   archives/<spec-hash>.<ext> environment archives built by `create` (cache)
 *   envs/<env-id>/            unpacked, relocated, ready environments
 *   locks/<name>.lock         flock files (one per env, package, archive)
 *   tmp/                      temp dirs, renamed into place when complete
 *   index/<env-id>.json       what created an env and when it was last used
 *   runtime/<payload-sha256>/ the unpacked payload of the single file dist/poncho (written by
 *                             its sh launcher, lib/dist/launcher.sh, which resolves the store
 *                             root exactly as {@link defaultStoreRoot} does)
 * ```
 *
 * Writers always build inside `tmp/` (same filesystem) and `rename` the
 * result into place, so a reader never sees a half-written entry.
 *
 * @module
 */

// No `node:` imports here: this module is on the warm `poncho run` path, and
// loading node:path and node:os alone costs a Deno process ~5 ms at startup.

import { fsError, UsageError } from "../lib/errors.ts";
import { joinPath } from "../lib/fs/path.ts";

/**
 * The user's home directory: `$HOME`, else the password database entry
 * (through Node's `os.homedir()`, reached only in that rare case so that
 * the common path does not load `node:os`).
 *
 * @throws {UsageError} when `HOME` is set but empty or relative (a store
 *   relative to the current directory would move with every `cd`).
 */
function homeDir(env: (name: string) => string | undefined): string {
  const home = env("HOME");
  if (home !== undefined) {
    if (!home.startsWith("/")) {
      throw new UsageError(
        `HOME is ${home === "" ? "empty" : `'${home}', not an absolute path`}; the store cannot ` +
          `default to ~/.cache/poncho: set HOME, or PONCHO_STORE or --store to an absolute directory`,
      );
    }
    return home;
  }
  const proc = (globalThis as { process?: { getBuiltinModule(id: string): unknown } }).process;
  const os = proc?.getBuiltinModule("node:os") as { homedir(): string } | undefined;
  let dir: string | undefined;
  let cause: unknown;
  try {
    dir = os?.homedir();
  } catch (err) {
    cause = err; // no passwd entry either: reported below, with this as the cause
  }
  if (!dir?.startsWith("/")) {
    throw new UsageError(
      "HOME is not set and this user has no home directory; set PONCHO_STORE",
      cause === undefined ? undefined : { cause },
    );
  }
  return dir;
}

/** Makes `path` absolute against the current directory (no file system access but `cwd`). */
export function absoluteStorePath(path: string, cwd: () => string = Deno.cwd): string {
  return path.startsWith("/") ? joinPath(path) : joinPath(cwd(), path);
}

/** The layout version directory name. */
export const LAYOUT_VERSION = "v1";

/** Paths of one store. */
export interface StoreLayout {
  /** The store root given by the user (without the version directory). */
  root: string;
  /** `<root>/v1`. */
  base: string;
  /** Extracted conda packages keyed by sha256. */
  pkgs: string;
  /** Downloaded, verified package archives. */
  downloads: string;
  /** Cached repodata files. */
  repodata: string;
  /** Cached environment archives keyed by spec hash. */
  archives: string;
  /** Unpacked environments keyed by environment id. */
  envs: string;
  /** Lock files. */
  locks: string;
  /** Temp dirs for atomic writes. */
  tmp: string;
  /** Per-environment index records. */
  index: string;
  /** Unpacked runtimes of the single file, keyed by payload sha256. */
  runtime: string;
}

/**
 * The default store root, always absolute: `$PONCHO_STORE` (a relative one
 * taken against the current directory, once), else `$XDG_CACHE_HOME/poncho`
 * (ignored unless absolute, as the XDG specification says), else
 * `~/.cache/poncho`.
 *
 * @throws {UsageError} when `HOME` is needed but empty, relative or unknown.
 */
export function defaultStoreRoot(
  env: (name: string) => string | undefined = Deno.env.get,
  cwd: () => string = Deno.cwd,
): string {
  const explicit = env("PONCHO_STORE");
  if (explicit) return absoluteStorePath(explicit, cwd);
  const xdg = env("XDG_CACHE_HOME");
  if (xdg?.startsWith("/")) return joinPath(xdg, "poncho");
  return joinPath(homeDir(env), ".cache", "poncho");
}

/**
 * The store root a command uses: `given` (`--store`) made absolute against
 * the current directory, else {@linkcode defaultStoreRoot}. Call it once,
 * at the start: every later path derives from the absolute root, so a
 * relocated environment never gets a relative prefix.
 */
export function resolveStoreRoot(given?: string): string {
  if (given === undefined) return defaultStoreRoot();
  if (given === "") throw new UsageError("--store is empty; give a directory");
  return absoluteStorePath(given);
}

/**
 * Computes the layout of the store at `root` (nothing is created). A
 * relative root is made absolute against the current directory.
 */
export function storeLayout(root: string = defaultStoreRoot()): StoreLayout {
  root = absoluteStorePath(root);
  const base = joinPath(root, LAYOUT_VERSION);
  const bucket = (name: keyof typeof BUCKET_FORMATS) => joinPath(base, bucketDirName(name));
  return {
    root,
    base,
    pkgs: bucket("pkgs"),
    downloads: bucket("downloads"),
    repodata: bucket("repodata"),
    archives: bucket("archives"),
    envs: bucket("envs"),
    locks: bucket("locks"),
    tmp: bucket("tmp"),
    index: bucket("index"),
    runtime: bucket("runtime"),
  };
}

/**
 * The format version of each bucket. Bump one when its on-disk format
 * changes incompatibly: the bucket moves to `<name>.v<N>/` and only it
 * starts afresh.
 */
export const BUCKET_FORMATS = {
  /** Extracted packages: `<sha256>/` trees as the package archive holds them. */
  pkgs: 1,
  /** Verified package archives: `<sha256><ext>`. */
  downloads: 1,
  /** Decoded repodata `<key>.json` with `<key>.meta.json`. */
  repodata: 1,
  /** Environment archives `<spec-hash><ext>` (manifest format in `lib/env/manifest.ts`). */
  archives: 1,
  /** Unpacked environments `<id>/` with `.poncho/ready.json` markers. */
  envs: 1,
  /** flock files and their `.holder` sidecars. */
  locks: 1,
  /** Per-process temp dirs and build trees. */
  tmp: 1,
  /** Index records: `<id>.json`, `sources/`, `archives/`. */
  index: 1,
  /**
   * Unpacked payloads of the single file `dist/poncho`: `<payload sha256>/`. Its sh launcher
   * (`lib/dist/launcher.sh`) writes and reads `v1/runtime/` itself: bump both together.
   */
  runtime: 1,
} as const;

/** The directory name of bucket `name` at its current format (see {@linkcode BUCKET_FORMATS}). */
export function bucketDirName(name: keyof typeof BUCKET_FORMATS): string {
  const v: number = BUCKET_FORMATS[name];
  return v === 1 ? name : `${name}.v${v}`;
}

/**
 * Creates the store's directories if they do not exist, checks that the
 * store is writable (a probe file in `tmp/`) and returns the layout.
 *
 * @throws {PonchoError} (exit 3: `permission`, `no-space` or `build`) naming
 *   the store and the path that failed, when it is a file, read-only, not
 *   ours or full.
 */
export async function ensureStore(root: string = defaultStoreRoot()): Promise<StoreLayout> {
  const layout = storeLayout(root);
  let at = layout.root;
  try {
    await makeStoreDirs(layout, (dir) => at = dir);
    at = `${layout.root}/CACHEDIR.TAG`;
    await writeCacheDirTag(at);
    at = layout.tmp;
    const probe = await Deno.makeTempFile({ dir: layout.tmp, prefix: "probe-" });
    at = probe;
    await Deno.remove(probe);
  } catch (err) {
    const mapped = fsError(err, at, {
      what: `cannot write the store ${layout.root} at`,
      role: "store",
    });
    if (mapped instanceof Error && mapped !== err) {
      mapped.message += "; or choose another store with --store or PONCHO_STORE";
    }
    throw mapped;
  }
  return layout;
}

/** The tag that tells backup tools the store is a cache (https://bford.info/cachedir/). */
export const CACHEDIR_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n" +
  "# This file is a cache directory tag created by poncho.\n" +
  "# For information about cache directory tags, see https://bford.info/cachedir/\n";

async function writeCacheDirTag(path: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, CACHEDIR_TAG, { createNew: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
  }
}

async function makeStoreDirs(layout: StoreLayout, at: (dir: string) => void): Promise<void> {
  for (
    const dir of [
      layout.pkgs,
      layout.downloads,
      layout.repodata,
      layout.archives,
      layout.envs,
      layout.locks,
      layout.tmp,
      layout.index,
    ]
  ) {
    at(dir);
    await Deno.mkdir(dir, { recursive: true });
  }
}
