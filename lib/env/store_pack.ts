/**
 * A relocatable archive of an environment in the store (`poncho store
 * pack`, and `create` of a spec whose environment an automatic run built in
 * place): the same archive `create` would have packed from its build prefix.
 *
 * @module
 */

import { join } from "node:path";
import { CorruptError, fsError, NotFoundError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { condaPlatform } from "../conda/platform.ts";
import type { StoreLayout } from "../../store/layout.ts";
import { openEnv, storeSlot } from "../../store/envs.ts";
import { readMarker } from "../../store/marker.ts";
import { type EnvManifest, MANIFEST_FORMAT, MANIFEST_PATH } from "./manifest.ts";
import { packPrefix } from "./pack.ts";
import { pristineFromCondaMeta } from "./pristine.ts";

/**
 * Packs the store's environment `id` into a relocatable archive at `output`
 * (`.tar.zst`, `.tar.gz`, `.tgz`, `.tar`), with its manifest: files linked
 * with a placeholder come from the package cache's pristine copies, so the
 * archive relocates as one made by `poncho create` does. Holds the
 * environment's shared lock meanwhile (`gc` leaves it alone). The temp file
 * goes into `tmpDir` when given (it must be on the output's filesystem).
 *
 * @throws {NotFoundError} (exit 2) when the store has no ready environment `id`.
 */
export async function packStoreEnv(
  layout: StoreLayout,
  id: string,
  output: string,
  tmpDir?: string,
): Promise<{ manifest: EnvManifest; bytes: number }> {
  const slot = storeSlot(layout, id);
  if (!readMarker(slot.path, id)) {
    throw new NotFoundError(`store environment ${id} does not exist (see poncho store list)`);
  }
  const opened = await openEnv(slot, () => {
    throw new NotFoundError(`store environment ${id} was removed meanwhile`);
  }, { source: slot.path });
  try {
    const base = await baseManifest(slot.path, id);
    const r = await packPrefix({
      prefix: slot.path,
      output,
      pristine: await pristineFromCondaMeta(slot.path),
      manifest: { ...base, id },
      tmpDir,
    });
    return { manifest: r.manifest, bytes: r.bytes };
  } finally {
    opened.lock.release();
  }
}

/**
 * The manifest of the environment at `dir` without the fields packing
 * recomputes; a fresh one for an environment built in place without a
 * manifest. A manifest that cannot be read or parsed is an error naming it.
 */
async function baseManifest(
  dir: string,
  id: string,
): Promise<Omit<EnvManifest, "relocations" | "buildPrefix">> {
  const path = join(dir, MANIFEST_PATH);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw fsError(err, path, { what: "cannot read" });
    return {
      format: MANIFEST_FORMAT,
      id,
      platform: condaPlatform(),
      created: new Date().toISOString(),
      poncho: VERSION,
    };
  }
  let manifest: EnvManifest;
  try {
    manifest = JSON.parse(text) as EnvManifest;
  } catch (err) {
    throw new CorruptError(
      `${path} is not valid JSON (${
        (err as Error).message
      }); remove the environment and create it again`,
      { path, cause: err },
    );
  }
  const { relocations: _r, buildPrefix: _b, ...rest } = manifest;
  return rest;
}
