/**
 * Reading store directories for listing and collection: entries of a
 * directory that may not exist yet, the `lstat` of a path that may have
 * been removed meanwhile, and the size of a tree. Only "it is not there"
 * (`ENOENT`) means empty or zero; any other error (permission, a file where
 * a directory belongs) is thrown, so that a store that cannot be read is
 * reported, never taken for an empty one.
 *
 * @module
 */

/** The entries of `dir`, or none when it does not exist. */
export async function dirEntries(dir: string): Promise<Deno.DirEntry[]> {
  try {
    return await Array.fromAsync(Deno.readDir(dir));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

/** The names in `dir`, sorted, or none when it does not exist. */
export async function dirNames(dir: string): Promise<string[]> {
  return (await dirEntries(dir)).map((e) => e.name).sort();
}

/** The `lstat` of `path`, or undefined when it does not exist (removed meanwhile). */
export async function lstatIfExists(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/**
 * Bytes of regular files under `path` (0 when missing; a part removed during
 * the walk counts 0; hardlinks counted once per `seen`).
 */
export async function treeSize(path: string, seen = new Set<string>()): Promise<number> {
  const info = await lstatIfExists(path);
  if (info === undefined) return 0;
  if (info.isFile) {
    const key = `${info.dev}:${info.ino}`;
    if ((info.nlink ?? 1) > 1) {
      if (seen.has(key)) return 0;
      seen.add(key);
    }
    return info.size;
  }
  if (!info.isDirectory) return 0;
  let total = 0;
  for (const e of await dirEntries(path)) total += await treeSize(`${path}/${e.name}`, seen);
  return total;
}
