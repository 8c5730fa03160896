/**
 * Failures about one package name it: {@link forPackage} runs a package's
 * install step so that any error says `package name-version-build (URL): ...`
 * instead of naming the store's download file, while the machine's faults (a
 * full disk, a permission, a lock timeout) keep their own message.
 *
 * @module
 */

import { BuildError, fsError, PonchoError } from "../errors.ts";
import type { SolvedRecord } from "../conda/solve.ts";

/** `name-version-build` of a record. */
export function distOf(r: { name: string; version: string; build: string }): string {
  return `${r.name}-${r.version}-${r.build}`;
}

/** Error kinds about the machine, not the package: not prefixed by {@link forPackage}. */
const MACHINE_FAULTS: ReadonlySet<string> = new Set(["no-space", "permission", "lock-timeout"]);

/**
 * Runs one package's step, so that any failure names the package
 * (`name-version-build`) and its URL instead of the store's download file.
 * Errors that are neither Poncho's nor the operating system's (bugs) pass
 * unchanged.
 */
export async function forPackage<T>(
  r: SolvedRecord,
  download: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // Operating-system errors get their kind (no space, permission, ...) as everywhere else.
    const e = fsError(err);
    const known = e instanceof PonchoError ||
      Object.values(Deno.errors).some((E) => e instanceof E);
    if (!known) throw err;
    // A full disk, a permission or a lock timeout is the machine's fault, not the package's:
    // those keep their own message (it names the path).
    if (e instanceof PonchoError && MACHINE_FAULTS.has(e.kind)) throw e;
    const msg = (e as Error).message;
    // An error about this package's URL names it already (its URL ends with the file name).
    if (e instanceof PonchoError && e.url === r.url) throw e;
    const text = `package ${distOf(r)} (${r.url}): ${
      download ? msg.replaceAll(download, "its download") : msg
    }`;
    if (e instanceof PonchoError) {
      e.message = text; // keeps its class and exit code
      throw e;
    }
    throw new BuildError(text, { cause: err });
  }
}
