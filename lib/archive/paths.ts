/**
 * Safety checks for paths and link targets read from archives, so that no
 * member can write outside the directory it is extracted into.
 *
 * @module
 */

import { posix } from "node:path";
import { PonchoError } from "../errors.ts";

/** Matches paths that are not already normal relative paths (see {@link safeRelativePath}). */
const UNUSUAL_PATH = /\0|^\/|\/$|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/**
 * Normalises an archive member path to a relative `/`-separated path without
 * `.` components or trailing `/` (`""` for the root itself). Throws a
 * {@link PonchoError} naming the archive for absolute paths, `..` components
 * and NUL bytes.
 */
export function safeRelativePath(path: string, archive = "archive"): string {
  // Fast path: already normal (no empty, `.` or `..` part, no NUL) is returned as is.
  if (path !== "" && !UNUSUAL_PATH.test(path)) return path;
  if (path.includes("\0")) {
    throw new PonchoError(`${archive}: member path ${JSON.stringify(path)} contains a NUL byte`);
  }
  if (path.startsWith("/")) {
    throw new PonchoError(`${archive}: member ${path} has an absolute path; refusing to extract`);
  }
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      throw new PonchoError(`${archive}: member ${path} contains '..'; refusing to extract`);
    }
    parts.push(part);
  }
  return parts.join("/");
}

/**
 * Checks that a symlink at relative path `linkPath` pointing to `target`
 * resolves inside the extraction root (judged lexically; the extractor also
 * refuses to write through symlinks it created). Throws a {@link PonchoError}
 * for absolute targets and targets that climb out.
 */
export function checkSymlinkTarget(linkPath: string, target: string, archive = "archive"): void {
  if (target === "" || target.includes("\0")) {
    throw new PonchoError(`${archive}: symlink ${linkPath} has an empty or invalid target`);
  }
  if (target.startsWith("/")) {
    throw new PonchoError(
      `${archive}: symlink ${linkPath} -> ${target} is absolute; refusing to extract`,
    );
  }
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target));
  if (resolved === ".." || resolved.startsWith("../")) {
    throw new PonchoError(
      `${archive}: symlink ${linkPath} -> ${target} points outside; refusing to extract`,
    );
  }
}
