import assert from "node:assert/strict";
import { withTempDir } from "../../tests/util.ts";
import { COMPLETE_MARKER, payloadFiles, renderLauncher, runtimePackages } from "./build.ts";

import { REPO_ROOT as ROOT } from "../../cli/compile.ts";

Deno.test("renderLauncher: OFFSET is the byte right after the launcher", async () => {
  const sha = "ab".repeat(32);
  const text = await renderLauncher(sha);
  const bytes = new TextEncoder().encode(text);
  const offset = Number(text.match(/^OFFSET=(\d+)$/m)?.[1]);
  assert.equal(offset, bytes.length + 1);
  assert.match(text, new RegExp(`^PAYLOAD=${sha}$`, "m"));
  assert.doesNotMatch(text, /@[A-Z0-9_]+@/, "every placeholder is filled");
  assert.ok(text.startsWith("#!/bin/sh\n") && text.endsWith("\n"));
  // The launcher is valid POSIX sh.
  const check = await new Deno.Command("sh", { args: ["-n"], stdin: "piped" }).spawn();
  const w = check.stdin.getWriter();
  await w.write(bytes);
  await w.close();
  assert.ok((await check.status).success);
});

Deno.test("runtimePackages: the lock file's non-dev packages, not Deno or types", async () => {
  const pkgs = await runtimePackages(ROOT);
  assert.ok(pkgs.includes("node_modules/@conda-org/rattler"), pkgs.join(" "));
  assert.ok(pkgs.includes("node_modules/yaml"));
  assert.ok(!pkgs.some((p) => /node_modules\/(deno|@deno\/|@types\/)/.test(p)), pkgs.join(" "));
});

Deno.test("payloadFiles: deno, config, code without tests, packages, the marker last", async () => {
  const files = await payloadFiles(ROOT, Deno.execPath());
  const paths = files.map((f) => f.path);
  assert.equal(paths[0], "deno");
  assert.equal(files[0].mode, 0o755);
  assert.equal(paths.at(-1), COMPLETE_MARKER);
  for (const p of ["app/deno.json", "app/cli/main.js", "app/store/layout.js"]) {
    assert.ok(paths.includes(p), p);
  }
  // The code travels as Deno's emit: JavaScript whose relative imports name .js files.
  const code = files.filter((f) => /^app\/(cli|lib|store)\//.test(f.path) && !f.directory);
  assert.ok(!code.some((f) => /(?<!\.d)\.ts$/.test(f.path)), "no TypeScript module in the payload");
  const run = new TextDecoder().decode(files.find((f) => f.path === "app/lib/run.js")!.data);
  assert.match(run, /import \{ [^}]+ \} from "\.\/errors\.js";$/m);
  assert.doesNotMatch(run, /from "[^"]*\.ts"|sourceMappingURL|denoCacheMetadata|: Promise</);
  assert.ok(paths.includes("app/lib/analyze/mapping_data.json"), "data files travel too");
  assert.ok(!paths.some((p) => p.endsWith("_test.ts")));
  assert.ok(!paths.includes("app/package.json"), "no package.json: it slows every start");
  assert.ok(
    paths.includes("app/node_modules/@conda-org") &&
      paths.indexOf("app/node_modules/@conda-org") <
        paths.indexOf("app/node_modules/@conda-org/rattler"),
  );
  assert.equal(new Set(paths).size, paths.length, "no member twice");
  const config = JSON.parse(
    new TextDecoder().decode(files.find((f) => f.path === "app/deno.json")!.data),
  );
  assert.deepEqual(config, { nodeModulesDir: "manual", lock: false });
});

Deno.test("runtimePackages: nested packages travel with their parent, dev ones stay", () =>
  withTempDir("poncho-test-", async (root) => {
    await Deno.writeTextFile(
      `${root}/package-lock.json`,
      JSON.stringify({
        packages: {
          "": {},
          "node_modules/a": {},
          "node_modules/a/node_modules/b": {},
          "node_modules/ab": {},
          "node_modules/@s/c": {},
          "node_modules/d": { dev: true },
        },
      }),
    );
    assert.deepEqual(await runtimePackages(root), [
      "node_modules/@s/c",
      "node_modules/a",
      "node_modules/ab",
    ]);
  }));
