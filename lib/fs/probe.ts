/**
 * Reads and probes of paths that may legitimately be absent (project files,
 * installed metadata, caches, candidate modules): an absent path is an
 * answer (`null`), any other failure is an error naming the path. Use these
 * instead of a check-then-act `exists()` or a blanket `catch`.
 *
 * The one rule: a path is **absent** when it, or one of the directories on
 * the way to it, does not exist (`ENOENT`, or `ENOTDIR` for a path under a
 * regular file). Everything else (`EACCES`, `EISDIR` where a file is read,
 * `ELOOP`, I/O errors) is not absence: it is thrown as the error kind of
 * `lib/errors.ts` for a named input ({@linkcode fsError} with role `input`:
 * permission denied is a `permission` error, exit 2).
 *
 * @module
 */

import { fsError } from "../errors.ts";

/** Whether `err` says the path (or a directory on the way to it) does not exist. */
export function isAbsent(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory;
}

/** Returns `null` when `op` fails because `path` is absent; maps any other failure. */
async function ifPresent<T>(path: string, what: string, op: () => Promise<T>): Promise<T | null> {
  try {
    return await op();
  } catch (err) {
    if (isAbsent(err)) return null;
    throw fsError(err, path, { what, role: "input" });
  }
}

/** `Deno.stat` (links followed), or `null` when the path is absent. */
export function statIfPresent(path: string): Promise<Deno.FileInfo | null> {
  return ifPresent(path, "cannot inspect", () => Deno.stat(path));
}

/** `Deno.lstat` (links not followed), or `null` when the path is absent. */
export function lstatIfPresent(path: string): Promise<Deno.FileInfo | null> {
  return ifPresent(path, "cannot inspect", () => Deno.lstat(path));
}

/** A file's text, or `null` when it is absent (a directory there is an error). */
export function readTextIfPresent(path: string): Promise<string | null> {
  return ifPresent(path, "cannot read", () => Deno.readTextFile(path));
}

/** A directory's entries sorted by name, or `null` when it is absent. */
export function listDirIfPresent(path: string): Promise<Deno.DirEntry[] | null> {
  return ifPresent(path, "cannot list", async () => {
    const out: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(path)) out.push(e);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  });
}

/** `Deno.statSync` (links followed), or `null` when the path is absent. */
export function statSyncIfPresent(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch (err) {
    if (isAbsent(err)) return null;
    throw fsError(err, path, { what: "cannot inspect", role: "input" });
  }
}
