/**
 * Repodata-loading A/B: this tree's streaming `repodata.json` parser
 * (`parseRepodataStream`, records handed to a no-op) and per-name index
 * build (`buildRepodataIndex`, what a cold monolithic subdir costs) against
 * the same functions of another checkout (e.g. the commit before a change),
 * in one process, interleaved (the order alternates every round), on the
 * 300,000-record synthetic channel of `bench/solve_bench.ts` (written once
 * into `.cache/bench/`). The document is read into memory once (1 MiB
 * chunks, as `readFileChunks` yields them), so the figures are the parser's
 * and the index writer's, not the disk's. Prints medians and ratios. Not a test.
 *
 * ```sh
 * git archive <commit> lib store deno.json package.json | tar -x -C /tmp/base
 * ln -s $PWD/node_modules /tmp/base/
 * deno run -A bench/repodata_ab.ts /tmp/base [RUNS] [NAMES]
 * ```
 *
 * @module
 */

import { join, resolve } from "node:path";
import { benchChannel } from "./solve_bench.ts";

type Parse = (
  chunks: AsyncIterable<Uint8Array>,
  handler: { record(section: string, fn: string, json: string): void },
) => Promise<void>;
type Build = (
  chunks: AsyncIterable<Uint8Array>,
  dest: string,
  tmpDir: string,
) => Promise<{ records: number }>;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The functions of the checkout in `dir`, loaded dynamically (as both are). */
async function load(dir: string): Promise<{ parse: Parse; build: Build }> {
  const stream = await import(join(dir, "lib/conda/repodata_stream.ts"));
  const index = await import(join(dir, "lib/conda/repodata_index.ts"));
  return { parse: stream.parseRepodataStream, build: index.buildRepodataIndex };
}

async function* replay(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c;
}

if (import.meta.main) {
  const base = resolve(Deno.args[0] ?? "");
  const runs = Number(Deno.args[1] ?? 5);
  const names = Number(Deno.args[2] ?? 6_000);
  const ch = await benchChannel(names);
  const bytes = await Deno.readFile(join(ch.dir, "monolithic", "linux-64", "repodata.json"));
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 1 << 20) chunks.push(bytes.subarray(i, i + (1 << 20)));
  const mine = await load(resolve(new URL("..", import.meta.url).pathname));
  const other = await load(base);
  const work = await Deno.makeTempDir({ prefix: "poncho-repodata-ab-" });
  try {
    let n = 0;
    const parse = (f: Parse) => async () => {
      let records = 0;
      await f(replay(chunks), { record: () => void records++ });
      if (records !== ch.records) throw new Error(`parsed ${records} of ${ch.records} records`);
    };
    const build = (f: Build) => async () => {
      const r = await f(replay(chunks), join(work, `idx-${n++}`), join(work, "tmp"));
      if (r.records !== ch.records) throw new Error(`indexed ${r.records} of ${ch.records}`);
    };
    const contenders: [string, () => Promise<void>][] = [
      ["this tree: parseRepodataStream", parse(mine.parse)],
      [`${base}: parseRepodataStream`, parse(other.parse)],
      ["this tree: buildRepodataIndex", build(mine.build)],
      [`${base}: buildRepodataIndex`, build(other.build)],
    ];
    const times = contenders.map(() => [] as number[]);
    for (let r = 0; r < runs; r++) {
      // Pairs alternate which side runs first, so neither always warms the other's caches.
      for (const pair of [[0, 1], [2, 3]]) {
        for (const i of r % 2 ? [...pair].reverse() : pair) {
          const t0 = performance.now();
          await contenders[i][1]();
          times[i].push(performance.now() - t0);
        }
      }
    }
    const mib = (bytes.length / (1 << 20)).toFixed(0);
    console.log(`${runs} interleaved runs over ${ch.records} records (${mib} MiB), medians:`);
    contenders.forEach(([name], i) => {
      const m = median(times[i]);
      const peer = median(times[i ^ 1]);
      console.log(`  ${name.padEnd(48)} ${m.toFixed(0).padStart(6)} ms  ${(m / peer).toFixed(2)}x`);
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}
