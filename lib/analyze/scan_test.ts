import assert from "node:assert/strict";
import { scanImports } from "./scan.ts";
import type { ImportRecord } from "./types.ts";

/** `module` (with leading dots for relative imports) of every import, in order. */
function mods(src: string): string[] {
  return scanImports(src).imports.map((r) => ".".repeat(r.level) + r.module);
}

/** The record for `module` (first one), or a failure. */
function rec(src: string, module: string): ImportRecord {
  const r = scanImports(src).imports.find((i) => i.module === module);
  if (r === undefined) throw new Error(`no import of ${module} in:\n${src}`);
  return r;
}

/** Modules whose records are optional. */
function optional(src: string): string[] {
  return scanImports(src).imports.filter((r) => r.optional).map((r) => r.module);
}

Deno.test("scan: imports in strings, docstrings and comments are ignored", () => {
  const src = [
    '"""Module doc.',
    "import doc1",
    '"""',
    "# import comment1",
    "x = 'import s1'; y = \"import s2\"  # import comment2",
    "z = r'import s3' + b'import s4' + u'import s5' + rb'\\'import s6' + Br'import s7'",
    "w = f'import {s8}' + fr'import {s9!r}' + f\"{'import s10'}\" + t'import {s11}'",
    'v = f"{x["import s12"]:{"import s13"}}"  # PEP 701 nested quotes',
    "u = '''",
    "import s14",
    "''' + f'''{",
    "  y  # import s15 in a comment inside a field",
    "}'''",
    "def f():",
    "    '''import doc2'''",
    "    import real",
  ].join("\n");
  assert.deepEqual(mods(src), ["real"]);
});

Deno.test("scan: import statement forms", () => {
  assert.deepEqual(mods("import a, b as c\nimport a.b.c as d\n"), ["a", "b", "a.b.c"]);
  assert.deepEqual(mods("from m import (x,\n    y as z,\n)\nfrom n import *\n"), ["m", "n"]);
  assert.deepEqual(rec("from m import (x,\n y as z,\n)\n", "m").names, ["x", "y"]);
  assert.deepEqual(rec("from n import *\n", "n").names, ["*"]);
  assert.deepEqual(mods("import a, \\\n  b\nfrom c \\\n  import d\n"), ["a", "b", "c"]);
  assert.deepEqual(mods("import os; import sys;x = 1; from re import sub\n"), ["os", "sys", "re"]);
  assert.deepEqual(mods("from __future__ import annotations, print_function\n"), ["__future__"]);
  assert.deepEqual(mods("import a . b\n"), ["a.b"]);
});

Deno.test("scan: relative imports keep their level", () => {
  const { imports } = scanImports("from . import x\nfrom ..a.b import c\nfrom ... import d\n");
  assert.deepEqual(
    imports.map((r) => [r.module, r.level, r.names]),
    [["", 1, ["x"]], ["a.b", 2, ["c"]], ["", 3, ["d"]]],
  );
});

Deno.test("scan: lines are 1-based lines of the import keyword", () => {
  const { imports } = scanImports("\n\nimport a\r\nx = (1,\n 2); import b\rfrom \\\n c import d\n");
  assert.deepEqual(imports.map((r) => [r.module, r.line]), [["a", 3], ["b", 5], ["c", 6]]);
});

Deno.test("scan: toplevel and enclosing functions, async def too; ScanResult.functions", () => {
  const src = [
    "import top",
    "class C:",
    "    import in_class",
    "    def m(self):",
    "        import in_method",
    "async def outer():",
    "    def inner():",
    "        if x:",
    "            import deep",
    "    import in_outer",
    "import top2",
    "def one(): import one_liner",
  ].join("\n");
  const r = scanImports(src);
  const ctx = (m: string) => [rec(src, m).toplevel, rec(src, m).functions];
  assert.deepEqual(ctx("top"), [true, []]);
  assert.deepEqual(ctx("in_class"), [false, []]);
  assert.deepEqual(ctx("in_method"), [false, ["m"]]);
  assert.deepEqual(ctx("deep"), [false, ["outer", "inner"]]);
  assert.deepEqual(ctx("in_outer"), [false, ["outer"]]);
  assert.deepEqual(ctx("top2"), [true, []]);
  assert.deepEqual(ctx("one_liner"), [false, ["one"]]);
  assert.deepEqual(r.functions, ["m", "outer", "inner", "one"]);
});

Deno.test("scan: statements inside if/try/with/for/match blocks are still module level", () => {
  const src =
    "if a:\n    import x\ntry:\n    with f():\n        for i in y:\n            import z\n" +
    "except E:\n    pass\nmatch v:\n    case 1:\n        import m\n    case _: import n\n";
  assert.deepEqual(mods(src), ["x", "z", "m", "n"]);
  assert.ok(scanImports(src).imports.every((r) => r.toplevel && r.functions.length === 0));
});

Deno.test("scan: try/except ImportError (and friends) marks imports optional", () => {
  assert.deepEqual(optional("try: import a\nexcept ImportError: a = None\nimport b\n"), ["a"]);
  assert.deepEqual(optional("try:\n    import a\nexcept ModuleNotFoundError as e:\n    pass\n"), [
    "a",
  ]);
  assert.deepEqual(optional("try:\n    import a\nexcept:\n    pass\n"), ["a"]);
  assert.deepEqual(optional("try:\n    import a\nexcept Exception:\n    pass\n"), ["a"]);
  assert.deepEqual(optional("try:\n    import a\nexcept (OSError, ImportError):\n    pass\n"), [
    "a",
  ]);
  assert.deepEqual(optional("try:\n    import a\nexcept ImportError, e:\n    pass\n"), ["a"]); // py2
  // Also in the except and else bodies of such a try; not in finally.
  const src = "try:\n    import a\nexcept ValueError:\n    import b\nexcept ImportError:\n" +
    "    import c\nelse:\n    import d\nfinally:\n    import e\n";
  assert.deepEqual(optional(src), ["a", "b", "c", "d"]);
  // A try whose handlers do not catch import errors is not optional.
  assert.deepEqual(optional("try:\n    import a\nexcept ValueError:\n    import b\n"), []);
  assert.deepEqual(optional("try:\n    import a\nfinally:\n    pass\n"), []);
  // Nesting: a def inside a try is optional too; a later try is independent.
  assert.deepEqual(
    optional(
      "try:\n    def f():\n        import a\nexcept ImportError:\n    pass\n" +
        "try:\n    import b\nexcept KeyError:\n    pass\n",
    ),
    ["a"],
  );
});

Deno.test("scan: TYPE_CHECKING, version and platform branches are optional, elif/else too", () => {
  assert.deepEqual(optional("if TYPE_CHECKING:\n    import a\nimport b\n"), ["a"]);
  assert.deepEqual(optional("if typing.TYPE_CHECKING: import a\n"), ["a"]);
  assert.deepEqual(optional("if not TYPE_CHECKING:\n    import a\n"), ["a"]);
  assert.deepEqual(
    optional("if sys.version_info >= (3, 11):\n    import tomllib\nelse:\n    import tomli\n"),
    ["tomllib", "tomli"],
  );
  assert.deepEqual(
    optional(
      'if sys.platform == "win32":\n    import a\nelif os.name == "nt":\n    import b\n' +
        "else:\n    import c\nimport d\n",
    ),
    ["a", "b", "c"],
  );
  assert.deepEqual(optional('if platform.system() == "Darwin":\n    import a\n'), ["a"]);
  // Only from the first conditional test on: a plain `if` before it is not optional.
  assert.deepEqual(
    optional(
      "if x:\n    import a\nelif sys.platform == 'linux':\n    import b\nelse:\n    import c\n",
    ),
    ["b", "c"],
  );
  // Plain conditions, attributes that only look similar, and for/else are not optional.
  assert.deepEqual(optional("if x.sys.platform:\n    import a\nif debug:\n    import b\n"), []);
  assert.deepEqual(optional("for x in y:\n    pass\nelse:\n    import a\n"), []);
  // Nested blocks inside a conditional branch inherit it; dedenting leaves it.
  assert.deepEqual(
    optional("if TYPE_CHECKING:\n    def f():\n        import a\nimport b\n"),
    ["a"],
  );
});

Deno.test("scan: with contextlib.suppress(ImportError) marks its body optional", () => {
  const src = "with suppress(ImportError):\n    import a\nwith open(f) as g:\n    import b\n" +
    "async def f():\n    async with contextlib.suppress(ModuleNotFoundError): import c\n";
  assert.deepEqual(optional(src), ["a", "c"]);
});

Deno.test("scan: __import__ and importlib.import_module with a literal are dynamic records", () => {
  const src = [
    "import importlib",
    "__import__('a')",
    'm = importlib.import_module("b.c")',
    "importlib.import_module('.rel', package=__name__)",
    "importlib.import_module('..up.x', 'pkg')",
    "importlib.import_module(name)",
    "importlib.import_module('a' + x)",
    "importlib.import_module(f'p{x}')",
    "importlib.import_module('a' 'b')",
    "obj.__import__('no')",
    "import_module('not_imported_yet')",
    "from importlib import import_module",
    "def f():",
    "    return import_module('d')",
    "import importlib as il",
    "il.import_module('e')",
    "from importlib import import_module as im",
    "im('f')",
  ].join("\n");
  const dyn = scanImports(src).imports.filter((r) => r.dynamic);
  assert.deepEqual(
    dyn.map((r) => [r.module, r.level, r.line]),
    [["a", 0, 2], ["b.c", 0, 3], ["rel", 1, 4], ["up.x", 2, 5], ["d", 0, 14], ["e", 0, 16], [
      "f",
      0,
      18,
    ]],
  );
  assert.deepEqual(rec(src, "d").functions, ["f"]);
  assert.equal(rec(src, "d").toplevel, false);
  assert.ok(dyn.every((r) => r.names.length === 0));
});

Deno.test("scan: dynamic imports in try/except are optional", () => {
  const src = "try:\n    yaml = __import__('yaml')\nexcept ImportError:\n    yaml = None\n";
  assert.deepEqual(optional(src), ["yaml"]);
});

Deno.test("scan: 'import' as an attribute or soft keywords do not confuse it", () => {
  const src = [
    "x.import_ = 1",
    "from_ = import_ = 2",
    "match = re.match('import x', s)",
    "match command.split():",
    "    case ['go', direction]:",
    "        import go",
    "    case _:",
    "        pass",
    "type Point = tuple[float, float]",
    "type = 3",
    "case = 4",
    "print(type(x))",
    "x = y if z else w",
    "f = lambda: 0; import after_lambda",
    "if (lambda: 1)(): import after_header",
    "if x: f = lambda: 0; import two",
    "async = 5",
    "def g(a: int = 1) -> int: return 1",
    "raise ValueError from err",
    "def h():\n    yield from gen\n    import inside_h",
  ].join("\n");
  assert.deepEqual(mods(src), ["go", "after_lambda", "after_header", "two", "inside_h"]);
});

Deno.test("scan: Python 2 files are scanned completely", () => {
  const src = [
    "import urllib2",
    'print "hello %s" % name',
    "print >>sys.stderr, `x`",
    'exec "import not_real" in ns',
    "if x <> 0777L:",
    "    from ConfigParser import SafeConfigParser",
    "try:",
    "    import cPickle as pickle",
    "except ImportError, e:",
    "    import pickle",
    "s = ur'raw unicode'",
  ].join("\n");
  assert.deepEqual(mods(src), ["urllib2", "ConfigParser", "cPickle", "pickle"]);
  assert.deepEqual(optional(src), ["cPickle", "pickle"]);
  assert.deepEqual(scanImports(src).problems, []);
});

Deno.test("scan: tabs, CRLF and form feeds keep indentation right", () => {
  const src = "def f():\r\n\timport a\r\n\f\r\ndef g():\r\n        import b\r\nimport c\r\n";
  assert.deepEqual(rec(src, "a").functions, ["f"]);
  assert.deepEqual(rec(src, "b").functions, ["g"]);
  assert.equal(rec(src, "c").toplevel, true);
});

Deno.test("scan: broken input never throws and problems name their lines", () => {
  const r = scanImports("import a\nx = 'unterminated\nimport b\ny = f(1,\nimport c\n");
  assert.deepEqual(mods("import a\nx = 'unterminated\nimport b\ny = f(1,\nimport c\n"), [
    "a",
    "b",
    "c",
  ]);
  assert.deepEqual(r.problems.map((p) => p.line), [2, 4]);
  assert.match(r.problems[0].message, /unterminated string/);
  assert.match(r.problems[1].message, /unclosed bracket/);
  // An unclosed bracket inside a def: the import after it is still found, in context.
  const d = "def f():\n    x = [1,\n    import z\n";
  assert.deepEqual(rec(d, "z").functions, ["f"]);
  for (const junk of ["", "\0\0\0", "import", "from", "from . import", ")))", "'''", "\\", "@"]) {
    const res = scanImports(junk);
    assert.ok(Array.isArray(res.imports) && Array.isArray(res.problems), junk);
  }
  assert.deepEqual(scanImports("import\n").problems.map((p) => p.line), [1]);
});
