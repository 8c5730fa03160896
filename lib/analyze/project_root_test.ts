import assert from "node:assert/strict";
import { tempTree } from "../../tests/util.ts";
import { join } from "node:path";
import { findProjectRoot, PROJECT_MARKERS } from "./project_root.ts";
import { projectRootsOf } from "./resolve_context.ts";
import { discoverSources, extraSearchDirs } from "./sources.ts";

/** A temp dir (by its real path) holding `files`. */
async function tree(files: Record<string, string>): Promise<string> {
  return await Deno.realPath(await tempTree(files));
}

Deno.test("project root: each packaging file marks it, the nearest wins, .git does not", async () => {
  const dir = await tree({
    "repo/.git/HEAD": "ref: refs/heads/main\n",
    "repo/tools/a/setup.cfg": "",
    "repo/tools/a/x/run.py": "",
    "repo/tools/b/setup.py": "",
    "repo/tools/c/pyproject.toml": "",
    "repo/tools/c/inner/pyproject.toml": "",
    "repo/scripts/s.py": "",
  });
  try {
    assert.deepEqual(PROJECT_MARKERS, ["pyproject.toml", "setup.py", "setup.cfg"]);
    assert.equal(await findProjectRoot(join(dir, "repo/tools/a/x")), join(dir, "repo/tools/a"));
    assert.equal(await findProjectRoot(join(dir, "repo/tools/b")), join(dir, "repo/tools/b"));
    assert.equal(
      await findProjectRoot(join(dir, "repo/tools/c/inner")),
      join(dir, "repo/tools/c/inner"),
    );
    // a repository without packaging files is not a project root
    assert.equal(await findProjectRoot(join(dir, "repo/scripts")), null);
    // a path under a regular file has no root (absent, not an error)
    assert.equal(await findProjectRoot(join(dir, "repo/scripts/s.py/x")), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("project root: declared requirements and local search use the same root", async () => {
  const dir = await tree({
    "proj/pyproject.toml": "",
    "proj/app/main.py": "",
    "repo/.git/HEAD": "",
    "repo/sub/tool.py": "",
  });
  try {
    const files = await discoverSources([join(dir, "proj/app/main.py"), join(dir, "repo/sub")]);
    const given = [join(dir, "proj/app/main.py"), join(dir, "repo/sub")];
    // declared requirements: the marked root, else the analysed directory (never the .git one)
    assert.deepEqual(await projectRootsOf(files, given), [
      join(dir, "proj"),
      join(dir, "repo/sub"),
    ]);
    // local-module search: the same marked root; the .git directory adds nothing
    assert.deepEqual(await extraSearchDirs(files, undefined, dir), [join(dir, "proj")]);
    // a shared memo answers every directory walked
    const memo = new Map<string, string | null>();
    await findProjectRoot(join(dir, "proj/app"), memo);
    assert.equal(memo.get(join(dir, "proj/app")), join(dir, "proj"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
