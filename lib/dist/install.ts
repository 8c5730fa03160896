/**
 * Installing the single file: a copy of it as `<dir>/poncho`, and the
 * CCTools names as symlinks to a file (the launcher dispatches on the name
 * it is started under). Every file is written beside its final name and
 * renamed into place, so a failed install leaves the old one working.
 *
 * @module
 */

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
    const tmp = `${path}.tmp-${Deno.pid}`;
    await Deno.remove(tmp).catch(() => {});
    await Deno.symlink(target, tmp);
    await Deno.rename(tmp, path);
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
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    await Deno.copyFile(file, tmp);
    await Deno.chmod(tmp, 0o755);
    await Deno.rename(tmp, path);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
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
