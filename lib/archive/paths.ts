/**
 * Safety checks for paths and link targets read from untrusted input
 * (archives, package metadata), so that nothing is written outside the
 * directory it belongs in. The extractor's whole safety model is described in
 * `extract.ts`; this module holds its checks, reusable by the installer.
 *
 * Every refusal is a {@link PonchoError} (exit 3) of one line:
 * `<archive>: refusing member <path>: <rule>`.
 *
 * @module
 */

import { PonchoError } from "../errors.ts";
import { isAbsent } from "../fs/probe.ts";

/** Matches paths that are not already normal relative paths (see {@link safeRelativePath}). */
const UNUSUAL_PATH = /\0|^\/|\/$|\/\/|(?:^|\/)\.\.?(?:\/|$)/;
/** Control characters, shown escaped in messages so a refusal stays one line. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A path as shown in messages: as is, or JSON-quoted when it holds control characters. */
export function showPath(path: string): string {
  return CONTROL.test(path) || path === "" ? JSON.stringify(path) : path;
}

/**
 * The one-line refusal of `member` of `archive` under `rule` (a
 * {@link PonchoError}, exit 3), e.g. `x.tar: refusing member a/b: lies under
 * symlink a`.
 */
export function refusal(archive: string, member: string, rule: string): PonchoError {
  return new PonchoError(`${archive}: refusing member ${showPath(member)}: ${rule}`);
}

/**
 * Normalises an archive member path to a relative `/`-separated path without
 * `.` components or trailing `/` (`""` for the root itself). Throws a
 * {@link refusal} naming the archive for absolute paths, `..` components
 * and NUL bytes.
 */
export function safeRelativePath(path: string, archive = "archive"): string {
  // Fast path: already normal (no empty, `.` or `..` part, no NUL) is returned as is.
  if (path !== "" && !UNUSUAL_PATH.test(path)) return path;
  const problem = pathProblem(path);
  if (problem) throw refusal(archive, path, problem);
  return path.split("/").filter((part) => part !== "" && part !== ".").join("/");
}

/**
 * Why `path` cannot name a place under a root (`NUL byte in the name`,
 * `absolute path`, `path contains '..'`), or `undefined` when it can.
 */
export function pathProblem(path: string): string | undefined {
  if (path.includes("\0")) return "NUL byte in the name";
  if (path.startsWith("/")) return "absolute path";
  if (path.split("/").includes("..")) return "path contains '..'";
  return undefined;
}

/**
 * Checks the form of a symlink target: not empty, no NUL byte, not absolute.
 * Whether a relative target stays inside is judged by {@link linkEscapes}
 * once all links are known.
 */
export function checkSymlinkTarget(linkPath: string, target: string, archive = "archive"): void {
  if (target === "" || target.includes("\0")) {
    throw refusal(archive, linkPath, `symlink target ${showPath(target)} is empty or invalid`);
  }
  if (target.startsWith("/")) {
    throw refusal(archive, linkPath, `symlink -> ${target} is absolute`);
  }
}

/**
 * Whether the symlink at `linkPath` -> `target` escapes the root, resolving
 * through every other link (`links`: path -> target; absolute targets
 * escape), so chains like `d/x -> ..` plus `y -> d/x/..` are caught. The
 * link's parent path must consist of real directories (the extractor
 * guarantees it), so its lexical location is its real one.
 */
export function linkEscapes(linkPath: string, target: string, links: Map<string, string>): boolean {
  if (target.startsWith("/")) return true;
  const stack = linkPath.split("/").slice(0, -1);
  const pending = target.split("/");
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (stack.length === 0) return true;
      stack.pop();
      continue;
    }
    stack.push(part);
    const next = links.get(stack.join("/"));
    if (next !== undefined) {
      if (++hops > 64 || next.startsWith("/")) return true; // a loop, or absolute
      stack.pop();
      pending.unshift(...next.split("/"));
    }
  }
  return false;
}

/**
 * Where a symlink at `linkPath` (relative to `root`) pointing to `target`
 * really leads, resolved on disk: every component is `lstat`ed and links met
 * on the way (in the link's own parent path too) are followed, with `root`
 * as the top. Returns the resolved path relative to `root`, or `undefined`
 * when it leaves `root` (a `..` above it, an absolute link, or more than 64
 * hops). Components that do not exist are taken as plain names.
 */
export function resolveInside(root: string, linkPath: string, target: string): string | undefined {
  if (target.startsWith("/")) return undefined;
  const stack: string[] = [];
  const pending = [...linkPath.split("/").slice(0, -1), ...target.split("/")];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (stack.length === 0) return undefined;
      stack.pop();
      continue;
    }
    stack.push(part);
    let next: string | undefined;
    try {
      const abs = `${root}/${stack.join("/")}`;
      if (Deno.lstatSync(abs).isSymlink) next = Deno.readLinkSync(abs);
    } catch (err) {
      if (!isAbsent(err)) {
        throw err;
      }
    }
    if (next !== undefined) {
      if (++hops > 64 || next.startsWith("/")) return undefined;
      stack.pop();
      pending.unshift(...next.split("/"));
    }
  }
  return stack.join("/");
}

/**
 * Checks that `rel` (a normal relative path) under `root` can be written by
 * Poncho itself without following a link: every existing component of its
 * parent path must be a real directory (`lstat`), so a symlink an archive
 * planted (`bin -> /victim`) is never followed. The last component may be
 * anything (the caller replaces it). Throws a {@link refusal} naming `what`.
 */
export function assertNoLinkInParents(root: string, rel: string, what = root): void {
  const parts = rel.split("/");
  let p = root;
  for (const part of parts.slice(0, -1)) {
    p = `${p}/${part}`;
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(p);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return; // created fresh by the writer
      throw err;
    }
    if (!info.isDirectory) {
      throw refusal(
        what,
        p.slice(root.length + 1),
        `${info.isSymlink ? "a symlink" : "not a directory"} where poncho writes ${rel}`,
      );
    }
  }
}
