import assert from "node:assert/strict";
import { runEnvironment } from "./run.ts";
import { openDescriptors, withTempDir } from "../tests/util.ts";
import { fixtureToolsAvailable, makeEnvArchive } from "../tests/fixtures/env_archive.ts";
import { storeLayout } from "../store/layout.ts";

Deno.test("runEnvironment (the library's run) starts the command as a child and returns its status", () =>
  withTempDir("poncho-run-lib-", async (dir) => {
    // A plain prefix (bin/ only) is used in place: nothing to unpack, nothing held after.
    await Deno.mkdir(`${dir}/env/bin`, { recursive: true });
    const run = (argv: string[]) =>
      runEnvironment({
        environment: `${dir}/env`,
        tmp: false,
        store: `${dir}/store`,
        waitMs: 1000,
        debug: false,
        argv,
      });
    assert.equal(await run(["sh", "-c", 'test "$CONDA_PREFIX" = "$0" && exit 7', `${dir}/env`]), 7);
    // Still this process afterwards: a second command runs too.
    assert.equal(await run(["sh", "-c", "kill -TERM $$"]), 143);
  }));

Deno.test({
  name:
    "runEnvironment: a decode begun for an unknown archive is dropped when its environment is there",
  ignore: !fixtureToolsAvailable(),
  fn: () =>
    withTempDir("poncho-run-lib-", async (dir) => {
      const { archive } = await makeEnvArchive(dir);
      const store = `${dir}/store`;
      const run = () =>
        runEnvironment({
          environment: archive,
          tmp: false,
          store,
          waitMs: 1000,
          debug: false,
          argv: ["sh", "-c", 'test -x "$CONDA_PREFIX/bin/run_in_env"'],
        });
      assert.equal(await run(), 0); // unknown: begun, then taken by the unpack
      const layout = storeLayout(store);
      const [env] = [...Deno.readDirSync(layout.envs)].map((e) => `${layout.envs}/${e.name}`);
      const marker = Deno.statSync(`${env}/.poncho/ready.json`);
      assert.equal(openDescriptors(archive), 0);
      // The identity records gone, the archive is unknown again but its environment is ready:
      // the decode begun for it is dropped (its file closed), and nothing is unpacked again.
      Deno.removeSync(`${layout.index}/sources`, { recursive: true });
      assert.equal(await run(), 0);
      assert.equal(openDescriptors(archive), 0, "the decode begun early is dropped");
      assert.equal(Deno.statSync(`${env}/.poncho/ready.json`).ino, marker.ino);
      assert.ok(Deno.statSync(`${layout.index}/sources`).isDirectory, "known again");
    }),
});
