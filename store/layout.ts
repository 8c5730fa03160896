/**
 * The on-disk layout of a Poncho store. Everything lives under a versioned
 * root (`<store>/v1/`) so that a future layout can coexist with this one.
 *
 * ```
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
 * ```
 *
 * Writers always build inside `tmp/` (same filesystem) and `rename` the
 * result into place, so a reader never sees a half-written entry.
 *
 * @module
 */

// No `node:` imports here: this module is on the warm `poncho run` path, and
// loading node:path and node:os alone costs a Deno process ~5 ms at startup.

/**
 * Joins POSIX path segments and normalizes the result exactly as Node's
 * `path.posix.join` does (empty segments skipped, `.` and `..` resolved,
 * repeated slashes collapsed, a trailing slash kept, `.` for an empty path).
 */
export function joinPath(...segments: string[]): string {
  const joined = segments.filter((s) => s !== "").join("/");
  if (joined === "") return ".";
  const absolute = joined.startsWith("/");
  const out: string[] = [];
  for (const part of joined.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else out.push(part);
  }
  let path = out.join("/");
  if (path === "" && !absolute) path = ".";
  if (path !== "" && joined.endsWith("/")) path += "/";
  return absolute ? `/${path}` : path;
}

/**
 * The user's home directory: `$HOME`, else the password database entry
 * (through Node's `os.homedir()`, reached only in that rare case so that
 * the common path does not load `node:os`).
 */
function homeDir(env: (name: string) => string | undefined): string {
  const home = env("HOME");
  if (home !== undefined) return home;
  const proc = (globalThis as { process?: { getBuiltinModule(id: string): unknown } }).process;
  const os = proc?.getBuiltinModule("node:os") as { homedir(): string } | undefined;
  return os?.homedir() ?? "/";
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
}

/**
 * The default store root: `$PONCHO_STORE`, else `$XDG_CACHE_HOME/poncho`,
 * else `~/.cache/poncho`.
 */
export function defaultStoreRoot(env: (name: string) => string | undefined = Deno.env.get): string {
  const explicit = env("PONCHO_STORE");
  if (explicit) return explicit;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return joinPath(xdg, "poncho");
  return joinPath(homeDir(env), ".cache", "poncho");
}

/** Computes the layout of the store at `root` (nothing is created). */
export function storeLayout(root: string = defaultStoreRoot()): StoreLayout {
  const base = joinPath(root, LAYOUT_VERSION);
  return {
    root,
    base,
    pkgs: joinPath(base, "pkgs"),
    downloads: joinPath(base, "downloads"),
    repodata: joinPath(base, "repodata"),
    archives: joinPath(base, "archives"),
    envs: joinPath(base, "envs"),
    locks: joinPath(base, "locks"),
    tmp: joinPath(base, "tmp"),
    index: joinPath(base, "index"),
  };
}

/** Creates the store's directories if they do not exist and returns the layout. */
export async function ensureStore(root: string = defaultStoreRoot()): Promise<StoreLayout> {
  const layout = storeLayout(root);
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
    await Deno.mkdir(dir, { recursive: true });
  }
  return layout;
}
