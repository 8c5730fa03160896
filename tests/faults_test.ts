/**
 * The store under faults (issue 15): stalled servers, held build locks,
 * relative and unusable store paths, read-only and full directories. Each
 * test reproduces a defect through the real CLI.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ponchoCommand, rawServer, readRequest, runPoncho, withTempDir } from "./util.ts";

Deno.test("create against a channel that accepts and never answers fails in time, naming the URL", async () => {
  const srv = rawServer(async (conn, _n, closed) => {
    await readRequest(conn);
    await closed;
  });
  await withTempDir("poncho-faults-", async (dir) => {
    const spec = join(dir, "spec.json");
    await Deno.writeTextFile(
      spec,
      JSON.stringify({ conda: { channels: [`${srv.url}/stall`], dependencies: ["hello"] } }),
    );
    const started = Date.now();
    const r = await runPoncho([
      "create",
      "--store",
      join(dir, "store"),
      spec,
      join(dir, "o.tar.zst"),
    ], {
      env: { PONCHO_HTTP_TIMEOUT: "0.3", NO_COLOR: "1" },
    });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`${srv.url}/stall/`));
    assert.match(r.stderr, /no answer within 0\.3 s/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(Date.now() - started < 30_000);
    assert.ok(srv.accepted >= 2, "retried");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["spec.json", "store"]);
  }).finally(() => srv.close());
});

Deno.test("a create waiting for another's build names the holder and gives up after --wait-for-lock", async () => {
  const srv = rawServer(async (conn, _n, closed) => {
    await readRequest(conn);
    await closed;
  });
  await withTempDir("poncho-faults-", async (dir) => {
    const spec = join(dir, "spec.json");
    const store = join(dir, "store");
    await Deno.writeTextFile(
      spec,
      JSON.stringify({ conda: { channels: [`${srv.url}/slow`], dependencies: ["hello"] } }),
    );
    // The first create holds the build lock while its channel stalls.
    const first = ponchoCommand(["create", "--store", store, spec, join(dir, "a.tar.zst")], {
      env: { PONCHO_HTTP_TIMEOUT: "60" },
    }).spawn();
    try {
      const deadline = Date.now() + 30_000;
      while (srv.accepted === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(srv.accepted > 0, "the first create reached the channel");
      const started = Date.now();
      const r = await runPoncho(
        ["create", "-w", "1", "--store", store, spec, join(dir, "b.tar.zst")],
        { env: { NO_COLOR: "1" } },
      );
      assert.equal(r.code, 3, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assert.match(
        lines[0],
        new RegExp(
          `waiting for the build of spec [0-9a-f]{12} by pid ${first.pid} on host \\S+ since \\d{4}-`,
        ),
      );
      assert.match(
        lines.at(-1)!,
        new RegExp(
          `could not lock the build of spec [0-9a-f]{12} within 1 s .*held by pid ${first.pid}.*--wait-for-lock`,
        ),
      );
      assert.ok(Date.now() - started < 20_000);
    } finally {
      first.kill("SIGKILL");
      await first.status;
      await first.stdout.cancel();
      await first.stderr.cancel();
    }
  }).finally(() => srv.close());
});

Deno.test("-w/--wait-for-lock of create must be a number", async () => {
  const r = await runPoncho(["create", "-w", "soon", "spec.json", "o.tar.zst"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--wait-for-lock 'soon'/);
});
