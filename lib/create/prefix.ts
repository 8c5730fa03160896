/**
 * `create --prefix DIR`: the spec installed straight into a directory (as
 * `conda create -p` does), no archive packed. The directory must be new or
 * empty; until the install is complete it holds {@link INCOMPLETE_MARKER},
 * so a killed create leaves a prefix that `poncho run -e` refuses, and a
 * failed one is emptied again (removed when this create made it).
 *
 * @module
 */

import { join } from "node:path";
import { fsError, UsageError } from "../errors.ts";
import type { EnvSpec } from "../envspec/types.ts";
import type { StoreLayout } from "../../store/layout.ts";
import { installAll } from "./install.ts";
import { type CreatedPackage, type CreateOptions, INCOMPLETE_MARKER } from "./types.ts";

/** Throws unless the existing `prefix` is an empty directory. */
function checkEmpty(prefix: string): void {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(prefix)];
  } catch (err) {
    if (err instanceof Deno.errors.NotADirectory) {
      throw new UsageError(`--prefix ${prefix}: exists and is not a directory`, { path: prefix });
    }
    throw fsError(err, prefix, { what: "cannot install into --prefix", role: "output" });
  }
  if (entries.length > 0) {
    throw new UsageError(`--prefix ${prefix}: directory exists and is not empty`);
  }
}

/**
 * Makes `prefix` (and its parents) unless it exists; an existing one must be
 * an empty directory. Returns whether it existed. A direct attempt, not a
 * check before acting: the directory is created or found in one step.
 */
async function claimPrefix(prefix: string): Promise<boolean> {
  try {
    await Deno.mkdir(prefix);
    return false;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      await Deno.mkdir(prefix, { recursive: true }); // its parents are missing too
      return false;
    }
    if (!(err instanceof Deno.errors.AlreadyExists)) {
      throw fsError(err, prefix, { what: "cannot create --prefix", role: "output" });
    }
  }
  checkEmpty(prefix);
  return true;
}

/** Undoes a failed install: removes the prefix this create made, or empties the user's. */
async function undoPrefix(prefix: string, existed: boolean): Promise<void> {
  // Best effort: the install's own error is what the user must see, not a cleanup's.
  if (!existed) await Deno.remove(prefix, { recursive: true }).catch(() => {});
  else {
    for (const e of Deno.readDirSync(prefix)) {
      // Best effort, as above: the install's error is what counts.
      await Deno.remove(join(prefix, e.name), { recursive: true }).catch(() => {});
    }
  }
}

/**
 * Installs the spec into the directory `prefix` (absolute), which must be
 * new or empty; on failure nothing of the install is left in it.
 */
export async function installIntoPrefix(
  spec: EnvSpec,
  prefix: string,
  platform: string,
  layout: StoreLayout,
  opts: CreateOptions,
): Promise<CreatedPackage[]> {
  const existed = await claimPrefix(prefix);
  // Until the install is complete: a killed create leaves a prefix that run -e refuses.
  await Deno.mkdir(join(prefix, ".poncho"), { recursive: true });
  await Deno.writeTextFile(join(prefix, INCOMPLETE_MARKER), `${Deno.pid}\n`);
  try {
    const packages = await installAll({ spec, prefix, platform, layout, opts });
    await Deno.remove(join(prefix, INCOMPLETE_MARKER));
    // Removed only when empty (an install may keep files there): ENOTEMPTY is the expected
    // failure, and a `.poncho` left behind is harmless.
    await Deno.remove(join(prefix, ".poncho")).catch(() => {});
    return packages;
  } catch (err) {
    await undoPrefix(prefix, existed);
    throw err;
  }
}
