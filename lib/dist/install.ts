/**
 * Installing the single file: a copy of it as `<dir>/poncho`, and the
 * CCTools names as symlinks to a file (the launcher dispatches on the name
 * it is started under). Every file is written beside its final name and
 * renamed into place, so a failed install leaves the old one working.
 *
 * @module
 */

import { replaceFile } from "../fs/atomic.ts";

/**
 * Makes `dir/name` a symlink to `target` for every name (replacing what is
 * there); returns the paths written.
 */
export async function linkNames(
  dir: string,
  target: string,
  names: readonly string[],
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const name of names) {
    const path = `${dir}/${name}`;
    await replaceFile(path, (tmp) => Deno.symlink(target, tmp));
    written.push(path);
  }
  return written;
}

/**
 * Copies the single file `file` to `dir/poncho` (mode 0755) and links
 * `names` to it (relative links, so `dir` can move); returns the paths
 * written, `dir/poncho` first.
 */
export async function installSingleFile(
  file: string,
  dir: string,
  names: readonly string[],
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/poncho`;
  await replaceFile(path, (tmp) => Deno.copyFile(file, tmp), { mode: 0o755 });
  return [path, ...await linkNames(dir, "poncho", names)];
}

/** Whether `dir` is one of the directories of `$PATH` (compared as given and resolved). */
export async function onPath(dir: string, path = Deno.env.get("PATH") ?? ""): Promise<boolean> {
  // A PATH entry that does not resolve (missing, unreadable) is compared as written.
  const real = (p: string) => Deno.realPath(p).catch(() => p);
  const want = await real(dir);
  for (const p of path.split(":")) {
    if (p !== "" && (p === dir || await real(p) === want)) return true;
  }
  return false;
}
