/**
 * An environment directory read as the members of an archive of it, for the extractor: the
 * manifest first, then every entry sorted, depth first, with each file's bytes read only when the
 * extractor asks (hardlinked files are copied; the source's ready marker is left out).
 *
 * @module
 */

import { isAbsent } from "../fs/probe.ts";
import type { TarEntryType } from "../archive/tar_header.ts";
import { readFileChunks } from "../archive/file_chunks.ts";
import type { Member } from "../archive/extract.ts";
import { MANIFEST_PATH } from "./manifest.ts";
import { MARKER_PATH } from "../../store/marker.ts";

const noChunks = () => (async function* () {})();
const noBytes = () => Promise.resolve(new Uint8Array(0));

/** A member for the entry at `rel` of `dir` (not a regular file), from its `lstat`. */
async function nonFileMember(dir: string, rel: string, info: Deno.FileInfo): Promise<Member> {
  const type: TarEntryType = info.isSymlink
    ? "symlink"
    : info.isDirectory
    ? "directory"
    : info.isFifo
    ? "fifo"
    : info.isSocket
    ? "socket"
    : info.isCharDevice
    ? "chardev"
    : "blockdev";
  return {
    path: rel,
    type,
    mode: (info.mode ?? 0o755) & 0o7777,
    mtime: (info.mtime?.getTime() ?? 0) / 1000,
    size: 0,
    linkname: info.isSymlink ? await Deno.readLink(`${dir}/${rel}`) : "",
    chunks: noChunks,
    bytes: noBytes,
  };
}

/** A member for the regular file at `rel` of `dir`, read when the extractor asks. */
function fileMember(dir: string, rel: string, info: Deno.FileInfo): Member {
  return {
    path: rel,
    type: "file",
    mode: (info.mode ?? 0o644) & 0o7777,
    mtime: (info.mtime?.getTime() ?? 0) / 1000,
    size: info.size,
    linkname: "",
    chunks: () => readFileChunks(`${dir}/${rel}`),
    bytes: () => Deno.readFile(`${dir}/${rel}`),
  };
}

/** The members under `rel` of `dir`, sorted, depth first, without the manifest and marker. */
async function* walkMembers(dir: string, rel: string): AsyncGenerator<Member> {
  const names: string[] = [];
  for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) names.push(e.name);
  names.sort();
  for (const name of names) {
    const child = rel ? `${rel}/${name}` : name;
    if (child === MANIFEST_PATH) continue;
    // The source's own state marker describes the source, not the copy.
    if (child === MARKER_PATH) continue;
    const info = await Deno.lstat(`${dir}/${child}`);
    if (info.isFile) {
      yield fileMember(dir, child, info);
      continue;
    }
    yield await nonFileMember(dir, child, info);
    if (info.isDirectory) yield* walkMembers(dir, child);
  }
}

/**
 * The members of a directory tree, manifest first, as an archive of it
 * would hold them (hardlinked files are copied; the state marker of a ready
 * environment is left out).
 */
export async function* directoryMembers(dir: string): AsyncGenerator<Member> {
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.lstat(`${dir}/${MANIFEST_PATH}`);
  } catch (err) {
    // No manifest (a `.poncho` that is not a directory is refused by the extractor's check).
    if (!isAbsent(err)) throw err;
  }
  if (info?.isFile) yield fileMember(dir, MANIFEST_PATH, info);
  yield* walkMembers(dir, "");
}
