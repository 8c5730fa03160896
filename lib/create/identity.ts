/**
 * The names `create` gives a build: the spec as built (command-line channels
 * first), the build's hash (the canonical spec's, kept apart for builds
 * without link scripts), and the environment's identity (that hash plus
 * exactly what was installed), and the manifest fields that record them.
 *
 * @module
 */

import type { EnvSpec } from "../envspec/types.ts";
import { type CanonicalSpec, specHash } from "../envspec/canonical.ts";
import { VERSION } from "../version.ts";
import { type EnvManifest, MANIFEST_FORMAT } from "../env/manifest.ts";
import type { CreatedPackage } from "./types.ts";
import { bytesSha256 } from "../sha256.ts";

/**
 * The spec with command-line channels put first (duplicates dropped, order
 * kept); they replace the default of a format without channels
 * ({@link EnvSpec.channelsImplied}).
 */
export function withChannels(spec: EnvSpec, channels: string[] = []): EnvSpec {
  const own = spec.channelsImplied && channels.length > 0 ? [] : spec.channels;
  const all = [...channels, ...own].map((c) => c.replace(/\/+$/, ""));
  return { ...spec, channels: [...new Set(all)] };
}

/**
 * The hash naming a build of `canonical` in the archive cache: a build
 * without link scripts differs from one with them, so it never shares a
 * cache entry.
 */
export function buildHash(canonical: CanonicalSpec, noLinkScripts?: boolean): string {
  return noLinkScripts
    ? bytesSha256(`${specHash(canonical)}\nno-link-scripts`)
    : specHash(canonical);
}

/** Environment identity: the spec hash plus exactly what was installed. */
export function envIdentity(hash: string, packages: CreatedPackage[], spec: EnvSpec): string {
  const lines = [hash, ...packages.map((p) => `${p.channel}::${p.name}-${p.version}-${p.build}`)];
  lines.push(...spec.pip.map((p) => `pip:${p}`));
  return bytesSha256(lines.join("\n"));
}

/** What names a build of a spec in its manifest. */
export interface BuildNames {
  /** The canonical spec (written to the manifest). */
  canonical: CanonicalSpec;
  /** The build's hash. */
  hash: string;
  /** The target platform. */
  platform: string;
}

/**
 * The manifest of environment `id`, built as `b` names it with `packages`
 * installed, before packing adds where it was built and what to relocate.
 */
export function buildManifest(
  b: BuildNames,
  id: string,
  packages: CreatedPackage[],
): Omit<EnvManifest, "relocations" | "buildPrefix"> {
  return {
    format: MANIFEST_FORMAT,
    id,
    spec: b.canonical,
    specHash: b.hash,
    platform: b.platform,
    created: new Date().toISOString(),
    poncho: VERSION,
    packages,
  };
}
