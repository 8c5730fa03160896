/**
 * The CCTools drop-in names, end to end: launchers written by
 * `writeLaunchers` into a temp bin dir put first on PATH, run as real
 * processes by their bare names.
 */
import assert from "node:assert/strict";
import { withTempDir } from "./util.ts";
import { fileURLToPath } from "node:url";
import { writeLaunchers } from "../cli/dropin.ts";
import { materializeSources } from "../lib/sources/materialize.ts";

const MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));

async function withLaunchers(
  fn: (
    run: (name: string, ...args: string[]) => Promise<Deno.CommandOutput>,
    dir: string,
  ) => Promise<void>,
): Promise<void> {
  await withTempDir("poncho-test-", async (dir) => {
    await writeLaunchers(`${dir}/bin`, [Deno.execPath(), "run", "-A", "--quiet", MAIN]);
    const run = (name: string, ...args: string[]) =>
      new Deno.Command(name, {
        args,
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
        env: { PATH: `${dir}/bin:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`, NO_COLOR: "1" },
      }).output();
    await fn(run, dir);
  });
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("poncho_package_analyze script.py out.json through the launcher", async () => {
  await withLaunchers(async (run, dir) => {
    await Deno.writeTextFile(
      `${dir}/script.py`,
      "import os\nimport numpy\nfrom yaml import safe_load\n\ndef f():\n    import requests\n",
    );
    const out = await run("poncho_package_analyze", "script.py", "out.json");
    assert.equal(out.code, 0, text(out.stderr));
    const spec = JSON.parse(await Deno.readTextFile(`${dir}/out.json`));
    // Conda or pip, depending on what the local Python has installed.
    const deps: string[] = spec.conda.dependencies.flatMap((d: string | { pip: string[] }) =>
      typeof d === "string" ? [d] : d.pip
    );
    const names = deps.map((d) => d.split(/[=<> ]/)[0].toLowerCase());
    for (const want of ["python", "numpy", "pyyaml", "requests"]) {
      assert.ok(names.includes(want), `${want} missing from ${JSON.stringify(spec)}`);
    }
    assert.ok(!names.includes("os"));

    // CCTools' --toplevel keeps only module-level imports.
    const top = await run("poncho_package_analyze", "--toplevel", "script.py", "-");
    assert.equal(top.code, 0, text(top.stderr));
    assert.ok(!text(top.stdout).includes("requests"), text(top.stdout));
  });
});

Deno.test("poncho_package_run --help and errors through the launcher", async () => {
  await withLaunchers(async (run) => {
    const help = await run("poncho_package_run", "--help");
    assert.equal(help.code, 0, text(help.stderr));
    for (const opt of ["-e, --environment", "-u, --unpack-to", "-w, --wait-for-lock"]) {
      assert.ok(text(help.stdout).includes(opt), text(help.stdout));
    }
    const create = await run("poncho_package_create", "--help");
    assert.equal(create.code, 0, text(create.stderr));
    assert.ok(text(create.stdout).includes("<spec> <output>"), text(create.stdout));

    const missing = await run("poncho_package_run", "-e", "no-such-env.tar.gz", "true");
    assert.equal(missing.code, 2, text(missing.stderr));
    assert.equal(text(missing.stderr).trim().split("\n").length, 1, text(missing.stderr));
  });
});

Deno.test("poncho_package_run runs a command without '--' in an environment directory", async () => {
  await withLaunchers(async (run, dir) => {
    // A plain environment directory holding an http "file" source.
    await Deno.mkdir(`${dir}/env/bin`, { recursive: true });
    await Deno.writeTextFile(`${dir}/ref.dat`, "reference\n");
    await materializeSources(
      {
        channels: [],
        conda: [],
        pip: [],
        git: {},
        http: { REF_DB: { type: "file", url: `file://${dir}/ref.dat` } },
      },
      `${dir}/env`,
    );
    const out = await run(
      "poncho_package_run",
      "-k",
      "-e",
      "env",
      "cat",
      `${dir}/env/share/poncho/http/REF_DB/ref.dat`,
    );
    assert.equal(out.code, 0, text(out.stderr));
    assert.equal(text(out.stdout), "reference\n");
    const env = await run(
      "poncho_package_run",
      "--environment",
      "env",
      "sh",
      "-c",
      'cat "$REF_DB"',
    );
    assert.equal(text(env.stdout), "reference\n", text(env.stderr));
    // -n: prepare the environment, run nothing.
    const none = await run("poncho_package_run", "-e", "env", "-n");
    assert.equal(none.code, 0, text(none.stderr));
    assert.equal(text(none.stdout), "");
  });
});

Deno.test("poncho dropin DIR writes working launchers for users", () =>
  withTempDir("poncho-test-", async (dir) => {
    const made = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, "dropin", `${dir}/bin`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(made.code, 0, text(made.stderr));
    assert.equal(text(made.stdout).trim().split("\n").length, 6);
    await Deno.writeTextFile(`${dir}/s.py`, "import taggit\n");
    const out = await new Deno.Command("poncho_package_analyze", {
      args: ["s.py", "-"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      env: { PATH: `${dir}/bin:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}` },
    }).output();
    assert.equal(out.code, 0, text(out.stderr));
    assert.match(text(out.stdout), /django-taggit/); // named through the shipped import map
    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, "dropin"],
      stderr: "piped",
    }).output();
    assert.equal(bad.code, 1);
  }));
