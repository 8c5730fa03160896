/**
 * Fuzz test for the import scanner: thousands of random and mutated inputs
 * (truncated and spliced stdlib files, unbalanced brackets and quotes, random
 * bytes decoded as Latin-1, deep nesting). No exception may escape, results
 * must be well formed, and every input must finish under a generous limit.
 *
 * The seed is printed; set `PONCHO_FUZZ_SEED` to replay a run.
 *
 * @module
 */

import assert from "node:assert/strict";
import { decodePythonSource } from "../lib/analyze/decode.ts";
import { scanImports } from "../lib/analyze/scan.ts";

/** Per-input time limit: generous, since the point is "bounded", not "fast". */
const LIMIT_MS = 2000;

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Up to `max` stdlib sources of python3 (decoded), or a built-in corpus without python3. */
function corpus(max: number, pick: () => number): string[] {
  const builtIn = [
    "import os, sys\nfrom . import x\ntry:\n    import yaml\nexcept ImportError:\n    yaml = None\n",
    'def f(a, b=(1, 2)):\n    """doc import x"""\n    return f"{a!r:>{b}}" + rb\'\\x00\'\n',
    "class C(B):\n    if TYPE_CHECKING: import t\n    async def m(self): import m\n",
    "print 'py2'\nexec 'x'\nif a <> b: import q\n",
    "match x:\n    case [1, *rest]: import r\n    case {'k': v}: pass\n",
  ];
  let root: string | undefined;
  try {
    const r = new Deno.Command("python3", {
      args: ["-c", 'import sysconfig; print(sysconfig.get_paths()["stdlib"])'],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    if (r.success) root = new TextDecoder().decode(r.stdout).trim();
  } catch {
    root = undefined;
  }
  if (root === undefined) {
    console.log("analyze_fuzz_test: python3 not found; mutating a built-in corpus only");
    return builtIn;
  }
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isDirectory && e.name !== "site-packages") walk(dir + "/" + e.name);
      else if (e.isFile && e.name.endsWith(".py")) files.push(dir + "/" + e.name);
    }
  };
  walk(root);
  files.sort();
  const out = [...builtIn];
  for (let i = 0; i < max && files.length > 0; i++) {
    const f = files[Math.floor(pick() * files.length)];
    out.push(decodePythonSource(Deno.readFileSync(f)).text);
  }
  return out;
}

/** Characters that matter to the tokenizer, for insertions. */
const SPICE = [
  "'",
  '"',
  "'''",
  '"""',
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
  "\\",
  "\n",
  "\r",
  "\t",
  "#",
  ":",
  ";",
  'f"{',
  "t'{",
  "rb'",
  "import ",
  "from . import ",
  "    ",
  "\0",
  "\u2028",
  "\ud800",
];

/** One random mutation of `src`. */
function mutate(src: string, r: () => number): string {
  const at = () => Math.floor(r() * (src.length + 1));
  switch (Math.floor(r() * 6)) {
    case 0: // truncate
      return src.slice(0, at());
    case 1: { // delete a range
      const a = at();
      return src.slice(0, a) + src.slice(a + Math.floor(r() * 200));
    }
    case 2: { // insert tokenizer-significant text
      let s = src;
      for (let i = 0; i < 1 + r() * 8; i++) {
        const a = Math.floor(r() * (s.length + 1));
        s = s.slice(0, a) + SPICE[Math.floor(r() * SPICE.length)] + s.slice(a);
      }
      return s;
    }
    case 3: { // splice a slice of itself elsewhere
      const a = at();
      const b = at();
      return src.slice(0, a) + src.slice(Math.min(a, b), Math.max(a, b)) + src.slice(a);
    }
    case 4: { // drop every quote of one kind
      return src.replaceAll(r() < 0.5 ? "'" : '"', "");
    }
    default: { // drop every bracket of one kind
      return src.replaceAll(["(", ")", "[", "]", "{", "}"][Math.floor(r() * 6)], "");
    }
  }
}

/** Random bytes (biased toward ASCII), decoded as Python would decode them. */
function randomBytes(r: () => number, n: number): string {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r() < 0.7 ? 32 + Math.floor(r() * 95) : Math.floor(r() * 256);
  return decodePythonSource(b).text;
}

/** Pathological inputs: deep nesting and long runs. */
function nasty(): string[] {
  const n = 20000;
  return [
    "(".repeat(n) + "\nimport a\n",
    ")".repeat(n),
    "[{(".repeat(n),
    'f"{'.repeat(n),
    "f'{x:{".repeat(n),
    "'".repeat(n),
    '"""'.repeat(n) + '"',
    "\\\n".repeat(n) + "import b",
    Array.from({ length: 2000 }, (_, i) => " ".repeat(i) + "if x:\n").join("") + "  import c\n",
    "try:\n".repeat(n) + "import d\n",
    "import " + "a.".repeat(n) + "b\n",
    "from " + ".".repeat(n) + " import e\n",
    "lambda: ".repeat(n) + "0\n",
    "__import__(".repeat(n),
    "x = 1; ".repeat(n),
    "\t".repeat(n) + "import f\n",
    "#".repeat(n * 10),
    "\r".repeat(n),
    "import g\n".repeat(n),
  ];
}

/** Scans `src`, failing on an escaped exception, a malformed result or a slow input. */
function check(src: string, label: string): void {
  const t0 = performance.now();
  const res = scanImports(src);
  const ms = performance.now() - t0;
  if (ms > LIMIT_MS) throw new Error(`${label}: ${ms.toFixed(0)} ms for ${src.length} chars`);
  assert.ok(Array.isArray(res.imports) && Array.isArray(res.functions), label);
  let lines = 1;
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 10 || (c === 13 && src.charCodeAt(i + 1) !== 10)) lines++;
  }
  for (const rec of res.imports) {
    assert.equal(typeof rec.module, "string", label);
    assert.ok(rec.level >= 0 && rec.line >= 1 && rec.line <= lines, `${label}: ${rec.line}`);
    assert.ok(rec.toplevel === (rec.functions.length === 0) || !rec.toplevel, label);
  }
  for (const p of res.problems) {
    assert.ok(p.line >= 1 && p.line <= lines && typeof p.message === "string", label);
  }
}

Deno.test("fuzz: random and mutated inputs never throw and finish in bounded time", () => {
  const seed = Number(Deno.env.get("PONCHO_FUZZ_SEED") ?? Date.now() % 1_000_000);
  console.log(`analyze_fuzz_test seed ${seed} (PONCHO_FUZZ_SEED to replay)`);
  const r = rng(seed);
  const base = corpus(250, r);
  let count = 0;
  let slowest = 0;
  const run = (src: string, label: string) => {
    const t0 = performance.now();
    check(src, `${label} (seed ${seed})`);
    slowest = Math.max(slowest, performance.now() - t0);
    count++;
  };
  for (const src of base) run(src, "corpus file");
  for (let i = 0; i < 3000; i++) {
    let s = base[Math.floor(r() * base.length)];
    const rounds = 1 + Math.floor(r() * 3);
    for (let j = 0; j < rounds; j++) s = mutate(s, r);
    run(s, `mutation ${i}`);
  }
  for (let i = 0; i < 1500; i++) run(randomBytes(r, Math.floor(r() * 4000)), `random bytes ${i}`);
  for (const [i, s] of nasty().entries()) run(s, `pathological input ${i}`);
  console.log(`${count} inputs, slowest ${slowest.toFixed(1)} ms`);
  assert.ok(count >= 4000);
});

Deno.test("fuzz: pathological inputs still find the imports after the damage", () => {
  const deep = scanImports("(".repeat(20000) + "\nimport a\n");
  assert.deepEqual(deep.imports.map((i) => i.module), ["a"]);
  const many = scanImports("import g\n".repeat(20000));
  assert.equal(many.imports.length, 20000);
  const ind = scanImports(
    Array.from({ length: 500 }, (_, i) => " ".repeat(i) + "if x:\n").join("") + "import c\n",
  );
  assert.deepEqual(ind.imports.map((i) => [i.module, i.toplevel]), [["c", true]]);
});
