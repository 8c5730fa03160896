import assert from "node:assert/strict";
import { withTempDir } from "../../tests/util.ts";
import { DatabaseSync } from "node:sqlite";
import { compactRuntimeCaches, currentLauncher, takeLauncherEnv, WAL_LIMIT } from "./self.ts";

Deno.test("takeLauncherEnv reads the launcher's variables once and restores DENO_DIR", () => {
  const saved = Deno.env.toObject();
  try {
    Deno.env.set("PONCHO_LAUNCHER", "/opt/bin/poncho");
    Deno.env.set("PONCHO_PAYLOAD", "ab".repeat(32));
    Deno.env.set("DENO_DIR", "/store/v1/runtime/x/deno-dir");
    Deno.env.set("PONCHO_USER_DENO_DIR", "/home/u/deno");
    const l = takeLauncherEnv();
    assert.equal(l?.path, "/opt/bin/poncho");
    assert.equal(l?.payload, "ab".repeat(32));
    assert.equal(l?.runtime, Deno.execPath().replace(/\/[^/]*$/, ""));
    assert.deepEqual(currentLauncher(), l);
    assert.equal(Deno.env.get("PONCHO_LAUNCHER"), undefined);
    assert.equal(Deno.env.get("PONCHO_PAYLOAD"), undefined);
    assert.equal(Deno.env.get("PONCHO_USER_DENO_DIR"), undefined);
    assert.equal(Deno.env.get("DENO_DIR"), "/home/u/deno");
    // Without the launcher's variables: nothing to take, nothing touched.
    Deno.env.set("DENO_DIR", "/mine");
    assert.equal(takeLauncherEnv(), undefined);
    assert.equal(currentLauncher(), undefined);
    assert.equal(Deno.env.get("DENO_DIR"), "/mine");
  } finally {
    for (const k of Object.keys(Deno.env.toObject())) if (!(k in saved)) Deno.env.delete(k);
    for (const [k, v] of Object.entries(saved)) Deno.env.set(k, v);
  }
});

Deno.test("compactRuntimeCaches folds a large write-ahead log into its database", () =>
  withTempDir("poncho-test-", async (runtime) => {
    await Deno.mkdir(`${runtime}/deno-dir`);
    const path = `${runtime}/deno-dir/v8_code_cache_v2`;
    // A writer that keeps its connection open, as an exiting Deno leaves its log behind.
    const writer = new DatabaseSync(path);
    writer.exec("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t (b BLOB)");
    const insert = writer.prepare("INSERT INTO t VALUES (?)");
    for (let i = 0; i < 64; i++) insert.run(new Uint8Array(4096).fill(i));
    const wal = () => Deno.statSync(`${path}-wal`).size;
    assert.ok(wal() > WAL_LIMIT, String(wal()));
    assert.deepEqual(await compactRuntimeCaches(runtime), ["v8_code_cache_v2"]);
    assert.equal(wal(), 0);
    const rows = writer.prepare("SELECT count(*) AS n FROM t").get() as { n: number };
    assert.equal(rows.n, 64);
    writer.close();
    // Small logs (and missing databases) are left alone.
    assert.deepEqual(await compactRuntimeCaches(runtime), []);
  }));
