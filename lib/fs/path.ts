/**
 * Lexical POSIX path helpers: the one copy of path normalisation (`.` and
 * `..` resolved, repeated slashes collapsed) that does not load `node:path`,
 * for modules on the warm `poncho run` path (loading `node:path` costs a
 * Deno process milliseconds at startup). Nothing here touches the file
 * system, so symlinks are not resolved.
 *
 * Paths from untrusted input (archive members, package metadata) are checked
 * by `lib/archive/paths.ts` instead, which refuses what this module would
 * quietly resolve.
 *
 * @module
 */

/**
 * Normalises a POSIX path exactly as Node's `path.posix.normalize` does:
 * empty and `.` components dropped, `..` resolved (kept at the start of a
 * relative path, dropped above `/`), a trailing slash kept, `.` for an empty
 * result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizePath } from "./path.ts";
 * assert.equal(normalizePath("/a//b/../c/./"), "/a/c/");
 * assert.equal(normalizePath("../x/.."), "..");
 * ```
 */
export function normalizePath(path: string): string {
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else out.push(part);
  }
  let result = out.join("/");
  if (result === "" && !absolute) result = ".";
  if (result !== "" && path.endsWith("/")) result += "/";
  return absolute ? `/${result}` : result;
}

/**
 * Joins POSIX path segments and normalises the result exactly as Node's
 * `path.posix.join` does (empty segments skipped, see {@linkcode normalizePath}).
 */
export function joinPath(...segments: string[]): string {
  return normalizePath(segments.filter((s) => s !== "").join("/"));
}

/**
 * Makes `path` absolute against `cwd` (default: the current directory) and
 * normalises it, without a trailing slash and without touching the file
 * system.
 */
export function absolutePath(path: string, cwd: string = Deno.cwd()): string {
  const full = normalizePath(path.startsWith("/") ? path : `${cwd}/${path}`);
  return full.length > 1 && full.endsWith("/") ? full.slice(0, -1) : full;
}
