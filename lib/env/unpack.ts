/**
 * Unpacking an environment (a tar archive, or a directory to copy) into an
 * empty temp dir, relocated for its final path, safely.
 *
 * Safety: the members go through the one extractor (`lib/archive/extract.ts`,
 * whose module documentation states the model: normal paths only, nothing
 * written through any link, link targets resolved through all links and kept
 * inside, hardlinks only to files extracted before, no devices). On top of
 * it, `.poncho/` is Poncho's: it must be a directory holding only files and
 * directories, and never the ready marker (or its temp file), so no member
 * can plant the marker or a link where Poncho writes it; `bin/run_in_env` is written only after checking with `lstat`
 * that `bin` is a real directory. All writes go under the temp dir, which
 * the caller removes on failure. Modes (setuid included) and symlinks are
 * kept; file mtimes are kept (Python's `.pyc` checks depend on them).
 *
 * Relocation is applied to each file's bytes as it is written, from the
 * manifest's records (the archive's first member); archives made by
 * conda-pack (with `bin/conda-unpack` and no manifest) are relocated by
 * their own script after the rename (see `relocate.ts`).
 *
 * @module
 */

import { isAbsent } from "../fs/probe.ts";
import { EXIT_FAILED, EXIT_NOT_FOUND, PonchoError } from "../errors.ts";
import { readTar } from "../archive/tar_reader.ts";
import type { TarEntryType } from "../archive/tar_header.ts";
import { openArchive, readArchiveFirstMember } from "../archive/open.ts";
import { readFileChunks } from "../archive/file_chunks.ts";
import { extractMembers, type Member } from "../archive/extract.ts";
import { assertNoLinkInParents, refusal, safeRelativePath } from "../archive/paths.ts";
import { type EnvManifest, MANIFEST_PATH } from "./manifest.ts";
import { MARKER_PATH } from "../../store/marker.ts";
import { CONDA_UNPACK, relocateBytes, relocationMap, runCondaUnpack } from "./relocate.ts";
import { findActivateScripts } from "../exec/activate.ts";
import { RUN_IN_ENV_PATH, writeRunInEnv } from "../exec/run_in_env.ts";
import { fileSha256 } from "../digest.ts";

export type { Member } from "../archive/extract.ts";

/** What {@link unpackMembers} produced. */
export interface UnpackResult {
  /** The manifest, when the first member was one. */
  manifest?: EnvManifest;
  /** Whether the environment carries conda-pack's `bin/conda-unpack`. */
  condaPack: boolean;
  /** Total bytes of regular files. */
  size: number;
  /** Activation scripts, as absolute paths at the final prefix. */
  activateScripts: string[];
  /** For conda-pack archives: runs `conda-unpack` at the final path. */
  finish?: (prefix: string) => Promise<void>;
}

/** Parses and checks a manifest's bytes; `name` names the source in errors. */
export function parseManifest(data: Uint8Array, name: string): EnvManifest {
  let m: EnvManifest;
  try {
    m = JSON.parse(new TextDecoder().decode(data));
  } catch (err) {
    throw new PonchoError(
      `${name}: ${MANIFEST_PATH} is not valid JSON (${(err as Error).message})`,
      EXIT_FAILED,
    );
  }
  if (typeof m !== "object" || m === null || typeof m.id !== "string" || m.id === "") {
    throw new PonchoError(`${name}: ${MANIFEST_PATH} has no "id"; re-create the archive`);
  }
  if (!Array.isArray(m.relocations)) {
    throw new PonchoError(`${name}: ${MANIFEST_PATH} has no "relocations" list`);
  }
  return m;
}

/**
 * Reads the manifest of an archive (its first member) without decompressing
 * the rest. Returns `undefined` when the first member is not the manifest.
 */
export async function readArchiveManifest(path: string): Promise<EnvManifest | undefined> {
  const first = await readArchiveFirstMember(path, 64 << 20);
  if (!first || safeRelativePath(first.header.path, path) !== MANIFEST_PATH) return undefined;
  return parseManifest(first.data, path);
}

/** Reads the manifest of an environment directory, if it has one. */
export async function readDirManifest(dir: string): Promise<EnvManifest | undefined> {
  let data: Uint8Array;
  try {
    data = await Deno.readFile(`${dir}/${MANIFEST_PATH}`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  return parseManifest(data, dir);
}

/** Hex sha256 of a whole file, streamed (the identity of an archive without a manifest). */
export const fileDigest: (path: string) => Promise<string> = fileSha256;

/** The members of a tar archive (any supported compression, chosen by name). */
export function archiveMembers(path: string): AsyncIterable<Member> {
  return readTar(openArchive(path), { name: path });
}

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

/**
 * Writes `members` into `root` (an empty directory), relocated for
 * `prefix`, then writes `bin/run_in_env`. `name` names the source in errors.
 *
 * @throws {PonchoError} (exit 3) for unsafe members, failed relocation or I/O errors.
 */
export async function unpackMembers(
  members: AsyncIterable<Member>,
  root: string,
  prefix: string,
  name: string,
): Promise<UnpackResult> {
  let manifest: EnvManifest | undefined;
  let records = relocationMap(undefined);
  let size = 0;
  let condaPack = false;
  let activateScripts: string[] = [];
  try {
    await extractMembers([{ name, members }], root, {
      check: (rel, m) => {
        if (rel === ".poncho" ? m.type !== "directory" : isPonchoState(rel, m.type)) {
          throw refusal(name, rel, "the path is reserved for poncho's own state");
        }
      },
      body: (rel, m, first) => {
        size += m.size;
        if (rel === CONDA_UNPACK) condaPack = true;
        if (first && rel === MANIFEST_PATH) {
          return m.bytes().then((data) => {
            manifest = parseManifest(data, name);
            records = relocationMap(manifest);
            return data;
          });
        }
        const record = records.get(rel);
        return record ? m.bytes().then((data) => relocateBytes(data, record, prefix)) : undefined;
      },
      beforeModes: async () => {
        // Poncho's own write: never through a link the archive planted (`bin -> /elsewhere`).
        assertNoLinkInParents(root, RUN_IN_ENV_PATH, name);
        activateScripts = findActivateScripts(root).map((p) => prefix + p.slice(root.length));
        await writeRunInEnv(root, prefix, activateScripts);
      },
    });
    const finish = condaPack && !manifest ? runCondaUnpack : undefined;
    return { manifest, condaPack, size, activateScripts, finish };
  } catch (err) {
    if (err instanceof PonchoError) throw err;
    throw new PonchoError(`cannot unpack ${name}: ${(err as Error).message}`, EXIT_FAILED, {
      cause: err,
    });
  }
}

/**
 * Whether a member at `rel` would sit where Poncho keeps its own state: the
 * ready marker and its temp file (`.poncho/ready.json*`), or any link inside
 * `.poncho/` (only files and directories of the archive's own, such as the
 * manifest and `sources.json`, belong there).
 */
function isPonchoState(rel: string, type: TarEntryType): boolean {
  if (!rel.startsWith(".poncho/")) return false;
  return rel.startsWith(MARKER_PATH) || (type !== "file" && type !== "directory");
}

/** Unpacks the archive at `path` into `root`, relocated for `prefix`. */
export function unpackArchive(path: string, root: string, prefix: string): Promise<UnpackResult> {
  return unpackMembers(archiveMembers(path), root, prefix, path);
}

/** Copies the environment directory `dir` into `root`, relocated for `prefix`. */
export async function copyEnvDir(dir: string, root: string, prefix: string): Promise<UnpackResult> {
  try {
    await Deno.stat(dir);
  } catch (err) {
    const what = err instanceof Deno.errors.NotFound
      ? `environment directory ${dir} does not exist`
      : `cannot read environment directory ${dir}: ${(err as Error).message}`;
    throw new PonchoError(what, EXIT_NOT_FOUND, { cause: err });
  }
  return unpackMembers(directoryMembers(dir), root, prefix, dir);
}
