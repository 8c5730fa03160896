/**
 * The state marker of an unpacked environment: `.poncho/ready.json`,
 * written last, once the environment is complete and relocated for the
 * path it lives at. An environment directory without a valid marker is a
 * leftover of an interrupted unpack and is never used.
 *
 * The marker also carries what the warm path needs to start a command
 * (the activation scripts), so a warm `poncho run` reads one small file.
 *
 * @module
 */

import { fsError } from "../lib/errors.ts";
import { writeFileAtomicSync } from "../lib/fs/atomic.ts";
import { isAbsent } from "../lib/fs/probe.ts";

/** Path of the marker relative to the environment root. */
export const MARKER_PATH = ".poncho/ready.json";

/** The contents of the marker. */
export interface ReadyMarker {
  /** Marker format, 1. */
  format: 1;
  /** The environment's identity. */
  id: string;
  /** The absolute path the environment was relocated for. */
  prefix: string;
  /** Activation scripts (absolute paths) to source before running a command. */
  activateScripts: string[];
  /** Where the environment came from (archive or directory path). */
  source: string;
  /** Total size of the environment's regular files, bytes. */
  size: number;
  /** ISO time the unpack completed. */
  unpacked: string;
}

/**
 * Reads the marker of the environment at `prefix` and returns it if it is
 * valid for that path (and for `id`, when given); otherwise `undefined`: no
 * marker (or no `.poncho/`), or one that is not JSON or names another path
 * or id. Each means the same, "not ready": the marker is the commit point of
 * an unpack, written by a rename, so whatever else stands there is a
 * leftover, replaced under the environment's exclusive lock.
 *
 * @throws {PonchoError} (exit 3) when the marker cannot be read (permission
 *   denied, a directory in its place): whether it is ready is unknown.
 */
export function readMarker(prefix: string, id?: string): ReadyMarker | undefined {
  const path = `${prefix}/${MARKER_PATH}`;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (isAbsent(err)) {
      return undefined;
    }
    throw fsError(err, path, { what: "cannot read the ready marker" });
  }
  let m: Partial<ReadyMarker> | null;
  try {
    m = JSON.parse(text);
  } catch (err) {
    if (err instanceof SyntaxError) return undefined; // cut short: not ready (see above)
    throw err;
  }
  if (m?.format !== 1 || m.prefix !== prefix || !Array.isArray(m.activateScripts)) {
    return undefined;
  }
  if (id !== undefined && m.id !== id) return undefined;
  return m as ReadyMarker;
}

/**
 * Writes the marker under `root` (where the environment's files are now)
 * durably: a temp file, fsync, rename.
 */
export async function writeMarker(root: string, marker: ReadyMarker): Promise<void> {
  // Synchronous calls: cheaper than trips to Deno's I/O threads for one small file.
  Deno.mkdirSync(`${root}/.poncho`, { recursive: true });
  writeFileAtomicSync(`${root}/${MARKER_PATH}`, JSON.stringify(marker, null, 1) + "\n", {
    durable: true,
  });
  await Promise.resolve();
}
