/**
 * Link-time checks of a package's metadata, which is as untrusted as its
 * archive: every path named by `info/paths.json`, `info/files`,
 * `info/has_prefix` or `info/no_link`, and every entry-point name, must be a
 * safe relative path (no `..`, not absolute, no NUL, no empty or `.`
 * component), and every `path_type` one Poncho knows. A package's symlink
 * whose target leaves the prefix is refused (the policy of
 * {@link checkLinkTarget}).
 *
 * Every refusal is one line naming the package, the path and the rule
 * (a {@link PonchoError}, exit 3).
 *
 * @module
 */

import { dirname } from "node:path";
import { fsError, PonchoError } from "../errors.ts";
import { isAbsent } from "../fs/probe.ts";
import { resolveInside, showPath } from "../archive/paths.ts";

/** The `path_type`s of `info/paths.json` a package may use. */
export const PATH_TYPES = ["hardlink", "softlink", "directory"] as const;

/** The refusal of `path` of package `pkg` under `rule`. */
function refuse(pkg: string, path: string, rule: string): PonchoError {
  return new PonchoError(`package ${pkg}: refusing path ${showPath(path)}: ${rule}`);
}

/**
 * Returns `path` when it is a safe relative path (components separated by
 * single `/`, none empty, `.` or `..`, no NUL, not absolute); else throws
 * naming `pkg` and `where` (the metadata file).
 */
export function checkPackagePath(pkg: string, path: unknown, where: string): string {
  if (typeof path !== "string" || path === "") {
    throw refuse(pkg, String(path ?? ""), `${where} names an empty or non-string path`);
  }
  if (path.includes("\0")) throw refuse(pkg, path, `${where} names a path with a NUL byte`);
  if (path.startsWith("/")) throw refuse(pkg, path, `${where} names an absolute path`);
  for (const part of path.split("/")) {
    if (part === "..") throw refuse(pkg, path, `${where} names a path with '..'`);
    if (part === "" || part === ".") {
      throw refuse(pkg, path, `${where} names a path with an empty or '.' component`);
    }
  }
  return path;
}

/** Returns `type` when it is one of {@link PATH_TYPES}; else throws naming the package and path. */
export function checkPathType(pkg: string, path: string, type: unknown): typeof PATH_TYPES[number] {
  if ((PATH_TYPES as readonly unknown[]).includes(type)) return type as typeof PATH_TYPES[number];
  throw refuse(
    pkg,
    path,
    `info/paths.json gives path_type ${JSON.stringify(type)} (known: ${PATH_TYPES.join(", ")})`,
  );
}

/**
 * Returns an entry point's command name when it is one safe path component
 * (it becomes `bin/<name>`); else throws naming the package.
 */
export function checkEntryPointName(pkg: string, name: string): string {
  checkPackagePath(pkg, name, "info/link.json entry point");
  if (name.includes("/")) {
    throw refuse(pkg, name, "info/link.json entry point name contains '/'");
  }
  return name;
}

/**
 * The symlink policy (deny; there is no allow or warn mode): a package's
 * symlink at `rel` (in `prefix`) pointing to `target` is allowed only when
 * the target is relative, in normal form (`..` only at its start: `../lib/x`,
 * never `d/y/..`, whose meaning a later package's link at `d/y` could
 * change), and, resolved from the link's real location through the links
 * already in the prefix (`resolveInside`), stays inside the prefix. Anything
 * else is refused, naming the package and the link.
 */
export function checkLinkTarget(pkg: string, prefix: string, rel: string, target: string): void {
  if (target === "" || target.includes("\0")) {
    throw refuse(pkg, rel, `symlink target ${showPath(target)} is empty or invalid`);
  }
  if (target.startsWith("/")) {
    throw refuse(pkg, rel, `symlink -> ${target} is absolute (links must stay in the prefix)`);
  }
  const parts = target.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p, i) => p === ".." && i > 0 && parts[i - 1] !== "..")) {
    throw refuse(pkg, rel, `symlink -> ${target} has '..' after a name (not normal form)`);
  }
  if (resolveInside(prefix, rel, target) === undefined) {
    throw refuse(pkg, rel, `symlink -> ${target} points outside the prefix`);
  }
}

/**
 * Guards the installer's writes into a prefix: before a directory is made,
 * the real location of its nearest existing ancestor (`lstat`, then
 * `realpath`) must lie inside the prefix's, so no write follows a link out
 * of it, even one whose meaning changed after later packages added links.
 */
export class PrefixGuard {
  readonly #pkg: string;
  readonly #prefix: string;
  #real: string | undefined;

  /**
   * A guard for package `pkg` writing into `prefix`.
   *
   * @param pkg Names the package in refusals.
   * @param prefix The prefix (absolute; created when missing).
   */
  constructor(pkg: string, prefix: string) {
    this.#pkg = pkg;
    this.#prefix = prefix;
  }

  /** Creates the directory `dir` (absolute, under the prefix) and its parents, kept inside. */
  mkdirp(dir: string): void {
    if (this.#real === undefined) {
      Deno.mkdirSync(this.#prefix, { recursive: true }); // the prefix itself is trusted
      this.#real = Deno.realPathSync(this.#prefix);
    }
    let p = dir;
    for (;;) {
      try {
        Deno.lstatSync(p);
        break;
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound) || p === this.#prefix) throw err;
        p = dirname(p);
      }
    }
    let real: string;
    try {
      real = Deno.realPathSync(p);
    } catch (err) {
      // A link leading nowhere (or in a loop) cannot be shown to stay inside: refused below.
      // Anything else (a permission, an I/O error) is the machine's, not the package's.
      if (!(isAbsent(err) || err instanceof Deno.errors.FilesystemLoop)) {
        throw fsError(err, p, { what: "cannot resolve" });
      }
      real = "(a dangling link)";
    }
    if (real !== this.#real && !real.startsWith(`${this.#real}/`)) {
      throw refuse(
        this.#pkg,
        p.startsWith(`${this.#prefix}/`) ? p.slice(this.#prefix.length + 1) : p,
        `leads outside the prefix (to ${real}) through a symlink; nothing is written there`,
      );
    }
    if (p !== dir) Deno.mkdirSync(dir, { recursive: true });
  }
}
