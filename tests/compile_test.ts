/**
 * `deno task compile` end to end: builds the single-file binary (only when
 * DENORT_BIN names a local denort, since deno compile cannot download one
 * here) and runs it, also under a CCTools name through a symlink.
 */
import assert from "node:assert/strict";
import { compileCommand, REPO_ROOT } from "../cli/compile.ts";

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
  name: "compile builds a poncho binary that runs analyze, also as poncho_package_analyze",
  ignore: !denortExists,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const bin = `${dir}/bin/poncho`;
      assert.equal(await compileCommand(["--output", bin]), 0);

      const version = await new Deno.Command(bin, { args: ["--version"], stdout: "piped" })
        .output();
      assert.equal(version.code, 0);
      assert.match(text(version.stdout), /^poncho \d+\.\d+\.\d+/);

      await Deno.writeTextFile(`${dir}/script.py`, "import sys\nimport numpy\n");
      const analyze = await new Deno.Command(bin, {
        args: ["analyze", "script.py", "-"],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(analyze.code, 0, text(analyze.stderr));
      assert.ok(text(analyze.stdout).includes("numpy"), text(analyze.stdout));

      // argv0 dispatch: the same binary under a CCTools name.
      await Deno.symlink(bin, `${dir}/bin/poncho_package_analyze`);
      const dropin = await new Deno.Command(`${dir}/bin/poncho_package_analyze`, {
        args: ["script.py", "out.json"],
        cwd: dir,
        stderr: "piped",
      }).output();
      assert.equal(dropin.code, 0, text(dropin.stderr));
      const spec = JSON.parse(await Deno.readTextFile(`${dir}/out.json`));
      assert.ok(JSON.stringify(spec).includes("numpy"), JSON.stringify(spec));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("compile without DENORT_BIN: tries the download, else explains and exits 3", async () => {
  const dir = await Deno.makeTempDir({ prefix: "poncho-compile-" });
  try {
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
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
