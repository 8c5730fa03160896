import assert from "node:assert/strict";
import { join } from "node:path";
import { runPoncho, withTempDir } from "../tests/util.ts";

Deno.test("cli index: --help, usage errors, a missing directory", async () => {
  const help = await runPoncho(["index", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: poncho index \[options\] DIR/);
  const none = await runPoncho(["index"]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^poncho index: expected one channel directory/);
  const missing = await runPoncho(["index", "/nonexistent/channel"]);
  assert.equal(missing.code, 2);
  assert.equal(
    missing.stderr.trim(),
    "poncho index: /nonexistent/channel: no such channel directory",
  );
});

Deno.test("cli index: an empty directory becomes an empty channel with noarch", () =>
  withTempDir("poncho-index-cli-", async (dir) => {
    await Deno.writeTextFile(join(dir, "stray-1.0-0.conda"), "x");
    const r = await runPoncho(["index", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "noarch: 0 packages (0 read, 0 unchanged)\n");
    assert.match(r.stderr, /stray-1\.0-0\.conda: not in a subdir folder; move it to .*, skipped/);
    const repodata = JSON.parse(await Deno.readTextFile(join(dir, "noarch", "repodata.json")));
    assert.deepEqual(repodata, {
      info: { subdir: "noarch" },
      packages: {},
      "packages.conda": {},
      removed: [],
      repodata_version: 1,
    });
    const map = JSON.parse(await Deno.readTextFile(join(dir, "noarch", "import-map.json")));
    assert.deepEqual(map.packages, {});
  }));

const LINKED = new URL(
  "../../shared/realpkgs/conda+conda/noarch__versioned-1.0-0.conda",
  import.meta.url,
).pathname;
const haveShared = await Deno.stat(LINKED).then(() => true, () => false);

Deno.test({
  name: "cli index: packages linked into a subdir are indexed",
  ignore: !haveShared,
  fn: () =>
    withTempDir("poncho-index-cli-", async (dir) => {
      await Deno.mkdir(join(dir, "noarch"));
      await Deno.symlink(LINKED, join(dir, "noarch", "versioned-1.0-0.conda"));
      const r = await runPoncho(["index", "--json", dir]);
      assert.equal(r.code, 0, r.stderr);
      const repodata = JSON.parse(await Deno.readTextFile(join(dir, "noarch", "repodata.json")));
      assert.equal(repodata["packages.conda"]["versioned-1.0-0.conda"].name, "versioned");
    }),
});
