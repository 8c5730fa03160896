import assert from "node:assert/strict";
import { installOrder, solve, type SolvedRecord, specName } from "./solve.ts";
import { PonchoError, UsageError } from "../errors.ts";
import { buildTestChannel, UNSATISFIABLE_SPECS } from "../../tests/fixtures/channel.ts";
import { fixtureTools, withServedStore, withTempLayout } from "../../tests/util.ts";

const tools = await fixtureTools("solve fixture tests");

const SPECS = ["hello", "pyhello", "pip", "oldtext"];

function assertInstallOrder(records: SolvedRecord[]) {
  const pos = new Map(records.map((r, i) => [r.name, i]));
  for (const r of records) {
    for (const d of r.depends) {
      const dep = pos.get(specName(d));
      if (dep !== undefined) assert.ok(dep < pos.get(r.name)!, `${d} before ${r.name}`);
    }
    if (r.noarch === "python") assert.ok(pos.get("python")! < pos.get(r.name)!);
  }
}

Deno.test("specName takes the package name out of a match spec", () => {
  assert.equal(specName("python >=3.7"), "python");
  assert.equal(specName("python>=3.7"), "python");
  assert.equal(specName("conda-forge::NumPy[version='>=1']"), "numpy");
  assert.equal(specName("libgreet 1.0 h0_poncho"), "libgreet");
});

Deno.test({
  name: "solve over a file:// channel picks real versions and full records, in install order",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withTempLayout(async (layout) => {
      const records = await solve(SPECS, { channels: [ch.url], layout, platform: "linux-64" });
      const names = records.map((r) => r.name).sort();
      assert.deepEqual(names, ["hello", "libgreet", "oldtext", "pip", "pyhello", "python"]);
      assertInstallOrder(records);
      const libgreet = records.find((r) => r.name === "libgreet")!;
      assert.equal(libgreet.version, "1.0"); // hello needs libgreet <2 although 2.0 exists
      const pyhello = records.find((r) => r.name === "pyhello")!;
      assert.equal(pyhello.noarch, "python");
      assert.equal(pyhello.subdir, "noarch");
      assert.equal(pyhello.channel, ch.url);
      assert.equal(pyhello.url, `${ch.url}/noarch/${pyhello.fn}`);
      assert.equal(pyhello.record.timestamp, 1700000000000);
      assert.equal(pyhello.record.license, "BSD-3-Clause");
      const old = records.find((r) => r.name === "oldtext")!;
      assert.equal(old.fn, "oldtext-0.1-0.tar.bz2");
      for (const r of records) {
        assert.match(r.sha256!, /^[0-9a-f]{64}$/);
        assert.match(r.md5!, /^[0-9a-f]{32}$/);
        assert.ok(r.size! > 0);
        assert.ok(!r.name.startsWith("__"));
        assert.deepEqual(r.depends, r.record.depends);
      }
      const alone = await solve(["libgreet"], { channels: [ch.url], layout, platform: "linux-64" });
      assert.deepEqual(alone.map((r) => `${r.name}-${r.version}`), ["libgreet-2.0"]);
    });
  },
});

Deno.test({
  name: "solve over HTTP caches repodata: the second solve only revalidates (304)",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withServedStore(ch.dir, {}, async (srv, layout) => {
      const opts = { channels: [srv.url], layout, platform: "linux-64" };
      const first = await solve(SPECS, opts);
      assert.equal(first[0].channel, srv.url.replace(/\/$/, ""));
      assert.ok(first.every((r) => r.url.startsWith(srv.url)));
      assert.equal(srv.statuses.get(200), 2); // one repodata.json.zst per subdir
      const second = await solve(SPECS, opts);
      assert.deepEqual(second.map((r) => r.fn), first.map((r) => r.fn));
      assert.equal(srv.statuses.get(200), 2);
      assert.equal(srv.statuses.get(304), 2);
      assert.equal(srv.requests.get("/linux-64/repodata.json"), undefined);
      const offline = await solve(SPECS, { ...opts, offline: true });
      assert.deepEqual(offline.map((r) => r.fn), first.map((r) => r.fn));
      assert.equal(srv.statuses.get(304), 2);
    });
  },
});

Deno.test({
  name: "an unsatisfiable request explains itself under a one-line header",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withTempLayout(async (layout) => {
      const err = await solve([...UNSATISFIABLE_SPECS], {
        channels: [ch.url],
        layout,
        platform: "linux-64",
      }).then(() => null, (e) => e);
      assert.ok(err instanceof PonchoError, String(err));
      const [header, ...rest] = err.message.split("\n");
      assert.equal(header, `cannot solve hello, libgreet >=2 for linux-64 from ${ch.url}:`);
      const body = rest.join("\n");
      assert.match(body, /libgreet >=1\.0,<2/);
      assert.ok(!body.includes("127.0.0.1"), body);
      await assert.rejects(
        solve(["hello >=>=2"], { channels: [ch.url], layout, platform: "linux-64" }),
        UsageError,
      );
      await assert.rejects(solve(["does-not-exist"], { channels: [ch.url], layout }), PonchoError);
    });
  },
});

Deno.test("installOrder puts dependencies and python first, breaking cycles", () => {
  const rec = (name: string, depends: string[], noarch?: string): SolvedRecord => ({
    name,
    depends,
    noarch,
    version: "1",
    build: "0",
    fn: `${name}-1-0.conda`,
    url: `file:///c/noarch/${name}-1-0.conda`,
    channel: "file:///c",
    subdir: "noarch",
    record: { name, version: "1", build: "0", depends },
  });
  const order = installOrder([
    rec("app", ["lib >=1", "tool"], "python"),
    rec("tool", [], "python"),
    rec("lib", ["python"]),
    rec("python", []),
    rec("a", ["b"]),
    rec("b", ["a"]),
  ]).map((r) => r.name);
  assert.equal(order.length, 6);
  assert.ok(order.indexOf("python") < order.indexOf("tool"));
  assert.ok(order.indexOf("lib") < order.indexOf("app"));
  assert.ok(order.indexOf("tool") < order.indexOf("app"));
  assert.ok(order.includes("a") && order.includes("b"));
});
