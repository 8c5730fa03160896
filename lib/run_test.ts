import assert from "node:assert/strict";
import { runEnvironment } from "./run.ts";
import { withTempDir } from "../tests/util.ts";

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
