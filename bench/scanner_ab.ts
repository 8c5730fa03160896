/**
 * Benchmark: the import scanner of the working tree against the scanner of a
 * git revision, on the same decoded texts (every `.py` file of `python3`'s
 * standard library), to show that a change to the tokenizer or scanner does
 * not slow them down. Both scanners run in one process, interleaved pass by
 * pass (alternating which goes first); each pass is timed in process CPU time
 * (user + system), which other load on the machine disturbs far less than
 * wall time. The median pass of each side is reported, and their ratio.
 *
 * Run: `deno run -A bench/scanner_ab.ts [--rev REV] [--rounds N] [--same]`.
 * `--rev` defaults to `main`; `--same` compares the revision with a second copy
 * of itself (the ratio then shows the method's noise).
 *
 * @module
 */

import process from "node:process";
import { join } from "node:path";
import { decodePythonSource } from "../lib/analyze/decode.ts";
import { scanImports } from "../lib/analyze/scan.ts";

type Scan = (text: string) => unknown;

/** The files the scanner needs, taken from `rev` into a fresh directory. */
async function scannerAt(rev: string): Promise<Scan> {
  const dir = await Deno.makeTempDir({ prefix: "poncho-scanner-ab-" });
  const root = new URL("..", import.meta.url).pathname;
  for (const f of ["scan.ts", "tokenize.ts", "types.ts"]) {
    const out = await new Deno.Command("git", {
      args: ["show", `${rev}:lib/analyze/${f}`],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`git show ${rev}:lib/analyze/${f} failed`);
    await Deno.writeFile(join(dir, f), out.stdout);
  }
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  return (await import(`file://${dir}/scan.ts`)).scanImports;
}

function stdlibTexts(): string[] {
  const out = new Deno.Command("python3", {
    args: ["-c", 'import sysconfig; print(sysconfig.get_paths()["stdlib"])'],
    stdout: "piped",
  }).outputSync();
  const texts: string[] = [];
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory && e.name !== "site-packages" && e.name !== "dist-packages") walk(p);
      else if (e.isFile && e.name.endsWith(".py")) {
        texts.push(decodePythonSource(Deno.readFileSync(p)).text);
      }
    }
  };
  walk(new TextDecoder().decode(out.stdout).trim());
  return texts;
}

const arg = (name: string, dflt: string) =>
  Deno.args.includes(name) ? Deno.args[Deno.args.indexOf(name) + 1] : dflt;
const rev = arg("--rev", "main");
const rounds = Number(arg("--rounds", "31"));
const base = await scannerAt(rev);
const tree = Deno.args.includes("--same") ? await scannerAt(rev) : scanImports as Scan;
const texts = stdlibTexts();
const pass = (scan: Scan) => {
  const t = process.cpuUsage();
  for (const s of texts) scan(s);
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
};
for (let i = 0; i < 3; i++) { // warm-up (JIT)
  pass(base);
  pass(tree);
}
const a: number[] = [];
const b: number[] = [];
for (let i = 0; i < rounds; i++) {
  if (i % 2) {
    a.push(pass(base));
    b.push(pass(tree));
  } else {
    b.push(pass(tree));
    a.push(pass(base));
  }
}
const median = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1];
const differing = texts.filter((s) => JSON.stringify(base(s)) !== JSON.stringify(tree(s))).length;
console.log(
  `${texts.length} files, ${rounds} interleaved passes (CPU time): ${rev} ${
    median(a).toFixed(1)
  } ms, ${Deno.args.includes("--same") ? `${rev} again` : "working tree"} ${
    median(b).toFixed(1)
  } ms, ratio ${(median(b) / median(a)).toFixed(3)}; results differing: ${differing}`,
);
