import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { storeLayout } from "../../store/layout.ts";
import { downloadPath, fetchPackages } from "./fetch.ts";
import { solve } from "./solve.ts";
import { NotFoundError, PonchoError } from "../errors.ts";
import { buildTestChannel } from "../../tests/fixtures/channel.ts";
import {
  canDropFileCapabilities,
  fixtureTools,
  leftoverTemps,
  runUnprivileged,
  withServedStore,
  withTempDir,
  withTempLayout,
} from "../../tests/util.ts";

const tools = await fixtureTools("fetch fixture tests");

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch { /* missing is empty */ }
  return names.sort();
}

Deno.test({
  name: "fetchPackages downloads over HTTP in parallel, verifies, retries 5xx and reuses",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withServedStore(ch.dir, {
      failTimes: { "/linux-64/libgreet-1.0-h0_poncho.conda": 2 },
    }, async (srv, layout) => {
      const records = await solve(["hello", "pyhello"], {
        channels: [srv.url],
        layout,
        platform: "linux-64",
      });
      const got = await fetchPackages(records, { layout, progress: false });
      assert.equal(got.length, records.length);
      for (const [i, g] of got.entries()) {
        assert.equal(g.item, records[i]);
        assert.equal(g.reused, false);
        assert.equal(g.path, downloadPath(layout, records[i]));
        const data = await Deno.readFile(g.path);
        assert.equal(createHash("sha256").update(data).digest("hex"), records[i].sha256);
      }
      assert.equal(srv.requests.get("/linux-64/libgreet-1.0-h0_poncho.conda"), 3);
      const again = await fetchPackages(records, { layout, progress: false });
      assert.ok(again.every((g) => g.reused));
      assert.equal(srv.requests.get("/linux-64/libgreet-1.0-h0_poncho.conda"), 3);
      const offline = await fetchPackages(records, { layout, offline: true });
      assert.ok(offline.every((g) => g.reused));
      assert.deepEqual(leftoverTemps(layout), []);
    });
  },
});

Deno.test({
  name: "fetchPackages copies file:// packages; offline without a download is an error",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withTempLayout(async (layout) => {
      const records = await solve(["oldtext"], {
        channels: [ch.url],
        layout,
        platform: "linux-64",
      });
      await assert.rejects(
        fetchPackages(records, { layout, offline: true }),
        (e) => e instanceof NotFoundError && e.message.includes("oldtext-0.1-0.tar.bz2"),
      );
      const [got] = await fetchPackages(records, { layout });
      assert.ok(got.path.endsWith(`${records[0].sha256}.tar.bz2`));
      assert.deepEqual(
        await Deno.readFile(got.path),
        await Deno.readFile(join(ch.dir, "linux-64", "oldtext-0.1-0.tar.bz2")),
      );
    });
  },
});

Deno.test({
  name: "a corrupt package is rejected with both digests and nothing is kept",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    for (const via of ["file", "http"]) {
      await withServedStore(ch.corruptDir, {}, async (srv, layout) => {
        const channel = via === "file" ? ch.corruptUrl : srv.url;
        const records = await solve(["libgreet"], {
          channels: [channel],
          layout,
          platform: "linux-64",
        });
        const actual = createHash("sha256")
          .update(await Deno.readFile(join(ch.corruptDir, "linux-64", records[0].fn)))
          .digest("hex");
        const err = await fetchPackages(records, { layout }).then(() => null, (e) => e);
        assert.ok(err instanceof PonchoError, String(err));
        assert.ok(err.message.includes(records[0].fn));
        assert.ok(err.message.includes(records[0].sha256!));
        assert.ok(err.message.includes(actual));
        assert.ok(!err.message.includes("\n"));
        assert.deepEqual(await listDir(layout.downloads), []);
        assert.deepEqual(leftoverTemps(layout), []);
        if (via === "http") assert.equal(srv.requests.get(`/linux-64/${records[0].fn}`), 1);
      });
    }
  },
});

Deno.test({
  name: "a missing package file is a NotFoundError naming the URL",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withServedStore(ch.dir, {}, async (srv, layout) => {
      const item = {
        fn: "nope-1-0.conda",
        url: `${srv.url}linux-64/nope-1-0.conda`,
        sha256: "ab".repeat(32),
      };
      await assert.rejects(
        fetchPackages([item], { layout }),
        (e) => e instanceof NotFoundError && e.message.includes(item.url),
      );
      assert.deepEqual(await listDir(layout.downloads), []);
    });
  },
});

Deno.test({
  name: "a file:// package: missing is not-found, unreadable is a permission error, both naming it",
  ignore: !canDropFileCapabilities,
  async fn() {
    await withTempDir("poncho-fetch-", async (dir) => {
      const pkg = join(dir, "x-1-0.conda");
      const item = { fn: "x-1-0.conda", url: pathToFileURL(pkg).href, sha256: "0".repeat(64) };
      const layout = storeLayout(join(dir, "store"));
      await assert.rejects(
        fetchPackages([item], { layout, progress: false }),
        (e) => e instanceof NotFoundError && e.exitCode === 2 && e.path === pkg,
      );
      await Deno.writeTextFile(pkg, "not a package");
      await Deno.chmod(pkg, 0o000);
      const mod = (rel: string) => JSON.stringify(new URL(rel, import.meta.url).href);
      const text = await runUnprivileged(
        `import { fetchPackages } from ${mod("./fetch.ts")};
import { storeLayout } from ${mod("../../store/layout.ts")};
const [item, store] = Deno.args;
try {
  await fetchPackages([JSON.parse(item)], { layout: storeLayout(store), progress: false });
  console.log("{}");
} catch (e) {
  console.log(JSON.stringify({ kind: e.kind, exit: e.exitCode, path: e.path, message: e.message }));
}
`,
        [JSON.stringify(item), layout.root],
      );
      // Before, every failure to open it was "cannot read package" as not-found.
      const err = JSON.parse(text);
      assert.equal(err.kind, "permission", text);
      assert.equal(err.exit, 2);
      assert.equal(err.path, pkg);
    });
  },
});
