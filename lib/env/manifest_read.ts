/**
 * Reading an environment's manifest (see `manifest.ts`): from an archive's first member, without
 * decompressing the rest, or from an environment directory. A damaged manifest is a
 * corrupt-input error naming its source.
 *
 * @module
 */

import { CorruptError } from "../errors.ts";
import { readArchiveFirstMember } from "../archive/open.ts";
import { safeRelativePath } from "../archive/paths.ts";
import { type EnvManifest, MANIFEST_PATH } from "./manifest.ts";

/** Parses and checks a manifest's bytes; `name` names the source in errors. */
export function parseManifest(data: Uint8Array, name: string): EnvManifest {
  let m: EnvManifest;
  try {
    m = JSON.parse(new TextDecoder().decode(data));
  } catch (err) {
    throw new CorruptError(
      `${name}: ${MANIFEST_PATH} is not valid JSON (${
        (err as Error).message
      }); re-create the archive`,
      { cause: err },
    );
  }
  if (typeof m !== "object" || m === null || typeof m.id !== "string" || m.id === "") {
    throw new CorruptError(`${name}: ${MANIFEST_PATH} has no "id"; re-create the archive`);
  }
  if (!Array.isArray(m.relocations)) {
    throw new CorruptError(
      `${name}: ${MANIFEST_PATH} has no "relocations" list; re-create the archive`,
    );
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
