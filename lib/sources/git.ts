/**
 * Materialises a spec's `git` source (CCTools' `"git": {"KEY": {"remote":
 * URL, "ref": REF}}`) as a plain directory tree, using the `git` command.
 *
 * The checkout is made in a scratch directory beside the destination and
 * renamed into place, so a failure leaves nothing half-written. The `.git`
 * directory is removed: the tree ends up inside an environment archive that
 * is copied to every worker, where history would only add size (often far
 * more than the checkout itself) and nobody commits; the resolved commit is
 * returned instead so that the provenance is still recorded.
 *
 * `ref` may be a branch, a tag or a (possibly abbreviated) commit. Branches
 * and tags are fetched shallowly; anything else falls back to a full clone and
 * `git rev-parse`.
 *
 * @module
 */

import { dirname } from "node:path";
import { NotFoundError, PonchoError, UsageError } from "../errors.ts";
import type { GitSource } from "../envspec/types.ts";
import { deleteTree } from "../../store/remove.ts";
import { publishDir } from "../fs/atomic.ts";

/** Options of {@link cloneGitSource}. */
export interface GitOptions {
  /** The git executable (default `git` from `PATH`). */
  git?: string;
}

/** What {@link cloneGitSource} checked out. */
export interface GitResult {
  /** The full commit id that was checked out. */
  commit: string;
}

interface GitRun {
  ok: boolean;
  stdout: string;
  stderr: string;
}

async function git(exe: string, args: string[], cwd?: string): Promise<GitRun> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(exe, {
      args,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Never prompt for credentials: an unreachable or private remote must fail, not hang.
      env: { GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "true", SSH_ASKPASS: "true", LC_ALL: "C" },
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(
        `git sources need the '${exe}' command, which was not found; install git or drop the spec's 'git' key`,
        { cause: e },
      );
    }
    throw e;
  }
  const dec = new TextDecoder();
  return { ok: out.success, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The last meaningful line of git's stderr (`fatal: ...`), for one-line errors. */
function gitReason(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const fatal = lines.filter((l) => /^(fatal|error):/.test(l));
  return (fatal.at(-1) ?? lines.at(-1) ?? "git failed").replace(/^(fatal|error):\s*/, "");
}

/**
 * Clones `src.remote` at `src.ref` (default: the remote's HEAD) into `dest`
 * (which must not exist yet; its parent is created) without `.git`.
 *
 * @param key The spec key (an environment variable name), used in errors.
 * @throws {UsageError} when the remote or ref starts with `-` (it would be an option).
 * @throws {PonchoError} naming the key and remote when the remote cannot be
 *   cloned or the ref does not exist.
 */
export async function cloneGitSource(
  key: string,
  src: GitSource,
  dest: string,
  opts: GitOptions = {},
): Promise<GitResult> {
  const exe = opts.git ?? "git";
  const where = `git.${key} (${src.remote}${src.ref ? ` at ${src.ref}` : ""})`;
  if (src.ref?.startsWith("-") || src.remote.startsWith("-")) {
    throw new UsageError(`${where}: a remote or ref may not start with '-'`);
  }
  await Deno.mkdir(dirname(dest), { recursive: true });
  const work = await Deno.makeTempDir({ dir: dirname(dest), prefix: `.git-${key}-` });
  const tree = `${work}/tree`;
  try {
    const commit = await checkout(exe, src, tree, where);
    await Deno.remove(`${tree}/.git`, { recursive: true });
    await deleteTree(dest);
    await publishDir(tree, dest);
    return { commit };
  } finally {
    await deleteTree(work);
  }
}

async function checkout(exe: string, src: GitSource, tree: string, where: string): Promise<string> {
  const clone = ["-c", "advice.detachedHead=false", "clone", "--quiet"];
  if (src.ref === undefined) {
    const r = await git(exe, [...clone, "--depth", "1", "--", src.remote, tree]);
    if (!r.ok) throw new PonchoError(`${where}: cannot clone: ${gitReason(r.stderr)}`);
    return await headCommit(exe, tree, where);
  }
  // Fast path: a branch or tag name, fetched shallowly.
  const shallow = await git(
    exe,
    [...clone, "--depth", "1", "--branch", src.ref, "--", src.remote, tree],
  );
  if (shallow.ok) return await headCommit(exe, tree, where);
  await deleteTree(tree);
  // Anything else (a commit id, a server without shallow support, or an
  // unreachable remote): a full clone, then resolve the ref locally.
  const full = await git(exe, [...clone, "--no-checkout", "--", src.remote, tree]);
  if (!full.ok) throw new PonchoError(`${where}: cannot clone: ${gitReason(full.stderr)}`);
  let commit: string | undefined;
  for (const candidate of [src.ref, `origin/${src.ref}`]) {
    const r = await git(exe, ["rev-parse", "--verify", "--quiet", `${candidate}^{commit}`], tree);
    if (r.ok) {
      commit = r.stdout.trim();
      break;
    }
  }
  if (commit === undefined) {
    throw new PonchoError(
      `${where}: ref '${src.ref}' is not a branch, tag or commit of the remote`,
    );
  }
  const co = await git(
    exe,
    ["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit],
    tree,
  );
  if (!co.ok) throw new PonchoError(`${where}: cannot check out: ${gitReason(co.stderr)}`);
  return commit;
}

async function headCommit(exe: string, tree: string, where: string): Promise<string> {
  const r = await git(exe, ["rev-parse", "--verify", "HEAD^{commit}"], tree);
  if (!r.ok) {
    throw new PonchoError(`${where}: the remote has no commit to check out (empty repository?)`);
  }
  return r.stdout.trim();
}
