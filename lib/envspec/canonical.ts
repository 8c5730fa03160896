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

import type { EnvSpec } from "./types.ts";
import { bytesSha256 } from "../sha256.ts";

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

/**
 * The canonical text of a conda match spec: one spelling per meaning, so that
 * `numpy>=1.2`, `numpy >=1.2`, `NumPy >= 1.2` and `numpy  >=1.2 ,<2` hash alike.
 *
 * The package name is lower-cased (conda names are case-insensitive); spaces
 * inside a version constraint (after operators, around `,` and `|`) are
 * dropped; a constraint that starts with an operator is joined to the name,
 * a bare version (`numpy 1.2`, an exact match in conda) stays separated by one
 * space, as does a build string. `name=1.2` (fuzzy) and `name 1.2` (exact)
 * mean different things and stay apart. Bracketed keys lose inner spaces.
 */
export function canonicalMatchSpec(spec: string): string {
  let s = spec.trim();
  let bracket = "";
  const b = s.match(/\[[^\]]*\]\s*$/);
  if (b) {
    bracket = b[0].replace(/\s+/g, "");
    s = s.slice(0, b.index).trimEnd();
  }
  const m = s.match(/^((?:[^:\s]+::)?)([A-Za-z0-9_.\-]+)\s*(.*)$/s);
  if (!m) return s.replace(/\s+/g, " ") + bracket;
  const [, channel, name, rest0] = m;
  const rest = rest0
    .replace(/\s*([,|])\s*/g, "$1")
    .replace(/(==|!=|>=|<=|~=|>|<|=)\s+/g, "$1")
    .trim();
  const [version = "", ...build] = rest.split(/\s+/).filter((t) => t !== "");
  const head = channel + name.toLowerCase();
  const ver = version === "" ? "" : /^[=<>!~]/.test(version) ? version : ` ${version}`;
  const bld = build.length > 0 ? ` ${build.join(" ")}` : "";
  return head + ver + bld + bracket;
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
    conda: [...new Set(spec.conda.map(canonicalMatchSpec))].sort(),
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
  return bytesSha256(JSON.stringify(canonical));
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
