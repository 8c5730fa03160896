import assert from "node:assert/strict";
import { PonchoError, UsageError } from "../errors.ts";
import type { EnvSpec } from "../envspec/types.ts";
import {
  ACTIVATE_SCRIPT,
  materializeSources,
  SOURCES_JSON,
  type SourcesFile,
} from "./materialize.ts";
import { commandText, git, hasCommand, withTempDir } from "../../tests/util.ts";

const available = hasCommand("git") && hasCommand("tar");
if (!available) console.log("materialize_test.ts: skipped, git or GNU tar is not installed");

function spec(git: EnvSpec["git"], http: EnvSpec["http"]): EnvSpec {
  return { channels: [], conda: [], pip: [], git, http };
}

Deno.test({
  name: "materializeSources puts git and http sources inside the prefix and exports them",
  ignore: !available,
  fn: async () => {
    const tmp = await Deno.makeTempDir();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (req) => {
        const path = new URL(req.url).pathname;
        return new Response((await Deno.open(`${tmp}/srv${path}`)).readable);
      },
    );
    const url = `http://127.0.0.1:${server.addr.port}`;
    try {
      // Sources: a git repo with a tag, a file and a tar.gz served over loopback.
      await Deno.mkdir(`${tmp}/repo`);
      await git(`${tmp}/repo`, "init", "--quiet");
      await Deno.writeTextFile(`${tmp}/repo/README`, "v1\n");
      await git(`${tmp}/repo`, "add", "README");
      await git(`${tmp}/repo`, "commit", "--quiet", "-m", "v1");
      await git(`${tmp}/repo`, "tag", "v1");
      await Deno.writeTextFile(`${tmp}/repo/README`, "v2\n");
      await git(`${tmp}/repo`, "commit", "--quiet", "-am", "v2");
      await Deno.mkdir(`${tmp}/srv/tree/genome`, { recursive: true });
      await Deno.writeTextFile(`${tmp}/srv/ref.dat`, "ref\n");
      await Deno.writeTextFile(`${tmp}/srv/tree/genome/chr1.fa`, "ACGT\n");
      await commandText("tar", ["-czf", "../genome.tar.gz", "genome"], { cwd: `${tmp}/srv/tree` });

      const prefix = `${tmp}/env`;
      const lines: string[] = [];
      const env = await materializeSources(
        spec(
          { DATA_DIR: { remote: `file://${tmp}/repo`, ref: "v1" } },
          {
            REF_DB: { type: "file", url: `${url}/ref.dat` },
            GENOME: { type: "tar", url: `${url}/genome.tar.gz`, compression: "gzip" },
          },
        ),
        prefix,
        { log: (l) => lines.push(l) },
      );
      assert.deepEqual(env, {
        DATA_DIR: "share/poncho/git/DATA_DIR",
        GENOME: "share/poncho/http/GENOME",
        REF_DB: "share/poncho/http/REF_DB/ref.dat",
      });
      assert.equal(lines.length, 3);
      assert.equal(await Deno.readTextFile(`${prefix}/share/poncho/git/DATA_DIR/README`), "v1\n");

      const script = await Deno.readTextFile(`${prefix}/${ACTIVATE_SCRIPT}`);
      assert.ok(
        script.includes('export DATA_DIR="$CONDA_PREFIX/share/poncho/git/DATA_DIR"\n'),
        script,
      );
      const record: SourcesFile = JSON.parse(await Deno.readTextFile(`${prefix}/${SOURCES_JSON}`));
      assert.deepEqual(record.env, env);
      assert.equal(record.sources.DATA_DIR.kind, "git");
      assert.match((record.sources.DATA_DIR as { commit: string }).commit, /^[0-9a-f]{40}$/);

      // After moving the prefix, sourcing the script (as the run side does, with
      // CONDA_PREFIX set) names the data at its new place.
      const moved = `${tmp}/elsewhere/env`;
      await Deno.mkdir(`${tmp}/elsewhere`);
      await Deno.rename(prefix, moved);
      const out = await commandText(
        "sh",
        [
          "-c",
          `. "$CONDA_PREFIX/${ACTIVATE_SCRIPT}" && cat "$DATA_DIR/README" "$REF_DB" "$GENOME/genome/chr1.fa"`,
        ],
        { env: { CONDA_PREFIX: moved } },
      );
      assert.equal(out, "v1\nref\nACGT");
    } finally {
      await server.shutdown();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("materializeSources without sources writes nothing", () =>
  withTempDir("poncho-test-", async (tmp) => {
    assert.deepEqual(await materializeSources(spec({}, {}), tmp), {});
    const names: string[] = [];
    for await (const e of Deno.readDir(tmp)) names.push(e.name);
    assert.deepEqual(names, []);
  }));

Deno.test("materializeSources refuses a key used by both git and http", () =>
  withTempDir("poncho-test-", async (tmp) => {
    const err = await materializeSources(
      spec({ X: { remote: "file:///nowhere" } }, { X: { type: "file", url: "file:///nowhere" } }),
      tmp,
    ).then(() => undefined, (e) => e);
    assert.ok(err instanceof UsageError && err.message.includes("X"), String(err));
  }));

Deno.test({
  name: "materializeSources: a bad ref fails naming the key and the remote",
  ignore: !available,
  fn: () =>
    withTempDir("poncho-test-", async (tmp) => {
      await Deno.mkdir(`${tmp}/repo`);
      await git(`${tmp}/repo`, "init", "--quiet");
      await Deno.writeTextFile(`${tmp}/repo/f`, "x\n");
      await git(`${tmp}/repo`, "add", "f");
      await git(`${tmp}/repo`, "commit", "--quiet", "-m", "x");
      const err = await materializeSources(
        spec({ DATA_DIR: { remote: `${tmp}/repo`, ref: "v9" } }, {}),
        `${tmp}/env`,
      ).then(() => undefined, (e) => e);
      assert.ok(err instanceof PonchoError, String(err));
      assert.ok(err.message.includes("git.DATA_DIR") && err.message.includes(`${tmp}/repo`));
      assert.ok(err.message.includes("v9"), err.message);
    }),
});
