/**
 * `poncho run script.py` names packages like `poncho analyze`: `--pkg-mapping`
 * first, then (here) the `-c` channel's import map; an import nothing names is
 * left out with a `file:line` warning. Dry runs only: nothing is built.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildTestChannel } from "./fixtures/channel.ts";
import { fixtureTools, runPoncho, withTempDir } from "./util.ts";

const tools = await fixtureTools("run resolution tests");

Deno.test({
  name: "run script.py: --pkg-mapping, the channel's import map, unresolved imports left out",
  ignore: !tools.ok,
  fn: () =>
    withTempDir("poncho-run-names-", async (dir) => {
      const ch = await buildTestChannel();
      const script = join(dir, "job.py");
      await Deno.writeTextFile(script, "import pyhello\nimport greet_alias\n");
      const env = { PONCHO_STORE: join(dir, "store") };
      const base = ["run", "--dry-run", "--json", "-c", ch.url, "--python", ch.pythonShort];

      const plain = await runPoncho([...base, script], { env });
      assert.equal(plain.code, 0, plain.stderr);
      assert.deepEqual(JSON.parse(plain.stdout).spec.conda.dependencies, [
        `python=${ch.pythonShort}`,
        "pyhello", // from the channel's import-map.json
      ]);
      assert.match(
        plain.stderr,
        new RegExp(`warning: ${script}:2: import greet_alias: .*--pkg-mapping greet_alias=PACKAGE`),
      );

      const mapped = await runPoncho([...base, "--pkg-mapping", "greet_alias=hello", script], {
        env,
      });
      assert.equal(mapped.code, 0, mapped.stderr);
      assert.deepEqual(JSON.parse(mapped.stdout).spec.conda.dependencies, [
        `python=${ch.pythonShort}`,
        "hello",
        "pyhello",
      ]);
      assert.doesNotMatch(mapped.stderr, /greet_alias/);

      const withEnv = await runPoncho(["run", "-e", dir, "--pkg-mapping", "a=b", "true"], { env });
      assert.equal(withEnv.code, 1);
      assert.match(withEnv.stderr, /--pkg-mapping is for automatic environments/);
    }),
});
