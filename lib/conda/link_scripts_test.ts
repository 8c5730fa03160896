import assert from "node:assert/strict";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import {
  formatPrelinkMessages,
  postLinkScriptPath,
  prelinkMessages,
  runPostLink,
  takeMessages,
} from "./link_scripts.ts";
import { withTempDir } from "../../tests/util.ts";

const PKG = {
  name: "demo",
  version: "1.2",
  build: "h0_4",
  buildNumber: 4,
  url: "https://x/demo.conda",
};

async function withScript(body: string, fn: (prefix: string) => Promise<void>): Promise<void> {
  await withTempDir("poncho-linkscript-", async (dir) => {
    const prefix = join(dir, "env with space");
    await Deno.mkdir(join(prefix, "bin"), { recursive: true });
    await Deno.mkdir(join(prefix, "etc/conda/activate.d"), { recursive: true });
    await Deno.writeTextFile(
      join(prefix, "etc/conda/activate.d/a.sh"),
      "export FROM_ACTIVATE=yes\n",
    );
    await Deno.writeTextFile(join(prefix, postLinkScriptPath("demo")), body);
    await fn(prefix);
  });
}

Deno.test("runPostLink: activated, conda's variables, cwd bin, sourced (return works), messages taken", async () => {
  const script = [
    'echo "$PREFIX|$CONDA_PREFIX|$PKG_NAME|$PKG_VERSION|$PKG_BUILDNUM|$FROM_ACTIVATE|$(pwd)" > "$PREFIX/vars"',
    'case ":$PATH:" in *":$PREFIX/bin:"*) echo onpath >> "$PREFIX/vars";; esac',
    'echo "hello from demo" >> "$PREFIX/.messages.txt"',
    "return 0",
    "exit 1",
    "",
  ].join("\n");
  await withScript(script, async (prefix) => {
    const seen: string[] = [];
    assert.equal(
      await runPostLink(prefix, PKG, { onMessages: (d, t) => seen.push(`${d}: ${t}`) }),
      true,
    );
    const vars = await Deno.readTextFile(join(prefix, "vars"));
    assert.equal(vars, `${prefix}|${prefix}|demo|1.2|4|yes|${prefix}/bin\nonpath\n`);
    assert.deepEqual(seen, ["demo-1.2-h0_4: hello from demo\n"]);
    assert.equal(await takeMessages(prefix), undefined, ".messages.txt is removed");
    assert.equal(await runPostLink(prefix, { ...PKG, name: "other" }), false, "no script: not run");
  });
});

Deno.test("runPostLink: a failing script is a PonchoError (exit 3) with package, URL and last lines", async () => {
  const lines = Array.from({ length: 30 }, (_, i) => `echo line${i}`);
  await withScript(
    [...lines, 'echo "why it failed" >> "$PREFIX/.messages.txt"', "false", ""].join("\n"),
    async (prefix) => {
      await assert.rejects(runPostLink(prefix, PKG), (e: Error) => {
        assert.ok(e instanceof PonchoError && e.exitCode === 3);
        assert.ok(e.message.includes("demo-1.2-h0_4 (https://x/demo.conda)"), e.message);
        assert.ok(e.message.includes("bin/.demo-post-link.sh"), e.message);
        assert.ok(e.message.includes("line29") && !e.message.includes("line3 "), e.message);
        assert.ok(e.message.includes("its messages: why it failed;"), e.message);
        assert.ok(!e.message.includes("\n"), "one line");
        return true;
      });
      assert.equal(await takeMessages(prefix), undefined);
    },
  );
});

Deno.test("prelinkMessages: every file under info/prelink_messages, in path order", async () => {
  await withTempDir("poncho-prelink-", async (dir) => {
    assert.deepEqual(await prelinkMessages(dir), []);
    await Deno.mkdir(join(dir, "info/prelink_messages/sub"), { recursive: true });
    await Deno.writeTextFile(join(dir, "info/prelink_messages/b.txt"), "second\n");
    await Deno.writeTextFile(join(dir, "info/prelink_messages/a.txt"), "first\n");
    await Deno.writeTextFile(join(dir, "info/prelink_messages/sub/c.txt"), "third");
    const msgs = await prelinkMessages(dir);
    assert.deepEqual(msgs, [["a.txt", "first\n"], ["b.txt", "second\n"], ["sub/c.txt", "third"]]);
    const text = formatPrelinkMessages("demo-1.2-h0_4", msgs);
    assert.ok(text.startsWith("The following PRELINK MESSAGES are INCLUDED (demo-1.2-h0_4):"));
    assert.ok(text.includes("  File a.txt:\n\n  first\n"), text);
  });
});

Deno.test("a package name from the channel that is not a name cannot point the script path outside", () => {
  assert.equal(postLinkScriptPath("py-lib_2.0"), "bin/.py-lib_2.0-post-link.sh");
  for (const bad of ["../../etc/x", "a/b", "..", ".hidden", ""]) {
    assert.throws(() => postLinkScriptPath(bad), /not a conda package name/, bad);
  }
});

Deno.test("runPostLink: no script is no run; a script that cannot be looked at is an error, not skipped", async () => {
  await withScript('touch "$PREFIX/ran"\n', async (prefix) => {
    const script = join(prefix, postLinkScriptPath("demo"));
    await Deno.remove(script);
    assert.equal(await runPostLink(prefix, PKG), false);
    // A link to itself: before, any failure to stat the script was taken for "no script".
    await Deno.symlink(".demo-post-link.sh", script);
    const err = await runPostLink(prefix, PKG).then(() => undefined, (e) => e);
    assert.ok(err instanceof PonchoError, String(err));
    assert.equal(err.kind, "build");
    assert.equal(err.exitCode, 3);
    assert.equal(err.path, script);
    assert.match(
      err.message,
      /cannot read the post-link script of package demo-1\.2-h0_4 .*too many levels of symbolic links/,
    );
    assert.ok(!(await Deno.lstat(join(prefix, "ran")).then(() => true, () => false)));
  });
});
