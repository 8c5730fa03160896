/**
 * Package link scripts, run as conda runs them at install time (never again
 * at unpack time: their effects are packed into the archive).
 *
 * - `info/prelink_messages/*`: shown before linking.
 * - `bin/.<name>-post-link.sh`: after every package is linked, in install
 *   order, with the environment activated (`CONDA_PREFIX`, `PATH` with
 *   `$PREFIX/bin` first, `etc/conda/activate.d/*.sh` sourced) and the script
 *   sourced by `bash` (`/bin/sh` without bash), cwd `$PREFIX/bin`, with
 *   `PREFIX`, `PKG_NAME`, `PKG_VERSION`, `PKG_BUILDNUM`, `ROOT_PREFIX` set.
 *   What the script appends to `$PREFIX/.messages.txt` is shown and the file
 *   removed. A failing script fails the install with the package, the
 *   script and its last output lines.
 *
 * @module
 */

import { join, relative } from "node:path";
import { BuildError, fsError } from "../errors.ts";
import { isAbsent, statOrNullSync } from "../fs/probe.ts";
import { PACKAGE_NAME_RE } from "../envspec/parse.ts";
import { activationEnv, findActivateScripts, shellQuote } from "../exec/activate.ts";

/** The package a link script belongs to. */
export interface ScriptPackage {
  /** Package name. */
  name: string;
  /** Version. */
  version: string;
  /** Build string. */
  build: string;
  /** Build number. */
  buildNumber: number;
  /** Download URL (named in errors). */
  url?: string;
}

/**
 * Where a package's post-link script lies, relative to the prefix. The name
 * comes from the channel (untrusted): one that is not a conda package name
 * (a `/`, `..`) is refused, so no script outside the prefix can be run.
 *
 * @throws {PonchoError} (exit 3) for a name that is not a package name.
 */
export function postLinkScriptPath(name: string): string {
  if (!PACKAGE_NAME_RE.test(name) || name.startsWith(".")) {
    throw new BuildError(
      `package name ${JSON.stringify(name)} from the channel is not a conda package name; ` +
        "refusing to look for its link scripts (fix the channel's repodata)",
    );
  }
  return `bin/.${name}-post-link.sh`;
}

/** The file scripts append messages to, relative to the prefix. */
export const MESSAGES_FILE = ".messages.txt";

/** How many of a failing script's last output lines the error shows. */
export const FAILURE_TAIL_LINES = 10;

/**
 * The pre-link messages of an extracted package (`info/prelink_messages/**`),
 * as `[file name, text]` in path order; `[]` when there are none.
 */
export async function prelinkMessages(pkgDir: string): Promise<[string, string][]> {
  const root = join(pkgDir, "info", "prelink_messages");
  const out: [string, string][] = [];
  const visit = async (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch (err) {
      if (isAbsent(err)) return;
      throw err;
    }
    for (const e of entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) {
      const p = join(dir, e.name);
      if (e.isDirectory) await visit(p);
      else if (e.isFile) out.push([relative(root, p), await Deno.readTextFile(p)]);
    }
  };
  await visit(root);
  return out;
}

/** The text conda prints for a package's pre-link messages. */
export function formatPrelinkMessages(dist: string, messages: [string, string][]): string {
  const lines = [`The following PRELINK MESSAGES are INCLUDED (${dist}):`, ""];
  for (const [file, text] of messages) {
    lines.push(`  File ${file}:`, "");
    lines.push(...text.replace(/\n$/, "").split("\n").map((l) => `  ${l}`), "");
  }
  return lines.join("\n");
}

/** Reads and removes `$PREFIX/.messages.txt`; its text, or undefined when absent. */
export async function takeMessages(prefix: string): Promise<string | undefined> {
  const path = join(prefix, MESSAGES_FILE);
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  } finally {
    // Never left in the prefix (it would be packed): only its absence is expected here.
    await Deno.remove(path).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw fsError(err, path, { what: "cannot remove the link scripts' messages" });
      }
    });
  }
}

/**
 * Whether `path` is a regular file (following links); false when there is
 * nothing there. Any other failure (a permission, a link loop) is an error
 * naming the path: it is not taken for "no such file".
 */
function isFile(path: string, what: string): boolean {
  return statOrNullSync(path, { role: "store", what })?.isFile ?? false;
}

let bashPath: string | undefined | null;
/** `bash` if this machine has one (conda runs link scripts with bash on Linux), else `/bin/sh`. */
function scriptShell(): string {
  if (bashPath === undefined) {
    bashPath = ["/bin/bash", "/usr/bin/bash"].find((p) => isFile(p, "cannot look for bash at")) ??
      null;
  }
  return bashPath ?? "/bin/sh";
}

/** Options of {@link runPostLink}. */
export interface PostLinkOptions {
  /** Receives the messages the script left in `.messages.txt`. */
  onMessages?: (dist: string, text: string) => void;
}

/**
 * Runs `pkg`'s post-link script in `prefix` if the package has one; returns
 * whether it ran.
 *
 * @throws {PonchoError} (exit 3) when the script fails, naming the package,
 *   its URL, the script and the last lines of its output and messages.
 */
export async function runPostLink(
  prefix: string,
  pkg: ScriptPackage,
  opts: PostLinkOptions = {},
): Promise<boolean> {
  const rel = postLinkScriptPath(pkg.name);
  const script = join(prefix, rel);
  const dist = `${pkg.name}-${pkg.version}-${pkg.build}`;
  if (!isFile(script, `cannot read the post-link script of package ${dist}`)) return false;
  const env = activationEnv(prefix);
  Object.assign(env, {
    PREFIX: prefix,
    ROOT_PREFIX: prefix,
    PKG_NAME: pkg.name,
    PKG_VERSION: pkg.version,
    PKG_BUILDNUM: String(pkg.buildNumber),
  });
  // Activated as `conda activate` would, then the script sourced (`return` works in it),
  // traced (`set -x`, as conda runs scripts) so a failure shows the commands that ran.
  const program = [
    ...findActivateScripts(prefix).map((s) => `. ${shellQuote(s)}`),
    "set -x",
    `. ${shellQuote(script)}`,
  ].join("\n");
  const out = await new Deno.Command(scriptShell(), {
    args: ["-c", program],
    cwd: join(prefix, "bin"),
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const messages = await takeMessages(prefix);
  if (out.success) {
    if (messages) opts.onMessages?.(dist, messages);
    return true;
  }
  const dec = new TextDecoder();
  const tail = (text: string, n: number) =>
    text.split("\n").map((l) => l.trim()).filter(Boolean).slice(-n).join(" | ");
  const output = tail(`${dec.decode(out.stdout)}\n${dec.decode(out.stderr)}`, FAILURE_TAIL_LINES);
  const said = tail(messages ?? "", FAILURE_TAIL_LINES);
  throw new BuildError(
    `post-link script ${rel} of package ${dist}${pkg.url ? ` (${pkg.url})` : ""} ` +
      `failed with exit ${out.code}` + (said ? `; its messages: ${said}` : "") +
      (output ? `; its last output: ${output}` : "; it printed nothing") +
      `; nothing was installed (use --no-link-scripts to skip link scripts)`,
  );
}
