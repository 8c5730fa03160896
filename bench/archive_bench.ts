/**
 * Archive benchmark: unpacking and packing a `.tar.zst` with Poncho's code
 * versus GNU tar + the zstd CLI. Not a test; prints wall-clock figures.
 *
 * ```sh
 * deno run -A bench/archive_bench.ts [ARCHIVE.tar.zst]
 * ```
 *
 * Without an archive it builds a synthetic tree (many small files plus a few
 * large ones, like a Python environment) in a temp dir and archives it with
 * GNU tar first.
 *
 * @module
 */

import { join } from "node:path";
import {
  compress,
  compressionFromPath,
  decompress,
  openDecompressed,
  readFileChunks,
  writeFileChunks,
} from "../lib/archive/compress.ts";
import { extractTar } from "../lib/archive/extract.ts";
import { unpackArchive } from "../lib/env/unpack.ts";
import { type TarWriteEntry, tarWriteEntryFromPathSync, writeTar } from "../lib/archive/tar.ts";

/** Options of {@link runArchiveBench}. */
export interface ArchiveBenchOptions {
  /** An existing `.tar.zst` to unpack; default: a synthetic one. */
  archive?: string;
  /** Synthetic tree size in MiB (default 400). */
  syntheticMiB?: number;
  /** Repetitions; the best time is kept (default 3). */
  runs?: number;
  /**
   * Where to unpack (default: the temp dir; env `PONCHO_BENCH_OUT`), e.g.
   * `/dev/shm` to leave the disk out.
   */
  outDir?: string;
}

/** One measured figure. */
export interface BenchFigure {
  /** What was measured. */
  name: string;
  /** Best wall-clock time in milliseconds. */
  ms: number;
}

async function sh(script: string, cwd?: string): Promise<void> {
  const out = await new Deno.Command("sh", { args: ["-c", script], cwd, stderr: "piped" }).output();
  if (!out.success) throw new Error(`${script}: ${new TextDecoder().decode(out.stderr)}`);
}

async function best(runs: number, prepare: () => Promise<void>, fn: () => Promise<void>) {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    await prepare();
    const t0 = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

/**
 * Writes the synthetic tree under `root`: `mib` MiB of files, mostly small,
 * every 500th 8 MiB (like a Python environment's shared libraries).
 */
export async function makeTree(root: string, mib: number): Promise<void> {
  let seed = 1;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const text = new Uint8Array(1 << 20);
  for (let i = 0; i < text.length; i++) text[i] = 0x20 + (rnd() % 90);
  let budget = mib << 20;
  let n = 0;
  while (budget > 0) {
    const dir = join(root, `pkg${n % 300}`, `sub${n % 7}`);
    await Deno.mkdir(dir, { recursive: true });
    // Mostly small files; every 500th file is large (shared libraries).
    const size = n % 500 === 0 ? 8 << 20 : 1000 + (rnd() % 30000);
    const data = new Uint8Array(size);
    for (let off = 0; off < size; off += text.length) {
      data.set(text.subarray(0, Math.min(text.length, size - off)), off);
    }
    data[0] = n & 0xff; // not all identical
    await Deno.writeFile(join(dir, `f${n}.py`), data);
    budget -= size;
    n++;
  }
}

async function walk(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  const names: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(join(root, rel))) names.push(e);
  names.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of names) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    out.push(p);
    if (e.isDirectory) out.push(...await walk(root, p));
  }
  return out;
}

/** Runs the benchmark and returns the figures (also printed). */
export async function runArchiveBench(options: ArchiveBenchOptions = {}): Promise<BenchFigure[]> {
  const runs = options.runs ?? 3;
  const work = await Deno.makeTempDir({ prefix: "poncho-bench-" });
  const figures: BenchFigure[] = [];
  const outs: string[] = [];
  try {
    let archive = options.archive;
    let tree: string | undefined;
    if (!archive) {
      tree = join(work, "tree");
      await makeTree(tree, options.syntheticMiB ?? 400);
      archive = join(work, "synthetic.tar.zst");
      await sh(`tar -cf - -C ${tree} . | zstd -q -T0 -3 -o ${archive}`);
    }
    // A new output directory per run, all removed at the end: creating files
    // right after deleting thousands (as `rm -rf out` between runs would) is
    // slow on ext4 without a journal, which skips recently freed inodes; that
    // kernel cost would swamp the unpacker's own.
    const outBase = options.outDir ?? Deno.env.get("PONCHO_BENCH_OUT") ?? work;
    let out = "";
    const fresh = async () => {
      out = await Deno.makeTempDir({ dir: outBase, prefix: "out-" });
      outs.push(out);
      await sh("sync");
    };
    // Interleaved, so drift in file system speed (other load, writeback) hits both alike.
    const unpackers: [string, () => Promise<void>][] = [
      ["GNU tar --zstd -xf", () => sh(`tar --zstd -xf ${archive} -C ${out}`)],
      ["poncho extractTar(openDecompressed())", async () => {
        await extractTar(openDecompressed(archive), out, { name: archive });
      }],
      ["poncho extractTar, in-process decompression", async () => {
        await extractTar(decompress(readFileChunks(archive), compressionFromPath(archive)), out, {
          name: archive,
        });
      }],
      ["poncho unpackArchive (poncho run)", async () => {
        await unpackArchive(archive, out, out);
      }],
    ];
    const mins = unpackers.map(() => Infinity);
    for (let r = 0; r < runs; r++) {
      for (const [i, [, fn]] of unpackers.entries()) {
        mins[i] = Math.min(mins[i], await best(1, fresh, fn));
      }
    }
    unpackers.forEach(([name], i) => figures.push({ name, ms: mins[i] }));
    figures.push({
      name: "poncho decompress only (zstd -> /dev/null)",
      ms: await best(runs, async () => {}, async () => {
        for await (const _ of openDecompressed(archive)) { /* drain */ }
      }),
    });
    if (tree) {
      const packed = join(work, "packed.tar.zst");
      figures.push({
        name: "GNU tar -c | zstd -T0 -3",
        ms: await best(
          runs,
          async () => {},
          () => sh(`tar -cf - . | zstd -q -T0 -3 -o ${packed} -f`, tree),
        ),
      });
      const paths = await walk(tree);
      figures.push({
        name: "poncho writeTar + compress zst -3 (parallel frames)",
        ms: await best(runs, async () => {}, async () => {
          const entries = async function* (): AsyncGenerator<TarWriteEntry> {
            for (const p of paths) yield tarWriteEntryFromPathSync(tree!, p);
          };
          await writeFileChunks(packed, compress(writeTar(entries(), { uid: 0, gid: 0 }), "zst"));
        }),
      });
    }
    const size = (await Deno.stat(archive)).size;
    console.log(`archive ${archive} (${(size / 1e6).toFixed(0)} MB compressed), best of ${runs}:`);
    for (const f of figures) console.log(`  ${f.name.padEnd(44)} ${(f.ms / 1000).toFixed(2)} s`);
    return figures;
  } finally {
    for (const o of outs) await Deno.remove(o, { recursive: true }).catch(() => {});
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) {
  await runArchiveBench({ archive: Deno.args[0] });
}
