/**
 * Sharded (CEP-16) and monolithic repodata end to end, on a synthetic channel
 * written both ways with the same records and served on loopback: same
 * solutions, cache reuse across processes (requests counted), index changes,
 * and corrupt inputs (one-line errors, exit 3, nothing cached).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { solve, type SolvedRecord } from "../lib/conda/solve.ts";
import { PonchoError } from "../lib/errors.ts";
import { storeLayout } from "../store/layout.ts";
import { serveChannel } from "./fixtures/channel.ts";
import {
  dryRunArgs,
  type SyntheticOptions,
  writeSyntheticChannel,
} from "./fixtures/synthetic_channel.ts";
import { runPoncho, withTempDir } from "./util.ts";

const OPTS: SyntheticOptions = { names: 300 };
const SPECS = ["pkg-299", "pkg-150 <4", "pkg-77"];

const plan = (recs: SolvedRecord[]) =>
  recs.map((r) => [r.name, r.version, r.build, r.sha256, r.size, r.url.replace(/^.*\//, "")]);

async function listRepodataDir(store: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string) => {
    const entries = await Array.fromAsync(Deno.readDir(dir)).catch(() => [] as Deno.DirEntry[]);
    for (const e of entries) {
      if (e.isDirectory && !e.name.endsWith(".idx")) {
        await walk(join(dir, e.name), `${rel}${e.name}/`);
      } else out.push(`${rel}${e.name}`);
    }
  };
  await walk(storeLayout(store).repodata, "");
  return out.sort();
}

async function specFile(dir: string, channel: string, deps = SPECS): Promise<string> {
  const path = join(dir, "spec.json");
  await Deno.writeTextFile(
    path,
    JSON.stringify({ conda: { channels: [channel], dependencies: deps } }),
  );
  return path;
}

Deno.test("sharded and monolithic repodata give the same solution, served and file://", async () => {
  await withTempDir("poncho-forms-", async (dir) => {
    const ch = await writeSyntheticChannel(join(dir, "ch"), OPTS);
    const mono = serveChannel(ch.monolithic);
    const shard = serveChannel(ch.sharded);
    try {
      const results = [];
      for (const [i, channel] of [mono.url, shard.url, ch.monolithic, ch.sharded].entries()) {
        const layout = storeLayout(join(dir, `store${i}`));
        results.push(
          plan(
            await solve(SPECS, {
              channels: [channel],
              layout,
              platform: "linux-64",
              virtualPackages: [{ name: "__glibc", version: "2.36" }],
            }),
          ),
        );
      }
      assert.ok(results[0].length > 5, `a realistic closure: ${results[0].length} packages`);
      assert.ok(results[0].some(([n, v]) => n === "pkg-150" && String(v).startsWith("3.")));
      for (const r of results.slice(1)) assert.deepEqual(r, results[0]);
      // Sharded: only the reachable shards were fetched, never the whole channel.
      const shardGets = [...shard.requests.keys()].filter((p) => p.includes("/shards/"));
      assert.ok(shardGets.length > 5 && shardGets.length < 100, `${shardGets.length} shards`);
    } finally {
      await mono.close();
      await shard.close();
    }
  });
});

Deno.test("a second process reuses the cache: 304 for the index, no shard downloaded again", async () => {
  await withTempDir("poncho-forms-", async (dir) => {
    const ch = await writeSyntheticChannel(join(dir, "ch"), OPTS);
    for (const form of ["sharded", "monolithic"] as const) {
      const srv = serveChannel(form === "sharded" ? ch.sharded : ch.monolithic);
      try {
        const spec = await specFile(dir, srv.url);
        const store = join(dir, `store-${form}`);
        const args = dryRunArgs(store, spec, "--json");
        const first = await runPoncho(args);
        assert.equal(first.code, 0, first.stderr);
        const before = new Map(srv.requests);
        const second = await runPoncho(
          [...args.slice(0, -1), "-v", spec].filter((a) => a !== "--json"),
        );
        assert.equal(second.code, 0, second.stderr);
        const out = JSON.parse(first.stdout);
        assert.equal(out.dryRun, true);
        assert.ok(
          out.packages.length > 5 && out.packages.every((p: { size: number }) => p.size > 0),
        );
        assert.match(second.stdout, /^name +version +build +channel +size$/m);
        // A dry run writes no archive and fetches no package.
        assert.deepEqual([...Deno.readDirSync(storeLayout(store).archives)], []);
        assert.deepEqual([...srv.requests.keys()].filter((p) => /\.(conda|tar\.bz2)$/.test(p)), []);
        assert.match(
          second.stdout,
          new RegExp(`\\n${out.packages.length} packages, .* to download`),
        );
        if (form === "sharded") {
          const shards = [...srv.requests].filter(([p]) => p.includes("/shards/"));
          assert.ok(shards.length > 5);
          assert.deepEqual(shards.filter(([, n]) => n !== 1), [], "every shard downloaded once");
          assert.equal(srv.requests.get("/linux-64/repodata_shards.msgpack.zst"), 2);
          assert.match(
            second.stderr,
            /linux-64: sharded repodata \(repodata_shards\.msgpack\.zst not modified; .* 0 shards fetched, \d+ from the cache\)/,
          );
        } else {
          assert.equal(srv.requests.get("/linux-64/repodata.json.zst"), 2);
          assert.equal(srv.requests.get("/linux-64/repodata.json"), undefined);
          assert.match(
            second.stderr,
            /linux-64: monolithic repodata \(repodata\.json\.zst not modified; per-name index of 2400 records, 300 names\)/,
          );
        }
        assert.equal(srv.statuses.get(304), form === "sharded" ? 2 : 2); // linux-64 and noarch
        // The second process made exactly the revalidations, nothing else.
        const extra = [...srv.requests].filter(([p, n]) =>
          n !== before.get(p) && !/repodata(_shards\.msgpack|\.json)(\.zst)?$/.test(p)
        );
        assert.deepEqual(extra, []);
      } finally {
        await srv.close();
      }
    }
  });
});

Deno.test("create --dry-run takes only a spec", async () => {
  const r = await runPoncho(["create", "--dry-run", "spec.json", "out.tar.zst"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--dry-run takes only <spec>/);
});

Deno.test("a changed shard index brings new records; unchanged shards stay cached", async () => {
  await withTempDir("poncho-forms-", async (dir) => {
    const chDir = join(dir, "ch");
    const ch = await writeSyntheticChannel(chDir, OPTS);
    const srv = serveChannel(ch.sharded);
    try {
      const layout = storeLayout(join(dir, "store"));
      const opts = {
        channels: [srv.url],
        layout,
        platform: "linux-64",
        virtualPackages: [{ name: "__glibc", version: "2.36" }],
      };
      const before = await solve(["pkg-150"], opts);
      assert.equal(before.find((r) => r.name === "pkg-150")?.version, "4.0.1");
      const fetched = new Map(srv.requests);
      await new Promise((r) => setTimeout(r, 20)); // a new mtime, so a new ETag
      await writeSyntheticChannel(chDir, { ...OPTS, extraVersions: { "pkg-150": ["9.0.0"] } });
      const after = await solve(["pkg-150"], opts);
      assert.equal(after.find((r) => r.name === "pkg-150")?.version, "9.0.0");
      const again = [...srv.requests].filter(([p, n]) =>
        p.includes("/shards/") && n > (fetched.get(p) ?? 0)
      );
      assert.equal(
        again.length,
        1,
        `only the changed shard is downloaded: ${again.map(([p]) => p)}`,
      );
      assert.equal(fetched.get(again[0][0]), undefined);
    } finally {
      await srv.close();
    }
  });
});

Deno.test("corrupt or truncated repodata: one line naming channel, subdir and file, exit 3, nothing cached", async () => {
  await withTempDir("poncho-forms-", async (dir) => {
    const ch = await writeSyntheticChannel(join(dir, "ch"), OPTS);
    const cut = async (path: string) => {
      const data = await Deno.readFile(path);
      await Deno.writeFile(path, data.subarray(0, Math.floor(data.length / 2)));
    };
    const check = async (channel: string, file: string, store: string) => {
      const spec = await specFile(dir, channel);
      const r = await runPoncho(dryRunArgs(store, spec));
      assert.equal(r.code, 3, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      const chUrl = channel.startsWith("http") ? channel.replace(/\/$/, "") : `file://${channel}`;
      assert.ok(lines[0].includes(`channel ${chUrl}, subdir linux-64: ${file}`), lines[0]);
      assert.match(lines[0], /corrupt or truncated/);
      const left = await listRepodataDir(store);
      assert.deepEqual(
        left.filter((f) => f.includes("linux-64") || f.startsWith("shards/")),
        [],
        `cached: ${left}`,
      );
    };
    // A truncated shard index, served.
    const sharded = join(ch.sharded, "linux-64");
    const index = await Deno.readFile(join(sharded, "repodata_shards.msgpack.zst"));
    await cut(join(sharded, "repodata_shards.msgpack.zst"));
    let srv = serveChannel(ch.sharded);
    try {
      await check(srv.url, "repodata_shards.msgpack.zst", join(dir, "s1"));
    } finally {
      await srv.close();
    }
    await Deno.writeFile(join(sharded, "repodata_shards.msgpack.zst"), index);

    // A shard whose content does not match its hash is refused (served and file://).
    const shardFiles = [];
    for await (const e of Deno.readDir(join(sharded, "shards"))) shardFiles.push(e.name);
    const other = await Deno.readFile(join(sharded, "shards", shardFiles[0]));
    for (const f of shardFiles.slice(1)) await Deno.writeFile(join(sharded, "shards", f), other);
    srv = serveChannel(ch.sharded);
    try {
      const layout = storeLayout(join(dir, "s2"));
      await assert.rejects(
        solve(["pkg-299"], { channels: [srv.url], layout, platform: "linux-64" }),
        (e) =>
          e instanceof PonchoError && e.exitCode === 3 && !e.message.includes("\n") &&
          /subdir linux-64: shard [0-9a-f]{64}\.msgpack\.zst of pkg-\d+ is corrupt or truncated \(content has sha256/
            .test(e.message),
      );
      assert.deepEqual(
        (await listRepodataDir(join(dir, "s2"))).filter((f) => f.startsWith("shards/")),
        [],
      );
    } finally {
      await srv.close();
    }
    await assert.rejects(
      solve(["pkg-299"], {
        channels: [ch.sharded],
        layout: storeLayout(join(dir, "s3")),
        platform: "linux-64",
      }),
      (e) => e instanceof PonchoError && e.exitCode === 3 && /content has sha256/.test(e.message),
    );

    // A truncated repodata.json.zst, served; then a truncated repodata.json, file://.
    await cut(join(ch.monolithic, "linux-64", "repodata.json.zst"));
    srv = serveChannel(ch.monolithic);
    try {
      await check(srv.url, "repodata.json.zst", join(dir, "s4"));
    } finally {
      await srv.close();
    }
    await Deno.remove(join(ch.monolithic, "linux-64", "repodata.json.zst"));
    await cut(join(ch.monolithic, "linux-64", "repodata.json"));
    await check(ch.monolithic, "repodata.json", join(dir, "s5"));
  });
});
