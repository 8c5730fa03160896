/**
 * Conda channel names and URLs, and the stable file-name stem
 * ({@linkcode cacheKey}) under which the store's caches keep what a URL serves.
 *
 * A channel is given as an `https://`, `http://` or `file://` URL, an absolute
 * (or `./`-relative) path, or a name (`conda-forge` means
 * `https://conda.anaconda.org/conda-forge`). Each channel has one subdir per
 * platform plus `noarch`, whose repodata `repodata.ts` loads.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { UsageError } from "../errors.ts";
import { bytesSha256 } from "../sha256.ts";

/** Where named channels live. */
export const DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org";

/** A channel: what the user wrote and the base URL it resolves to. */
export interface Channel {
  /** The channel as the user named it (e.g. `conda-forge`, or a URL). */
  name: string;
  /** Base URL without trailing slash (`https://...`, `http://...` or `file://...`). */
  url: string;
}

/**
 * Resolves a channel given by name, URL or path to a {@linkcode Channel}:
 * a name goes under {@linkcode DEFAULT_CHANNEL_ALIAS}, a path (absolute, or
 * relative to `cwd`) becomes a `file://` URL, a URL is kept without its
 * trailing slash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseChannel } from "./channel.ts";
 * assert.equal(parseChannel("bioconda").url, "https://conda.anaconda.org/bioconda");
 * assert.equal(parseChannel("./ch", "/work").url, "file:///work/ch");
 * assert.equal(parseChannel("https://example.org/ch/").url, "https://example.org/ch");
 * ```
 */
export function parseChannel(spec: string, cwd: string = Deno.cwd()): Channel {
  const s = spec.trim();
  if (!s) throw new UsageError("empty channel name; give a name (conda-forge), a URL or a path");
  const strip = (u: string) => u.replace(/\/+$/, "");
  if (/^https?:\/\//i.test(s)) return { name: s, url: strip(s) };
  if (/^file:\/\//i.test(s)) {
    try {
      fileURLToPath(s);
    } catch (err) {
      if (!(err instanceof TypeError)) throw err; // what fileURLToPath throws for a bad URL
      throw new UsageError(`invalid file:// channel URL ${s}; use file:///absolute/path`);
    }
    return { name: s, url: strip(s) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    throw new UsageError(`unsupported channel URL ${s}; use https://, http:// or file://`);
  }
  if (isAbsolute(s) || s.startsWith("./") || s.startsWith("../") || s === ".") {
    return { name: s, url: strip(pathToFileURL(resolve(cwd, s)).href) };
  }
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(s)) {
    throw new UsageError(
      `invalid channel name "${s}"; use a name like conda-forge, a URL or a path`,
    );
  }
  return { name: s, url: `${DEFAULT_CHANNEL_ALIAS}/${s}` };
}

/** The file-name stem of a subdir's cache entry (readable part plus a hash). */
export function cacheKey(subdirUrl: string): string {
  const readable = subdirUrl.replace(/^[a-z]+:\/\//i, "").replace(/[^A-Za-z0-9_.-]+/g, "_")
    .slice(-60);
  const hash = bytesSha256(subdirUrl).slice(0, 12);
  return `${readable}-${hash}`;
}
