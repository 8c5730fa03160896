/**
 * Solve benchmark: a synthetic channel with ~300,000 realistic repodata
 * records (many names, versions, builds and depends), served on loopback as
 * `repodata.json.zst`, solved cold (download, decode, parse, solve) and warm
 * (cached repodata, revalidated with a 304).
 *
 * Run: `deno run -A bench/solve_bench.ts [--records N] [--json]`
 *
 * @module
 */

import zlib from "node:zlib";
import { solve } from "../lib/conda/solve.ts";
import { storeLayout } from "../store/layout.ts";

/** One benchmark result. */
export interface SolveBenchResult {
  /** Records in the synthetic repodata. */
  records: number;
  /** Size of repodata.json in bytes (uncompressed). */
  jsonBytes: number;
  /** Size of repodata.json.zst in bytes. */
  zstBytes: number;
  /** Packages in the solution. */
  solved: number;
  /** Seconds for a solve with an empty cache. */
  coldSeconds: number;
  /** Seconds for a solve with cached repodata (304 revalidation). */
  warmSeconds: number;
}

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds synthetic linux-64 repodata with about `count` records. */
export function syntheticRepodata(count: number): Uint8Array {
  const rand = rng(42);
  const perName = 15; // 5 versions x 3 builds
  const names = Math.ceil(count / perName);
  const pkgs: Record<string, unknown> = {};
  let n = 0;
  for (let i = 0; i < names && n < count; i++) {
    const name = `pkg-${i}`;
    for (let v = 1; v <= 5 && n < count; v++) {
      for (let b = 0; b < 3 && n < count; b++, n++) {
        const depends: string[] = [];
        // Like real channels: a few parents (a tree, so closures stay small) plus core libs.
        const parents = new Set<number>();
        for (const k of [2, 3, 7]) if (i >= k && rand() < 0.7) parents.add(Math.floor(i / k));
        if (i >= 20 && rand() < 0.5) parents.add(Math.floor(rand() * 20));
        for (const dep of parents) depends.push(`pkg-${dep} >=${1 + Math.floor(rand() * 2)}.0`);
        if (rand() < 0.5) depends.push("__glibc >=2.17,<3.0.a0");
        if (rand() < 0.3) depends.push("libgcc-ng >=12");
        const build = `h${(i * 7919 + v * 31 + b).toString(16).padStart(7, "0")}_${b}`;
        const hex = (len: number) =>
          Array.from({ length: len }, () => Math.floor(rand() * 16).toString(16)).join("");
        pkgs[`${name}-${v}.0.${b}-${build}.conda`] = {
          build,
          build_number: b,
          depends,
          constrains: rand() < 0.2 ? [`pkg-${Math.floor(rand() * names)} >=1.0`] : [],
          license: "MIT",
          md5: hex(32),
          name,
          sha256: hex(64),
          size: Math.floor(rand() * 5e6),
          subdir: "linux-64",
          timestamp: 1700000000000 + n,
          version: `${v}.0.${b}`,
        };
      }
    }
  }
  // libgcc-ng so that the depends above resolve.
  pkgs["libgcc-ng-13.2.0-h0_0.conda"] = {
    build: "h0_0",
    build_number: 0,
    depends: [],
    md5: "0".repeat(32),
    name: "libgcc-ng",
    sha256: "0".repeat(64),
    size: 1,
    subdir: "linux-64",
    version: "13.2.0",
  };
  return new TextEncoder().encode(
    JSON.stringify({ info: { subdir: "linux-64" }, packages: {}, "packages.conda": pkgs }),
  );
}

/** Runs the benchmark and returns its figures. */
export async function runSolveBench(records = 300_000): Promise<SolveBenchResult> {
  const json = syntheticRepodata(records);
  const zst = zlib.zstdCompressSync(json);
  const noarch = new TextEncoder().encode(
    JSON.stringify({ info: { subdir: "noarch" }, packages: {}, "packages.conda": {} }),
  );
  const etag = `"${zst.length}"`;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (req.headers.get("if-none-match") === etag) return new Response(null, { status: 304 });
    if (path === "/linux-64/repodata.json.zst") return new Response(zst, { headers: { etag } });
    if (path === "/noarch/repodata.json") return new Response(noarch, { headers: { etag } });
    return new Response("not found", { status: 404 });
  });
  const root = await Deno.makeTempDir({ prefix: "poncho-bench-" });
  try {
    const names = Math.ceil(records / 15);
    const specs = [
      `pkg-${names - 1}`,
      `pkg-${Math.floor(names / 2)}`,
      `pkg-${Math.floor(names / 3)}`,
    ];
    const opts = {
      channels: [`http://127.0.0.1:${server.addr.port}`],
      layout: storeLayout(root),
      platform: "linux-64",
    };
    let t = performance.now();
    const solved = await solve(specs, opts);
    const coldSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    await solve(specs, opts);
    const warmSeconds = (performance.now() - t) / 1000;
    return {
      records,
      jsonBytes: json.length,
      zstBytes: zst.length,
      solved: solved.length,
      coldSeconds,
      warmSeconds,
    };
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--records");
  const count = i >= 0 ? Number(Deno.args[i + 1]) : 300_000;
  const r = await runSolveBench(count);
  if (Deno.args.includes("--json")) {
    console.log(JSON.stringify(r));
  } else {
    console.log("| benchmark | records | repodata (json / zst) | solved | cold | warm |");
    console.log("|---|---|---|---|---|---|");
    console.log(
      `| solve | ${r.records} | ${(r.jsonBytes / 1e6).toFixed(1)} MB / ${
        (r.zstBytes / 1e6).toFixed(1)
      } MB | ${r.solved} | ${r.coldSeconds.toFixed(2)} s | ${r.warmSeconds.toFixed(2)} s |`,
    );
  }
}
