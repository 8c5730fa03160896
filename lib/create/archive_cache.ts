/**
 * The store's archive cache as `create` uses it: one archive per build hash
 * (`archives/<hash>.tar.zst`), reused only when it matches the sha256 and
 * size recorded when it was built (a damaged or unrecorded archive is
 * rebuilt, and the rebuild replaces it); the packages and identity of a
 * reused archive are read from its manifest.
 *
 * @module
 */

import { basename, join } from "node:path";
import { fsError } from "../errors.ts";
import type { StoreLayout } from "../../store/layout.ts";
import { touchUsed } from "../../store/cache_gc.ts";
import { readArchiveRecord, writeArchiveRecord } from "../../store/index.ts";
import { fileSha256 } from "../digest.ts";
import type { Reporter } from "./report.ts";
import type { CreatedPackage } from "./types.ts";

/** The cached archive of build `hash` with extension `ext` (`.tar.zst`, ...). */
export function cachedArchivePath(layout: StoreLayout, hash: string, ext: string): string {
  return join(layout.archives, `${hash}${ext}`);
}

/**
 * Whether the cached archive exists and matches the sha256 and size recorded
 * when it was built. A damaged archive (or one without a record) is not
 * reused: it is rebuilt, and the rebuild replaces it.
 */
export async function archiveIntact(
  layout: StoreLayout,
  archive: string,
  log: Reporter,
): Promise<boolean> {
  const info = await Deno.stat(archive).catch((err) => {
    if (err instanceof Deno.errors.NotFound) return null;
    throw fsError(err, archive, { what: "cannot read the cached archive" });
  });
  if (!info) return false;
  const rec = await readArchiveRecord(layout, basename(archive));
  const why = !rec
    ? "has no recorded digest"
    : rec.size !== info.size
    ? `is ${info.size} bytes, recorded ${rec.size}`
    : (await fileSha256(archive)) !== rec.sha256
    ? "does not match its recorded sha256"
    : "";
  if (why) log(`cached archive ${archive} ${why}: rebuilding it`);
  else await touchUsed(archive); // gc removes the least recently used first
  return why === "";
}

/** Records the sha256 and size of a freshly written cached archive (what reuse checks). */
export async function recordArchive(layout: StoreLayout, archive: string): Promise<void> {
  const info = await Deno.stat(archive);
  await writeArchiveRecord(layout, basename(archive), {
    sha256: await fileSha256(archive),
    size: info.size,
  });
}

/**
 * The packages and identity recorded in a cached archive's manifest; none
 * for an archive without a manifest. A manifest that cannot be read or
 * parsed is an error naming the archive (it passed its digest check, so it
 * is not silently taken for an empty environment).
 */
export async function fromManifest(
  archive: string,
): Promise<[CreatedPackage[], string | undefined]> {
  const { readArchiveManifest } = await import("../env/manifest_read.ts");
  const m = await readArchiveManifest(archive).catch((err) => {
    throw fsError(err, archive, { what: "cannot read the manifest of the cached archive" });
  });
  return [m?.packages ?? [], m?.id];
}
