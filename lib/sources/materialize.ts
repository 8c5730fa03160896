/**
 * Puts a spec's CCTools-style data sources (`git` and `http`) INSIDE an
 * environment prefix at create time, so they travel in the archive (CCTools
 * leaves them outside the packed prefix):
 *
 * ```
 * <prefix>/share/poncho/git/<KEY>/             a git checkout (no .git)
 * <prefix>/share/poncho/http/<KEY>/<basename>  a "file" source
 * <prefix>/share/poncho/http/<KEY>/            a "tar" source, unpacked
 * <prefix>/etc/conda/activate.d/poncho-sources.sh    export KEY="$CONDA_PREFIX/..."
 * <prefix>/etc/conda/deactivate.d/poncho-sources.sh  unset KEY
 * <prefix>/.poncho/sources.json                      {"v": 1, "env": {...}, "sources": {...}}
 * ```
 *
 * Paths are relative to the prefix and expanded against `$CONDA_PREFIX` when
 * the environment is activated, so they survive relocation.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { EnvSpec } from "../envspec/types.ts";
import { cloneGitSource } from "./git.ts";
import { fetchHttpSource } from "./http.ts";

/** Where sources go, relative to the prefix. */
export const SOURCES_DIR = "share/poncho";
/** The activation script, relative to the prefix. */
export const ACTIVATE_SCRIPT = "etc/conda/activate.d/poncho-sources.sh";
/** The deactivation script, relative to the prefix. */
export const DEACTIVATE_SCRIPT = "etc/conda/deactivate.d/poncho-sources.sh";
/** The machine-readable record, relative to the prefix. */
export const SOURCES_JSON = ".poncho/sources.json";

/** Options of {@link materializeSources}. */
export interface MaterializeOptions {
  /** The git executable (default `git`). */
  git?: string;
  /** Aborts downloads in progress. */
  signal?: AbortSignal;
  /** Called with one line per source as it is fetched (for `--verbose`). */
  log?: (line: string) => void;
}

/** One materialised source, as recorded in `.poncho/sources.json`. */
export type SourceRecord =
  | { kind: "git"; path: string; remote: string; ref: string | null; commit: string }
  | { kind: "http"; path: string; url: string; type: string; compression: string | null };

/** The content of `.poncho/sources.json`. */
export interface SourcesFile {
  /** Format version, 1. */
  v: 1;
  /** Environment variable -> path relative to the prefix. */
  env: Record<string, string>;
  /** Environment variable -> what was fetched (provenance). */
  sources: Record<string, SourceRecord>;
}

/** Quotes a relative path for a double-quoted sh string. */
function shPath(rel: string): string {
  return `"$CONDA_PREFIX/${rel.replace(/(["\\$`])/g, "\\$1")}"`;
}

/** Renders the activate.d script for an env var -> relative path map. */
export function activateScript(env: Record<string, string>): string {
  const lines = ["# Data sources placed in this environment by poncho create."];
  for (const [k, rel] of Object.entries(env)) lines.push(`export ${k}=${shPath(rel)}`);
  return lines.join("\n") + "\n";
}

/**
 * Fetches every `git` and `http` source of `spec` into `prefix` and writes
 * the activation scripts and `.poncho/sources.json` (nothing is written when
 * the spec has no sources).
 *
 * @returns Environment variable -> path relative to `prefix`, keys sorted.
 * @throws {UsageError} when a key is both a git and an http source, or an
 *   http source is malformed.
 * @throws {PonchoError} naming the key and URL when a fetch fails.
 */
export async function materializeSources(
  spec: EnvSpec,
  prefix: string,
  opts: MaterializeOptions = {},
): Promise<Record<string, string>> {
  const gitKeys = Object.keys(spec.git).sort();
  const httpKeys = Object.keys(spec.http).sort();
  const both = gitKeys.find((k) => httpKeys.includes(k));
  if (both !== undefined) {
    throw new UsageError(`${both} is both a git and an http source; rename one of them`);
  }
  const env: Record<string, string> = {};
  const sources: Record<string, SourceRecord> = {};
  for (const key of gitKeys) {
    const src = spec.git[key];
    const path = `${SOURCES_DIR}/git/${key}`;
    opts.log?.(`git ${key}: cloning ${src.remote}${src.ref ? ` at ${src.ref}` : ""}`);
    const { commit } = await cloneGitSource(key, src, `${prefix}/${path}`, { git: opts.git });
    env[key] = path;
    sources[key] = { kind: "git", path, remote: src.remote, ref: src.ref ?? null, commit };
  }
  for (const key of httpKeys) {
    const src = spec.http[key];
    const dir = `${SOURCES_DIR}/http/${key}`;
    opts.log?.(`http ${key}: fetching ${src.url}`);
    const rel = await fetchHttpSource(key, src, `${prefix}/${dir}`, { signal: opts.signal });
    const path = rel === "" ? dir : `${dir}/${rel}`;
    env[key] = path;
    sources[key] = {
      kind: "http",
      path,
      url: src.url,
      type: src.type,
      compression: src.compression ?? null,
    };
  }
  const sorted = Object.fromEntries(Object.keys(env).sort().map((k) => [k, env[k]]));
  if (Object.keys(sorted).length === 0) return sorted;

  await Deno.mkdir(`${prefix}/etc/conda/activate.d`, { recursive: true });
  await Deno.mkdir(`${prefix}/etc/conda/deactivate.d`, { recursive: true });
  await Deno.mkdir(`${prefix}/.poncho`, { recursive: true });
  await Deno.writeTextFile(`${prefix}/${ACTIVATE_SCRIPT}`, activateScript(sorted));
  await Deno.writeTextFile(
    `${prefix}/${DEACTIVATE_SCRIPT}`,
    `unset ${Object.keys(sorted).join(" ")}\n`,
  );
  const file: SourcesFile = { v: 1, env: sorted, sources };
  await Deno.writeTextFile(`${prefix}/${SOURCES_JSON}`, JSON.stringify(file, null, 2) + "\n");
  return sorted;
}
