/**
 * The manifest of a Poncho environment archive. It is the archive's first
 * member, at {@link MANIFEST_PATH}, so that `poncho run` learns the
 * environment's identity and how to relocate it without reading the rest.
 *
 * Every file that contains a prefix is listed in `relocations` with the
 * placeholder it holds inside the archive. Files linked from conda packages
 * keep the package's own placeholder (conda-build pads it to 255 characters),
 * so a binary can be relocated to any path up to that length; files written at
 * build time (pip, entry points, conda-meta) hold the build prefix.
 *
 * @module
 */

/** Path of the manifest inside an archive and inside an unpacked environment. */
export const MANIFEST_PATH = ".poncho/manifest.json";

/** The manifest format version written by this Poncho. */
export const MANIFEST_FORMAT = 1;

/** How a prefix is rewritten in one file. */
export interface RelocationRecord {
  /** Path relative to the environment root, `/`-separated. */
  path: string;
  /** The exact string stored in the archived file, to be replaced by the new prefix. */
  placeholder: string;
  /** `text`: replace everywhere; `binary`: inside NUL-terminated strings, NUL-padded. */
  mode: "text" | "binary";
}

/** The manifest stored as the first archive member. */
export interface EnvManifest {
  /** {@link MANIFEST_FORMAT}. */
  format: number;
  /** Environment identity: the spec hash when built from a spec (hex sha256). */
  id: string;
  /** The canonical spec the environment was built from (poncho JSON form), if any. */
  spec?: unknown;
  /** sha256 of the canonical spec, hex. */
  specHash?: string;
  /** conda platform, e.g. `linux-64`. */
  platform: string;
  /** The prefix the environment was built in. */
  buildPrefix: string;
  /** ISO time of creation. */
  created: string;
  /** Poncho version that wrote it. */
  poncho: string;
  /** Files that contain a prefix. */
  relocations: RelocationRecord[];
  /** The conda packages installed (`create` writes them), for reports. */
  packages?: { name: string; version: string; build: string; channel: string }[];
  /**
   * Hex sha256 of every regular file that is not relocated, by path: written
   * for plain `.tar` archives (compressed ones carry their codec's checksum),
   * and checked after unpacking them (`lib/env/verify.ts`).
   */
  digests?: Record<string, string>;
}
