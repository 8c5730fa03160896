/**
 * Checks an unpacked plain `.tar` environment against the per-file sha256
 * digests its manifest records (`EnvManifest.digests`): a plain tar has no
 * checksum of its own, so a flipped bit would otherwise go unnoticed.
 * Relocated files are not recorded (their bytes change on unpack).
 *
 * @module
 */

import { CorruptError } from "../errors.ts";
import type { EnvManifest } from "./manifest.ts";
import { fileSha256 } from "../digest.ts";

/**
 * Verifies every file of `manifest.digests` under `root` (the unpacked
 * tree). Does nothing when the manifest records no digests.
 *
 * @param archive Names the archive in the error.
 * @throws {CorruptError} (exit 3) naming the first file that differs or is missing.
 */
export async function verifyDigests(
  root: string,
  manifest: EnvManifest | undefined,
  archive: string,
): Promise<void> {
  const digests = manifest?.digests;
  if (!digests) return;
  for (const [path, want] of Object.entries(digests)) {
    let got: string;
    try {
      got = await fileSha256(`${root}/${path}`);
    } catch (err) {
      throw new CorruptError(
        `environment archive ${archive}: ${path} is missing or unreadable after unpacking; ` +
          `the archive is damaged: re-create or re-copy it`,
        { path: archive, cause: err },
      );
    }
    if (got !== want) {
      throw new CorruptError(
        `environment archive ${archive}: ${path} does not match the sha256 its manifest ` +
          `records; the archive is damaged: re-create or re-copy it`,
        { path: archive },
      );
    }
  }
}
