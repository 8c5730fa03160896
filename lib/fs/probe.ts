/**
 * Looking at paths that may legitimately be absent (project files, installed
 * metadata, caches, candidate modules, entries of the store that another
 * process may remove): an absent path is an answer (`null`), any other
 * failure is an error naming the path. Use these instead of a check-then-act
 * `exists()` or a blanket `catch`: ask once, act on the answer.
 *
 * The one rule ({@linkcode isAbsent}): a path is **absent** when it, or one
 * of the directories on the way to it, does not exist (`ENOENT`, or
 * `ENOTDIR` for a path under a regular file). Everything else (`EACCES`,
 * `EISDIR` where a file is read, `ELOOP`, I/O errors) is not absence: it is
 * thrown as the error kind {@linkcode fsError} maps it to for the
 * {@linkcode ProbeOptions.role} given (by default a named `input`: permission
 * denied is a `permission` error, exit 2).
 *
 * @module
 */

import { fsError, type FsErrorContext } from "../errors.ts";

/** What a probe is doing, for the error it throws when the path is there but fails. */
export interface ProbeOptions extends FsErrorContext {
  /**
   * What the path is to the command (see {@linkcode FsErrorContext.role});
   * `input` by default, since a probe mostly reads what the command was
   * given or looks for. Say `store` for the store's own files.
   */
  role?: FsErrorContext["role"];
  /** For the stats: follow a symbolic link at the path (`stat`, the default) or not (`lstat`). */
  follow?: boolean;
}

/** Whether `err` says the path (or a directory on the way to it) does not exist. */
export function isAbsent(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory;
}

/** The error a probe throws for a failure that is not absence. */
function failure(err: unknown, path: string, opts: ProbeOptions, what: string): unknown {
  return fsError(err, path, { what: opts.what ?? what, role: opts.role ?? "input" });
}

/** Returns `null` when `op` fails because `path` is absent; maps any other failure. */
async function ifPresent<T>(
  path: string,
  opts: ProbeOptions,
  what: string,
  op: () => Promise<T>,
): Promise<T | null> {
  try {
    return await op();
  } catch (err) {
    if (isAbsent(err)) return null;
    throw failure(err, path, opts, what);
  }
}

/**
 * `Deno.stat` of `path` (or `Deno.lstat` with `follow: false`), or `null`
 * when it is absent.
 *
 * @throws {PonchoError} of the kind `fsError` gives for any other failure.
 */
export function statOrNull(path: string, opts: ProbeOptions = {}): Promise<Deno.FileInfo | null> {
  return ifPresent(
    path,
    opts,
    "cannot inspect",
    () => opts.follow === false ? Deno.lstat(path) : Deno.stat(path),
  );
}

/** The synchronous {@linkcode statOrNull}. */
export function statOrNullSync(path: string, opts: ProbeOptions = {}): Deno.FileInfo | null {
  try {
    return opts.follow === false ? Deno.lstatSync(path) : Deno.statSync(path);
  } catch (err) {
    if (isAbsent(err)) return null;
    throw failure(err, path, opts, "cannot inspect");
  }
}

/** A file's text, or `null` when it is absent (a directory there is an error). */
export function readTextOrNull(path: string, opts: ProbeOptions = {}): Promise<string | null> {
  return ifPresent(path, opts, "cannot read", () => Deno.readTextFile(path));
}

/** A directory's entries sorted by name, or `null` when it is absent. */
export function listDirOrNull(
  path: string,
  opts: ProbeOptions = {},
): Promise<Deno.DirEntry[] | null> {
  return ifPresent(path, opts, "cannot list", async () => {
    const out = await Array.fromAsync(Deno.readDir(path));
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  });
}
