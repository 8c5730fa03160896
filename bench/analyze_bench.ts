/**
 * Benchmark: the import scanner against CPython's `ast` on the same files.
 *
 * Both sides get every `.py` file of `python3`'s standard library (tests
 * included, site-packages excluded) already read into memory as bytes, so
 * file reading is excluded on both sides, and both decode: the scanner side
 * runs `decodePythonSource` + `scanImports`, the Python side
 * `ast.parse(bytes)` (which decodes) + `ast.walk` collecting the imported
 * module names. Each side runs `rounds` passes in the same run and the best
 * pass counts (the first scanner pass includes JIT warm-up).
 *
 * Run: `deno run -A bench/analyze_bench.ts [--json] [--rounds N]`. Prints a
 * Markdown table row (and the header), or one JSON object with `--json`.
 *
 * @module
 */

import { decodePythonSource } from "../lib/analyze/decode.ts";
import { scanImports } from "../lib/analyze/scan.ts";

/** Result of one benchmark run. */
export interface AnalyzeBenchResult {
  /** Benchmark name. */
  name: "analyze";
  /** ISO date of the run. */
  date: string;
  /** The stdlib directory measured. */
  stdlib: string;
  /** Version string of the python3 used. */
  python: string;
  /** Files measured (every `.py` file, including ones `ast` rejects). */
  files: number;
  /** Total bytes of those files. */
  bytes: number;
  /** Passes per side; the best one is reported. */
  rounds: number;
  /** Scanner: best pass in milliseconds and files per second (decode + scan). */
  scanner: { ms: number; filesPerSecond: number; imports: number };
  /** CPython: best pass in milliseconds and files per second (ast.parse + walk). */
  ast: { ms: number; filesPerSecond: number; parsed: number };
  /** scanner files/s divided by ast files/s. */
  ratio: number;
}

/** Markdown table header matching {@linkcode markdownRow}. */
export const MARKDOWN_HEADER: string =
  "| date | benchmark | files | MB | scanner files/s | python ast files/s | ratio |\n" +
  "|---|---|---:|---:|---:|---:|---:|";

/** One Markdown table row for a result. */
export function markdownRow(r: AnalyzeBenchResult): string {
  return `| ${r.date.slice(0, 10)} | analyze: decode+scan vs ${r.python} ast.parse+walk | ` +
    `${r.files} | ${(r.bytes / 1e6).toFixed(1)} | ${r.scanner.filesPerSecond.toFixed(0)} | ` +
    `${r.ast.filesPerSecond.toFixed(0)} | ${r.ratio.toFixed(1)}x |`;
}

/** Python side: reads all files first, then times `rounds` passes of ast.parse + walk. */
const PY_BENCH = `
import ast, json, sys, time, warnings
warnings.simplefilter("ignore")
paths = json.loads(sys.stdin.read())
datas = []
for p in paths:
    with open(p, "rb") as f:
        datas.append(f.read())
rounds = int(sys.argv[1])
best = None
parsed = 0
for _ in range(rounds):
    t0 = time.perf_counter()
    parsed = 0
    for data in datas:
        try:
            tree = ast.parse(data)
        except Exception:
            continue
        parsed += 1
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    names.add(a.name)
            elif isinstance(node, ast.ImportFrom):
                names.add(node.module)
    dt = time.perf_counter() - t0
    best = dt if best is None else min(best, dt)
sys.stdout.write(json.dumps({"seconds": best, "parsed": parsed, "version": sys.version.split()[0]}))
`;

/** Every `.py` file under `dir`, skipping site-packages, sorted. */
function listPy(dir: string, out: string[] = []): string[] {
  for (const e of Deno.readDirSync(dir)) {
    const p = dir + "/" + e.name;
    if (e.isDirectory) {
      if (e.name !== "site-packages" && e.name !== "dist-packages") listPy(p, out);
    } else if (e.isFile && e.name.endsWith(".py")) out.push(p);
  }
  return out.sort();
}

/**
 * Measures the scanner against `python3`'s ast over the stdlib in one run.
 *
 * @param options `rounds`: passes per side (default 3); `python`: interpreter (default `python3`).
 * @returns The measurements; throws when the interpreter cannot be run.
 */
export async function runAnalyzeBench(
  options: { rounds?: number; python?: string } = {},
): Promise<AnalyzeBenchResult> {
  const rounds = options.rounds ?? 3;
  const python = options.python ?? "python3";
  const where = await new Deno.Command(python, {
    args: ["-c", 'import sysconfig; print(sysconfig.get_paths()["stdlib"])'],
    stdout: "piped",
  }).output();
  if (!where.success) throw new Error(`${python} is needed to locate the standard library`);
  const stdlib = new TextDecoder().decode(where.stdout).trim();
  const paths = listPy(stdlib);
  const datas = paths.map((p) => Deno.readFileSync(p));
  const bytes = datas.reduce((n, d) => n + d.length, 0);

  let best = Infinity;
  let imports = 0;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    let n = 0;
    for (const d of datas) n += scanImports(decodePythonSource(d).text).imports.length;
    best = Math.min(best, performance.now() - t0);
    imports = n;
  }

  const child = new Deno.Command(python, {
    args: ["-c", PY_BENCH, String(rounds)],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(paths)));
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error(`${python} ast benchmark failed`);
  const py = JSON.parse(new TextDecoder().decode(out.stdout));

  const scanFps = paths.length / (best / 1000);
  const astFps = paths.length / py.seconds;
  return {
    name: "analyze",
    date: new Date().toISOString(),
    stdlib,
    python: `Python ${py.version}`,
    files: paths.length,
    bytes,
    rounds,
    scanner: { ms: best, filesPerSecond: scanFps, imports },
    ast: { ms: py.seconds * 1000, filesPerSecond: astFps, parsed: py.parsed },
    ratio: scanFps / astFps,
  };
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--rounds");
  const rounds = i >= 0 ? Number(Deno.args[i + 1]) : 3;
  const r = await runAnalyzeBench({ rounds });
  if (Deno.args.includes("--json")) console.log(JSON.stringify(r));
  else {
    console.log(MARKDOWN_HEADER);
    console.log(markdownRow(r));
    console.log(
      `\nscanner best ${r.scanner.ms.toFixed(0)} ms, ast best ${r.ast.ms.toFixed(0)} ms ` +
        `(${r.files} files, ${(r.bytes / 1e6).toFixed(1)} MB, best of ${r.rounds}, files ` +
        `pre-read into memory on both sides, decoding included on both sides)`,
    );
  }
}
