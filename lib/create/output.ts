/**
 * The output archive of `create`: its name picks the format, it is checked
 * before any work (its directory exists and is writable, it is not a
 * directory), and it is written from the store's cached archive through a
 * temp file and a rename, so it is never half-written. A device or FIFO
 * (`/dev/null`, a pipe) is written to in place, never replaced.
 *
 * @module
 */

import { basename, dirname } from "node:path";
import { fsError, UsageError } from "../errors.ts";
import type { StoreLayout } from "../../store/layout.ts";
import { recordExternal } from "../../store/owner.ts";
import { readFileChunks } from "../archive/compress.ts";
import { isSpecialFile, replaceFile } from "../fs/atomic.ts";
import { statOrNull } from "../fs/probe.ts";

/** Archive extension of an output path, validated. */
export function archiveExt(output: string): string {
  const m = output.match(/\.(tar\.zst|tar\.gz|tgz|tar)$/);
  if (!m) {
    throw new UsageError(
      `output ${output}: name it .tar.zst (recommended), .tar.gz, .tgz or .tar to choose the format`,
    );
  }
  return m[1] === "tar.zst" ? ".tar.zst" : m[1] === "tar" ? ".tar" : ".tar.gz";
}

/**
 * `Deno.stat` (or `lstat`) of the output path, or null when there is none;
 * any other failure is an error about the output.
 */
function outputInfo(output: string, follow: boolean): Promise<Deno.FileInfo | null> {
  return statOrNull(output, { follow, what: "cannot write the output", role: "output" });
}

/** The output's directory, which must exist and be a directory. */
async function checkDirectory(output: string): Promise<string> {
  const dir = dirname(output);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UsageError(`output ${output}: directory ${dir} does not exist`, { path: dir });
    }
    throw fsError(err, dir, { what: `cannot write the output ${output} in`, role: "output" });
  }
  if (!info.isDirectory) throw new UsageError(`output ${output}: ${dir} is not a directory`);
  return dir;
}

/** Checks, before any work, that `output` can be written: its directory exists and is one. */
export async function checkOutputDir(output: string): Promise<void> {
  const dir = await checkDirectory(output);
  if ((await outputInfo(output, false))?.isDirectory) {
    throw new UsageError(`output ${output} is a directory; give a file name such as env.tar.zst`);
  }
  // A device or FIFO is written to in place (see copyAtomic): its directory need not be writable.
  if ((await outputInfo(output, true))?.isFile === false) return;
  // Writable (not read-only, not full of inodes)? Found now, not after the whole build.
  try {
    const probe = await Deno.makeTempFile({ dir, prefix: `.${basename(output)}.probe-` });
    await Deno.remove(probe);
  } catch (err) {
    throw fsError(err, dir, { what: `cannot write the output ${output} in`, role: "output" });
  }
}

/**
 * Whether `dir` is missing, asked after a write into it failed with
 * NotFound (to say which part was missing; never a check before acting).
 */
async function dirMissing(dir: string): Promise<boolean> {
  try {
    await Deno.lstat(dir);
    return false;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return true;
    throw err;
  }
}

/** Writes `src` into the device or FIFO `dst` in place. */
async function copyInto(src: string, dst: string): Promise<void> {
  using out = await Deno.open(dst, { write: true });
  for await (const chunk of readFileChunks(src)) {
    for (let off = 0; off < chunk.length;) off += await out.write(chunk.subarray(off));
  }
}

/**
 * Copies `src` to `dst` through a temp file beside `dst` and a rename (never
 * half-written); the temp is recorded in the store's owner dir, so that gc
 * removes it if this process is killed.
 */
export async function copyAtomic(src: string, dst: string, layout: StoreLayout): Promise<void> {
  // A device or FIFO (`/dev/null`, a pipe) is written to, never replaced.
  if (await isSpecialFile(dst)) return await copyInto(src, dst);
  try {
    await replaceFile(dst, (tmp) => Deno.copyFile(src, tmp), {
      track: (tmp) => recordExternal(layout, tmp),
    });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && await dirMissing(dirname(dst))) {
      throw new UsageError(`output ${dst}: directory ${dirname(dst)} does not exist`);
    }
    throw fsError(err, dst, { what: "cannot write the output", role: "output" });
  }
}
