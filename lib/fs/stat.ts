/**
 * Looking at a path that may not be there, without mistaking other failures
 * for absence: nothing at the path (`ENOENT`, or a component that is not a
 * directory, `ENOTDIR`) gives `null`; anything else (a permission, a link
 * loop, an I/O error) is thrown as the error kind `fsError` maps it to,
 * naming the path. For direct attempts: ask once, act on the answer, never
 * check first and then act on a stale answer.
 *
 * @module
 */

import { fsError, type FsErrorContext } from "../errors.ts";

/** How {@link statOrNull} looks: the error's context, and whether to follow a final link. */
export interface StatOptions extends FsErrorContext {
  /** Follow a symbolic link at the path (`stat`, the default) or not (`lstat`). */
  follow?: boolean;
}

/** Whether `err` says there is nothing at the path. */
export function isAbsent(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory;
}

/**
 * `Deno.stat` (or `lstat` with `follow: false`) of `path`; `null` when
 * nothing is there.
 *
 * @throws {PonchoError} of the kind `fsError` gives for any other failure.
 */
export async function statOrNull(
  path: string,
  opts: StatOptions = {},
): Promise<Deno.FileInfo | null> {
  try {
    return opts.follow === false ? await Deno.lstat(path) : await Deno.stat(path);
  } catch (err) {
    if (isAbsent(err)) return null;
    throw fsError(err, path, opts);
  }
}

/** The synchronous {@link statOrNull}. */
export function statOrNullSync(path: string, opts: StatOptions = {}): Deno.FileInfo | null {
  try {
    return opts.follow === false ? Deno.lstatSync(path) : Deno.statSync(path);
  } catch (err) {
    if (isAbsent(err)) return null;
    throw fsError(err, path, opts);
  }
}
