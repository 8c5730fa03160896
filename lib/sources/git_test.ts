import assert from "node:assert/strict";
import { PonchoError } from "../errors.ts";
import { cloneGitSource } from "./git.ts";
import { git, rejection, withTempDir } from "../../tests/util.ts";

const gitAvailable = await new Deno.Command("git", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);
if (!gitAvailable) console.log("git_test.ts: skipped, the 'git' command is not installed");

/** The PonchoError `p` rejects with (fails the test otherwise). */
const failure = (p: Promise<unknown>) => rejection(p, PonchoError);

/** A repo with three commits: v1 (tagged), a commit on branch `dev`, then main's head. */
async function makeRepo(dir: string): Promise<Record<string, string>> {
  await git(dir, "init", "--quiet", "--initial-branch=main");
  await Deno.writeTextFile(`${dir}/data.txt`, "one\n");
  await git(dir, "add", "data.txt");
  await git(dir, "commit", "--quiet", "-m", "one");
  await git(dir, "tag", "v1");
  const v1 = await git(dir, "rev-parse", "HEAD");
  await git(dir, "checkout", "--quiet", "-b", "dev");
  await Deno.writeTextFile(`${dir}/data.txt`, "dev\n");
  await git(dir, "commit", "--quiet", "-am", "dev");
  const dev = await git(dir, "rev-parse", "HEAD");
  await git(dir, "checkout", "--quiet", "main");
  await Deno.writeTextFile(`${dir}/data.txt`, "two\n");
  await Deno.mkdir(`${dir}/sub`);
  await Deno.writeTextFile(`${dir}/sub/more.txt`, "more\n");
  await git(dir, "add", ".");
  await git(dir, "commit", "--quiet", "-m", "two");
  const main = await git(dir, "rev-parse", "HEAD");
  return { v1, dev, main };
}

/** Calls `fn` with a temp dir, the repo of {@linkcode makeRepo} in `<tmp>/repo` and its commits. */
async function withRepo(
  fn: (tmp: string, repo: string, ids: Record<string, string>) => Promise<void>,
): Promise<void> {
  await withTempDir("poncho-git-test-", async (tmp) => {
    const repo = `${tmp}/repo`;
    await Deno.mkdir(repo);
    await fn(tmp, repo, await makeRepo(repo));
  });
}

Deno.test({
  name: "cloneGitSource checks out HEAD, a tag, a branch and a commit, without .git",
  ignore: !gitAvailable,
  fn: () =>
    withRepo(async (tmp, repo, ids) => {
      const read = (p: string) => Deno.readTextFile(p);

      const head = await cloneGitSource("D", { remote: repo }, `${tmp}/out/head`);
      assert.deepEqual(head.commit, ids.main);
      assert.deepEqual(await read(`${tmp}/out/head/data.txt`), "two\n");
      assert.deepEqual(await read(`${tmp}/out/head/sub/more.txt`), "more\n");
      await assert.rejects(Deno.stat(`${tmp}/out/head/.git`), Deno.errors.NotFound);

      const tag = await cloneGitSource("D", { remote: `file://${repo}`, ref: "v1" }, `${tmp}/t`);
      assert.deepEqual(tag.commit, ids.v1);
      assert.deepEqual(await read(`${tmp}/t/data.txt`), "one\n");

      const branch = await cloneGitSource(
        "D",
        { remote: `file://${repo}`, ref: "dev" },
        `${tmp}/b`,
      );
      assert.deepEqual(branch.commit, ids.dev);
      assert.deepEqual(await read(`${tmp}/b/data.txt`), "dev\n");

      const short = ids.dev.slice(0, 10);
      const commit = await cloneGitSource("D", { remote: repo, ref: short }, `${tmp}/c`);
      assert.deepEqual(commit.commit, ids.dev);
      assert.deepEqual(await read(`${tmp}/c/data.txt`), "dev\n");

      // Re-materialising replaces the old tree; no scratch directories are left behind.
      await cloneGitSource("D", { remote: repo, ref: "v1" }, `${tmp}/c`);
      assert.deepEqual(await read(`${tmp}/c/data.txt`), "one\n");
      const names = [];
      for await (const e of Deno.readDir(tmp)) names.push(e.name);
      assert.deepEqual(names.sort(), ["b", "c", "out", "repo", "t"]);
    }),
});

Deno.test({
  name: "cloneGitSource: a bad ref or an unreachable remote is a one-line error naming key and URL",
  ignore: !gitAvailable,
  fn: () =>
    withRepo(async (tmp, repo) => {
      const bad = await failure(
        cloneGitSource("DATA_DIR", { remote: repo, ref: "nope" }, `${tmp}/x`),
      );
      assert.ok(bad.message.includes("git.DATA_DIR") && bad.message.includes(repo), bad.message);
      assert.ok(bad.message.includes("'nope'"), bad.message);
      assert.ok(!bad.message.includes("\n"), bad.message);

      const missing = `file://${tmp}/no-such-repo`;
      const gone = await failure(cloneGitSource("DATA_DIR", { remote: missing }, `${tmp}/y`));
      assert.ok(
        gone.message.includes("git.DATA_DIR") && gone.message.includes(missing),
        gone.message,
      );
      assert.ok(!gone.message.includes("\n"), gone.message);
      assert.deepEqual(gone.exitCode, 3);
      await assert.rejects(Deno.stat(`${tmp}/x`), Deno.errors.NotFound);
      await assert.rejects(Deno.stat(`${tmp}/y`), Deno.errors.NotFound);
    }),
});
