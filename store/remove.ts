/**
 * Removing directory trees safely: first renamed out of the way (so the
 * path is free at once and a crash never leaves a half-deleted tree under a
 * name that could be used), then deleted, making read-only directories
 * writable when needed; and leaving in place what another user of a shared
 * store owns ({@link unlessDenied}).
 *
 * @module
 */

import { isDenied } from "../lib/errors.ts";

async function makeWritable(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return; // removed meanwhile
    throw err;
  }
  if (!info.isDirectory) return;
  await Deno.chmod(path, ((info.mode ?? 0o700) & 0o7777) | 0o700);
  for await (const entry of Deno.readDir(path)) {
    if (entry.isDirectory) await makeWritable(`${path}/${entry.name}`);
  }
}

/**
 * Runs `fn`, which removes `path` (or something in it); when it fails
 * because this user may not (another user's, in a shared store: see
 * `isDenied`), records `path` in `denied` and returns undefined instead.
 * Without `denied`, every failure is thrown.
 */
export async function unlessDenied<T>(
  denied: string[] | undefined,
  path: string,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (!denied || !isDenied(err)) throw err;
    denied.push(path);
    return undefined;
  }
}

/** Removes the file, link or empty directory at `path`; nothing if it is missing. */
export async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Deletes the tree at `path` (nothing if missing), even with read-only directories in it. */
export async function deleteTree(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    if (!(err instanceof Deno.errors.PermissionDenied)) throw err;
    await makeWritable(path);
    await Deno.remove(path, { recursive: true });
  }
}

/**
 * Renames `path` to `trash` (same filesystem) and deletes it there.
 * Returns false when `path` did not exist.
 */
export async function discardTree(path: string, trash: string): Promise<boolean> {
  if (!await moveAside(path, trash)) return false;
  await deleteTree(trash);
  return true;
}

/** Renames `path` to `trash` (same filesystem); false when `path` did not exist. */
export async function moveAside(path: string, trash: string): Promise<boolean> {
  try {
    await Deno.rename(path, trash);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

function makeWritableSync(path: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return; // removed meanwhile
    throw err;
  }
  if (!info.isDirectory) return;
  Deno.chmodSync(path, ((info.mode ?? 0o700) & 0o7777) | 0o700);
  for (const entry of Deno.readDirSync(path)) {
    if (entry.isDirectory) makeWritableSync(`${path}/${entry.name}`);
  }
}

/**
 * Deletes the tree at `path` synchronously (nothing if missing), even with
 * read-only directories in it: for signal handlers that must finish the
 * removal before anything else in the process runs.
 */
export function deleteTreeSync(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    if (!(err instanceof Deno.errors.PermissionDenied)) throw err;
    makeWritableSync(path);
    Deno.removeSync(path, { recursive: true });
  }
}
