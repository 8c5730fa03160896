/**
 * The canonical form of a spec and its hash: the identity under which
 * `create` caches archives and `run` finds environments.
 *
 * Channels keep their order (it is priority); conda and pip requirements are
 * normalised (whitespace, lower-case package names) and sorted; git and http
 * sources are sorted by key; the target platform is included. The hash is the
 * sha256 of the canonical JSON text.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { EnvSpec } from "./types.ts";

/** The canonical spec, ready to hash and to store in a manifest. */
export interface CanonicalSpec {
  /** Always 1 for this form. */
  v: 1;
  /** Channels in priority order, trailing slashes removed. */
  channels: string[];
  /** Normalised conda match specs, sorted. */
  conda: string[];
  /** Normalised pip requirements, sorted. */
  pip: string[];
  /** git sources, sorted by key. */
  git: [string, { remote: string; ref: string | null }][];
  /** http sources, sorted by key. */
  http: [string, { type: string; url: string; compression: string | null }][];
  /** Target conda platform, e.g. `linux-64`. */
  platform: string;
}

function normConda(spec: string): string {
  const s = spec.trim().replace(/\s+/g, " ");
  // Lower-case the package name (conda names are case-insensitive), keep the rest.
  return s.replace(
    /^((?:[^:\s]+::)?)([A-Za-z0-9_.\-]+)/,
    (_m, ch: string, name: string) => ch + name.toLowerCase(),
  );
}

function normPip(req: string): string {
  const s = req.trim().replace(/\s+/g, "");
  // PEP 503 name normalisation of a leading project name.
  return s.replace(
    /^[A-Za-z0-9][A-Za-z0-9._\-]*/,
    (name) => name.toLowerCase().replace(/[-_.]+/g, "-"),
  );
}

/** Computes the canonical form of `spec` for `platform`. */
export function canonicalSpec(spec: EnvSpec, platform: string): CanonicalSpec {
  const byKey = <T>(o: Record<string, T>) =>
    Object.keys(o).sort().map((k) => [k, o[k]] as [string, T]);
  return {
    v: 1,
    channels: spec.channels.map((c) => c.trim().replace(/\/+$/, "")),
    conda: [...new Set(spec.conda.map(normConda))].sort(),
    pip: [...new Set(spec.pip.map(normPip))].sort(),
    git: byKey(spec.git).map(([k, g]) => [k, { remote: g.remote, ref: g.ref ?? null }]),
    http: byKey(spec.http).map((
      [k, h],
    ) => [k, { type: h.type, url: h.url, compression: h.compression ?? null }]),
    platform,
  };
}

/** The sha256 (hex) of the canonical spec. */
export function specHash(canonical: CanonicalSpec): string {
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

/** Renders a spec in poncho JSON form (current form), pretty-printed with a final newline. */
export function specToJson(spec: EnvSpec): string {
  const deps: (string | { pip: string[] })[] = [...spec.conda];
  if (spec.pip.length > 0) deps.push({ pip: [...spec.pip] });
  const doc: Record<string, unknown> = { conda: { channels: spec.channels, dependencies: deps } };
  if (Object.keys(spec.git).length > 0) doc.git = spec.git;
  if (Object.keys(spec.http).length > 0) doc.http = spec.http;
  return JSON.stringify(doc, null, 2) + "\n";
}
