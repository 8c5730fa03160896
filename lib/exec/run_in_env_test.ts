import assert from "node:assert/strict";
import { renderRunInEnv, writeRunInEnv } from "./run_in_env.ts";

Deno.test("bin/run_in_env activates, sources activate.d and execs its arguments", async () => {
  const prefix = await Deno.makeTempDir({ prefix: "poncho it's-" }); // a quote and a space
  try {
    const dir = `${prefix}/etc/conda/activate.d`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/x.sh`, 'export FROM_ACTIVATE="yes:$CONDA_PREFIX"\n');
    const launcher = await writeRunInEnv(prefix, prefix, [`${dir}/x.sh`]);
    assert.equal(launcher, `${prefix}/bin/run_in_env`);
    assert.equal((await Deno.stat(launcher)).mode! & 0o777, 0o755);
    await Deno.writeTextFile(`${prefix}/bin/tool`, '#!/bin/sh\necho "tool:$1"\n', { mode: 0o755 });

    const out = await new Deno.Command(launcher, {
      args: [
        "sh",
        "-c",
        'tool "$1"; echo "$FROM_ACTIVATE|$PONCHO_PREFIX|${PYTHONPATH-unset}|${PATH%%:*}"',
        "sh",
        "a b",
      ],
      env: { PYTHONPATH: "/bad" },
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assert.equal(lines[0], "tool:a b");
    assert.equal(lines[1], `yes:${prefix}|${prefix}|unset|${prefix}/bin`);

    const status = await new Deno.Command(launcher, { args: ["sh", "-c", "exit 9"] }).output();
    assert.equal(status.code, 9);
    const usage = await new Deno.Command(launcher, { stderr: "piped" }).output();
    assert.equal(usage.code, 1);
    assert.match(new TextDecoder().decode(usage.stderr), /usage: run_in_env/);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

Deno.test("renderRunInEnv quotes the prefix for sh", () => {
  const text = renderRunInEnv("/a b/it's", []);
  assert.match(text, /^#!\/bin\/sh\n/);
  assert.ok(text.includes(`CONDA_PREFIX='/a b/it'\\''s'`));
  assert.ok(text.endsWith('exec "$@"\n'));
});
