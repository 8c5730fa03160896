import assert from "node:assert/strict";
import { StrFlag, Tok, Tokenizer } from "./tokenize.ts";

const KIND = ["EOF", "NAME", "NUMBER", "STRING", "OP", "NEWLINE"];

/** Every token as `KIND:text`, NEWLINE as `NL`. */
function toks(src: string): string[] {
  const tk = new Tokenizer(src);
  const out: string[] = [];
  while (tk.next() !== Tok.EOF) {
    out.push(tk.kind === Tok.NEWLINE ? "NL" : `${KIND[tk.kind]}:${tk.text()}`);
  }
  return out;
}

/** The single string token in `src`, with its flags and body. */
function str(src: string): { text: string; flags: number; body: string; problems: number } {
  const tk = new Tokenizer(src);
  while (tk.next() !== Tok.EOF) {
    if (tk.kind === Tok.STRING) {
      return {
        text: tk.text(),
        flags: tk.strFlags,
        body: src.slice(tk.bodyStart, tk.bodyEnd),
        problems: tk.problems.length,
      };
    }
  }
  throw new Error("no string in " + src);
}

Deno.test("tokenize: names, numbers, operators and logical lines", () => {
  assert.deepEqual(toks("import a.b as c\nx = 1e-5 + 0x1E+2\n"), [
    "NAME:import",
    "NAME:a",
    "OP:.",
    "NAME:b",
    "NAME:as",
    "NAME:c",
    "NL",
    "NAME:x",
    "OP:=",
    "NUMBER:1e-5",
    "OP:+",
    "NUMBER:0x1E",
    "OP:+",
    "NUMBER:2",
    "NL",
  ]);
  assert.deepEqual(toks("(y := 1_000j)"), [
    "OP:(",
    "NAME:y",
    "OP::=",
    "NUMBER:1_000j",
    "OP:)",
    "NL",
  ]);
  assert.deepEqual(toks("café = ünï\n"), ["NAME:café", "OP:=", "NAME:ünï", "NL"]);
});

Deno.test("tokenize: comments and blank lines produce nothing; no NEWLINE inside brackets", () => {
  assert.deepEqual(toks("# import x\n\n   \nf(a,  # import y\n  b)\n"), [
    "NAME:f",
    "OP:(",
    "NAME:a",
    "OP:,",
    "NAME:b",
    "OP:)",
    "NL",
  ]);
});

Deno.test("tokenize: backslash continuation joins physical lines", () => {
  assert.deepEqual(toks("import a, \\\n   b\nc\n"), [
    "NAME:import",
    "NAME:a",
    "OP:,",
    "NAME:b",
    "NL",
    "NAME:c",
    "NL",
  ]);
});

Deno.test("tokenize: indentation columns, tabs to multiples of 8, lineStart", () => {
  const tk = new Tokenizer("if x:\n\ty\n    \tz\n  w\n");
  const seen: string[] = [];
  while (tk.next() !== Tok.EOF) {
    if (tk.lineStart) seen.push(`${tk.text()}@${tk.indent}:${tk.line}`);
  }
  assert.deepEqual(seen, ["if@0:1", "y@8:2", "z@8:3", "w@2:4"]);
});

Deno.test("tokenize: CRLF and lone CR count as one line each", () => {
  const tk = new Tokenizer("a\r\nb\rc\n");
  const lines: number[] = [];
  while (tk.next() !== Tok.EOF) if (tk.kind === Tok.NAME) lines.push(tk.line);
  assert.deepEqual(lines, [1, 2, 3]);
});

Deno.test("tokenize: string prefixes in any case and order", () => {
  const cases: [string, number][] = [
    ["'import x'", 0],
    ['r"import \\" x"', StrFlag.RAW],
    ["b'x'", StrFlag.BYTES],
    ["u'x'", StrFlag.UNICODE],
    ["Rb'x'", StrFlag.RAW | StrFlag.BYTES],
    ["bR'x'", StrFlag.RAW | StrFlag.BYTES],
    ["ur'x'", StrFlag.RAW | StrFlag.UNICODE],
    ["f'x'", StrFlag.FORMAT],
    ["Fr'x'", StrFlag.FORMAT | StrFlag.RAW],
    ["t'x'", StrFlag.TEMPLATE],
    ["rT'x'", StrFlag.TEMPLATE | StrFlag.RAW],
  ];
  for (const [src, flags] of cases) {
    const s = str(src + "\n");
    assert.equal(s.text, src, src);
    assert.equal(s.flags, flags, src);
    assert.equal(s.problems, 0, src);
  }
  // A name longer than a prefix, or with other letters, is a name followed by a string.
  assert.deepEqual(toks("bar'x'"), ["NAME:bar", "STRING:'x'", "NL"]);
});

Deno.test("tokenize: triple-quoted strings span lines and keep line numbers", () => {
  const tk = new Tokenizer('"""doc\nimport x\n"""\ny\n');
  assert.equal(tk.next(), Tok.STRING);
  assert.equal(tk.line, 1);
  assert.equal(tk.strFlags, StrFlag.TRIPLE);
  assert.equal(tk.src.slice(tk.bodyStart, tk.bodyEnd), "doc\nimport x\n");
  assert.equal(tk.next(), Tok.NEWLINE);
  assert.equal(tk.next(), Tok.NAME);
  assert.equal(tk.line, 4);
  assert.deepEqual(toks("'''a ''' 'b' b'''c'''"), [
    "STRING:'''a '''",
    "STRING:'b'",
    "STRING:b'''c'''",
    "NL",
  ]);
});

Deno.test("tokenize: f-strings with nested quotes, fields, specs and comments are one token", () => {
  const cases = [
    `f"{x["key"]}"`, // PEP 701: same quotes inside
    `f"{'}'}"`,
    `f"{x:{'>'}{width}}"`,
    `f"{x!r:>10} {{literal}} \\N{BULLET}"`,
    `f"{f"{f"{1}"}"}"`,
    `f"""{
      x # a comment with " and }
    }"""`,
    `rf"\\{x}"`,
    `t"{name!s} {value:.2f}"`,
    `f"{a if b else f'{c}'}"`,
    `f"{x:{'a'}\n}"`,
  ];
  for (const src of cases) {
    assert.deepEqual(toks(src + " + y"), [`STRING:${src}`, "OP:+", "NAME:y", "NL"], src);
  }
});

Deno.test("tokenize: unterminated strings are reported and stop at the end of the line", () => {
  const tk = new Tokenizer("x = 'abc\nimport os\n");
  const out: string[] = [];
  while (tk.next() !== Tok.EOF) if (tk.kind !== Tok.NEWLINE) out.push(tk.text());
  assert.deepEqual(out, ["x", "=", "'abc", "import", "os"]);
  assert.deepEqual(tk.problems, [{ line: 1, message: "unterminated string" }]);

  const tri = new Tokenizer('x = """abc\nimport os\n');
  while (tri.next() !== Tok.EOF) { /* drain */ }
  assert.deepEqual(tri.problems, [{ line: 1, message: "unterminated triple-quoted string" }]);

  // An f-string field left open by the enclosing quote ends at that quote.
  assert.deepEqual(toks('f"{x" + y\nz'), ['STRING:f"{x"', "OP:+", "NAME:y", "NL", "NAME:z", "NL"]);
});

Deno.test("tokenize: unbalanced brackets are reported, and closeBrackets resyncs", () => {
  const tk = new Tokenizer(")\nf(\n");
  while (tk.next() !== Tok.EOF) { /* drain */ }
  assert.deepEqual(tk.problems.map((p) => p.message), ["unmatched ')'", "bracket never closed"]);

  const r = new Tokenizer("f(a,\nimport os\n");
  const starts: string[] = [];
  while (r.next() !== Tok.EOF) {
    if (r.isName("import") && r.depth > 0 && r.physStart) r.closeBrackets();
    if (r.lineStart) starts.push(r.text());
  }
  assert.deepEqual(starts, ["f", "import"]);
  assert.equal(r.problems[0].line, 1);
});

Deno.test("tokenize: Python 2 syntax tokenizes (backticks, <>, long and octal literals)", () => {
  assert.deepEqual(toks("print `x` <> 0777L, ur'a'\n"), [
    "NAME:print",
    "OP:`",
    "NAME:x",
    "OP:`",
    "OP:<",
    "OP:>",
    "NUMBER:0777L",
    "OP:,",
    "STRING:ur'a'",
    "NL",
  ]);
});

Deno.test("tokenize: deeply nested f-strings are cut off with a problem, not a stack overflow", () => {
  const deep = 'f"{'.repeat(5000) + "1" + '}"'.repeat(5000) + "\nimport os\n";
  const tk = new Tokenizer(deep);
  const names: string[] = [];
  while (tk.next() !== Tok.EOF) if (tk.kind === Tok.NAME) names.push(tk.text());
  assert.ok(names.includes("os"));
  assert.ok(tk.problems.some((p) => p.message.includes("nested too deeply")));
});
