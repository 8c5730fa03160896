/**
 * Cold-unpack A/B: this tree's `unpackArchive` (what `poncho run` does)
 * against the same function of another checkout (e.g. the commit before a
 * change) and GNU `tar --zstd -xf`, in one process, interleaved (A, B, tar,
 * then B, tar, A, ...: the order rotates), each run into a fresh directory
 * (all removed at the end); prints medians and ratios. Not a test.
 *
 * ```sh
 * git archive <commit> | tar -x -C /tmp/base && ln -s $PWD/node_modules /tmp/base/
 * deno run -A bench/unpack_ab.ts /tmp/base [RUNS] [OUT_DIR] [ARCHIVE]
 * ```
 *
 * `OUT_DIR` (default: the temp dir) picks the file system, e.g. `/dev/shm`;
 * `ARCHIVE` (default: a synthetic 400-file tree packed by `tar | zstd`) the
 * archive, e.g. one of `bench/real_env.ts`'s in `.cache/bench/`.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { makeTree } from "./archive_bench.ts";

type Unpack = (archive: string, root: string, prefix: string) => Promise<unknown>;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function sh(script: string): Promise<void> {
  const out = await new Deno.Command("sh", { args: ["-c", script], stderr: "piped" }).output();
  if (!out.success) throw new Error(`${script}: ${new TextDecoder().decode(out.stderr)}`);
}

if (import.meta.main) {
  const base = resolve(Deno.args[0] ?? "");
  const runs = Number(Deno.args[1] ?? 7);
  const outBase = Deno.args[2] ?? Deno.env.get("TMPDIR") ?? "/tmp";
  // Both loaded the same way (dynamically), so neither gets an advantage from load order.
  const load = async (dir: string) =>
    (await import(join(dir, "lib/env/unpack.ts"))).unpackArchive as Unpack;
  const unpackArchive = await load(new URL("..", import.meta.url).pathname);
  const other = await load(base);
  const work = await Deno.makeTempDir({ prefix: "poncho-ab-" });
  const outs: string[] = [];
  try {
    const archive = Deno.args[3] ? resolve(Deno.args[3]) : join(work, "synthetic.tar.zst");
    if (!Deno.args[3]) {
      await makeTree(join(work, "tree"), 400);
      await sh(`tar -cf - -C ${work}/tree . | zstd -q -T0 -3 -o ${archive}`);
    }
    const contenders: [string, (out: string) => Promise<unknown>][] = [
      ["this tree: unpackArchive", (out) => unpackArchive(archive, out, out)],
      [`${base}: unpackArchive`, (out) => other(archive, out, out)],
      ["GNU tar --zstd -xf", (out) => sh(`tar --zstd -xf ${archive} -C ${out}`)],
    ];
    const times = contenders.map(() => [] as number[]);
    for (let r = 0; r < runs; r++) {
      // The order rotates every round, so no contender always runs first (or after another).
      for (let k = 0; k < contenders.length; k++) {
        const i = (k + r) % contenders.length;
        const fn = contenders[i][1];
        const out = await Deno.makeTempDir({ dir: outBase, prefix: "ab-out-" });
        outs.push(out);
        await sh("sync");
        const t0 = performance.now();
        await fn(out);
        times[i].push(performance.now() - t0);
      }
    }
    const tar = median(times[2]);
    console.log(`${runs} interleaved runs into ${outBase}, medians (ratio to GNU tar):`);
    contenders.forEach(([name], i) => {
      const m = median(times[i]);
      console.log(`  ${name.padEnd(40)} ${m.toFixed(0).padStart(6)} ms  ${(m / tar).toFixed(2)}x`);
    });
  } finally {
    for (const o of outs) await Deno.remove(o, { recursive: true }).catch(() => {});
    await Deno.remove(work, { recursive: true });
  }
}
