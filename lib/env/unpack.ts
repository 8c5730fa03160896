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

import { EXIT_FAILED, EXIT_NOT_FOUND, PonchoError } from "../errors.ts";
import { readTar } from "../archive/tar_reader.ts";
import type { TarEntryType } from "../archive/tar_header.ts";
import { openArchive } from "../archive/open.ts";
import { extractMembers, type Member } from "../archive/extract.ts";
import { assertNoLinkInParents, refusal } from "../archive/paths.ts";
import { type EnvManifest, MANIFEST_PATH } from "./manifest.ts";
import { MARKER_PATH } from "../../store/marker.ts";
import { CONDA_UNPACK, relocateBytes, relocationMap, runCondaUnpack } from "./relocate.ts";
import { findActivateScripts } from "../exec/activate.ts";
import { RUN_IN_ENV_PATH, writeRunInEnv } from "../exec/run_in_env.ts";
import { fileSha256 } from "../digest.ts";

export type { Member } from "../archive/extract.ts";
export { parseManifest, readArchiveManifest, readDirManifest } from "./manifest_read.ts";
export { directoryMembers } from "./dir_members.ts";
import { parseManifest } from "./manifest_read.ts";
import { directoryMembers } from "./dir_members.ts";

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

/** Hex sha256 of a whole file, streamed (the identity of an archive without a manifest). */
export const fileDigest: (path: string) => Promise<string> = fileSha256;

/**
 * The members of a tar archive (any supported compression, chosen by name),
 * for {@link unpackMembers}: a member's body is valid only until the next
 * member is pulled (the decompressor's buffers are reused).
 */
export function archiveMembers(path: string): AsyncIterable<Member> {
  return readTar(openArchive(path, { recycle: true }), { name: path });
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
