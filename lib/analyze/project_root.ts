/**
 * The project root of a source, one rule for every use (declared
 * requirements, local-module search, the analysis cache): **the nearest
 * directory at or above the source's directory that holds `pyproject.toml`,
 * `setup.py` or `setup.cfg`**, the files that make a directory a Python
 * project for pip and uv. A `.git` does not mark one: a repository is not
 * always one project (a monorepo of tools, each with its `requirements.txt`).
 * A marker counts when its directory entry exists (a file, a directory or a
 * link); see `lib/fs/probe.ts` for what counts as absent.
 *
 * Callers with no marked root fall back on the analysed directory
 * (`resolve_context.ts`).
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { statOrNull } from "../fs/probe.ts";

/** The files whose presence marks a project root, in lookup order. */
export const PROJECT_MARKERS: readonly string[] = ["pyproject.toml", "setup.py", "setup.cfg"];

/**
 * The project root at or above `dir` (see the module documentation), or
 * `null` when no directory up to `/` is marked.
 *
 * @param dir Where to start (resolved against the working directory).
 * @param memo Directory -> answer, shared by many lookups so that they share their walks up.
 * @throws {PermissionError} when a directory on the way up cannot be searched.
 */
export async function findProjectRoot(
  dir: string,
  memo: Map<string, string | null> = new Map(),
): Promise<string | null> {
  const walked: string[] = [];
  let found: string | null = null;
  for (let d = resolve(dir);; d = dirname(d)) {
    if (memo.has(d)) {
      found = memo.get(d)!;
      break;
    }
    walked.push(d);
    if (await isMarked(d)) {
      found = d;
      break;
    }
    if (dirname(d) === d) break;
  }
  for (const d of walked) memo.set(d, found);
  return found;
}

async function isMarked(dir: string): Promise<boolean> {
  for (const m of PROJECT_MARKERS) {
    if (await statOrNull(join(dir, m), { follow: false })) return true;
  }
  return false;
}
