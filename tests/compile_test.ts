/**
 * `deno task compile` end to end: builds the `deno compile` binary (only
 * when DENORT_BIN names a local denort, since deno compile cannot download
 * one here) and runs on it the checks `tests/dist_test.ts` runs on
 * `dist/poncho` (`tests/single_file.ts`).
 */
import assert from "node:assert/strict";
import { compileCommand, REPO_ROOT } from "../cli/compile.ts";
import { fixtureToolsAvailable } from "./fixtures/channel.ts";
import { checkSingleFile } from "./single_file.ts";
import { withTempDir } from "./util.ts";

const tools = await fixtureToolsAvailable();

const denort = Deno.env.get("DENORT_BIN");
const denortExists = denort !== undefined &&
  (await Deno.stat(denort).then((s) => s.isFile, () => false));
if (!denortExists) {
  console.log(
    denort === undefined
      ? "compile_test.ts: skipped, DENORT_BIN is not set (deno compile needs a local denort)"
      : `compile_test.ts: skipped, DENORT_BIN=${denort} does not exist`,
  );
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test({
  name: "compile builds a poncho binary that passes the single-file checks of dist/poncho",
  ignore: !denortExists || !tools.ok,
  fn: async () => {
    await withTempDir("poncho-compile-", async (dir) => {
      const bin = `${dir}/bin/poncho`;
      assert.equal(await compileCommand(["--output", bin]), 0);
      // The same checks as tests/dist_test.ts: alone in an empty dir, env -i, analyze, create,
      // run -e, run script.py and poncho_package_run.
      await checkSingleFile(bin);
    });
  },
});

Deno.test("compile without DENORT_BIN: tries the download, else explains and exits 3", () =>
  withTempDir("poncho-compile-", async (dir) => {
    const bin = `${dir}/poncho`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", `${REPO_ROOT}/cli/compile.ts`, "--output", bin],
      env: { DENORT_BIN: "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.code === 0) {
      // A machine that can download denort builds a working binary.
      const v = await new Deno.Command(bin, { args: ["--version"], stdout: "piped" }).output();
      assert.match(text(v.stdout), /^poncho /);
      return;
    }
    assert.equal(out.code, 3, text(out.stderr));
    const err = text(out.stderr).trim();
    assert.equal(err.split("\n").length, 1, err);
    assert.ok(err.includes("DENORT_BIN"), err);
  }));
