import assert from "node:assert/strict";
import { withTempDir } from "../tests/util.ts";
import { cctoolsArgs, shQuote, writeLaunchers } from "./dropin.ts";

Deno.test("cctoolsArgs: poncho_package_run options become poncho run options", () => {
  const run = (...a: string[]) => cctoolsArgs("poncho_package_run", a);
  // A command without '--' (CCTools' usual form), options before it kept.
  assert.deepEqual(run("-e", "env.tar.gz", "-u", "dir", "python3", "-c", "1"), [
    "-e",
    "env.tar.gz",
    "-u",
    "dir",
    "--",
    "python3",
    "-c",
    "1",
  ]);
  // Options after the command belong to the command.
  assert.deepEqual(run("--environment", "e", "--", "ls", "-k"), [
    "--environment",
    "e",
    "--",
    "ls",
    "-k",
  ]);
  // -k and -r are no-ops; -d and -w pass through.
  assert.deepEqual(run("-k", "-r", "-d", "-w", "5", "-e", "e", "cmd"), [
    "-d",
    "-w",
    "5",
    "-e",
    "e",
    "--",
    "cmd",
  ]);
  // No command, or -n: unpack only.
  assert.deepEqual(run("-e", "e"), ["-e", "e", "--", "true"]);
  assert.deepEqual(run("-n", "-e", "e", "python3", "x.py"), ["-e", "e", "--", "true"]);
  assert.deepEqual(run("--help-env-creation"), ["--help"]);
  assert.deepEqual(run("-h"), ["-h"]);
});

Deno.test("cctoolsArgs: create drops CCTools-only flags, analyze is unchanged", () => {
  assert.deepEqual(
    cctoolsArgs("poncho_package_create", [
      "--no-micromamba",
      "spec.json",
      "--ignore-editable-packages",
      "--conda-executable",
      "/opt/conda/bin/mamba",
      "out.tar.gz",
    ]),
    ["spec.json", "--conda-executable", "/opt/conda/bin/mamba", "out.tar.gz"],
  );
  const a = ["--toplevel", "--pkg-mapping", "yaml=pyyaml", "-", "out.json"];
  assert.deepEqual(cctoolsArgs("poncho_package_analyze", a), a);
});

Deno.test("shQuote quotes for POSIX sh", () => {
  assert.equal(shQuote("/usr/bin/deno"), "/usr/bin/deno");
  assert.equal(shQuote("a b"), "'a b'");
  assert.equal(shQuote("it's"), `'it'\\''s'`);
  assert.equal(shQuote(""), "''");
});

Deno.test("writeLaunchers writes six executable sh scripts (both CCTools generations)", () =>
  withTempDir("poncho-test-", async (dir) => {
    const paths = await writeLaunchers(`${dir}/bin`, ["/opt/my poncho/poncho"]);
    assert.deepEqual(paths.map((p) => p.slice(dir.length)), [
      "/bin/poncho_package_analyze",
      "/bin/poncho_package_create",
      "/bin/poncho_package_run",
      "/bin/python_package_analyze",
      "/bin/python_package_create",
      "/bin/python_package_run",
    ]);
    const text = await Deno.readTextFile(paths[2]);
    assert.ok(text.startsWith("#!/bin/sh\n"), text);
    assert.ok(text.includes(`exec '/opt/my poncho/poncho' poncho_package_run "$@"\n`), text);
    assert.equal((await Deno.stat(paths[0])).mode! & 0o777, 0o755);
  }));
