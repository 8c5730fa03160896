import assert from "node:assert/strict";
import { parseScriptMetadata, pythonSpecFromRequires } from "./pep723.ts";

Deno.test("pep723: dependencies and requires-python are read as given", () => {
  const src = [
    "#!/usr/bin/env python3",
    "# /// script",
    '# requires-python = ">=3.10"',
    "# dependencies = [",
    '#   "requests<3",',
    "#   'rich',  # a comment",
    '#   "foo[bar]>=1; python_version < \\"3.12\\"",',
    "# ]",
    "# [tool.uv]",
    '# dependencies = ["not-this"]',
    "# ///",
    "import requests",
  ].join("\r\n");
  const meta = parseScriptMetadata(src);
  assert.deepEqual(meta, {
    dependencies: ["requests<3", "rich", 'foo[bar]>=1; python_version < "3.12"'],
    requiresPython: ">=3.10",
    line: 2,
    problems: [],
  });
});

Deno.test("pep723: no block, other block types, and a second script block", () => {
  assert.equal(parseScriptMetadata("import os\n# just a comment\n"), null);
  assert.equal(parseScriptMetadata("# /// pyproject\n# x = 1\n# ///\n"), null);
  const two =
    "# /// script\n# dependencies = ['a']\n# ///\n\n# /// script\n# dependencies = []\n# ///\n";
  const meta = parseScriptMetadata(two)!;
  assert.deepEqual(meta.dependencies, ["a"]);
  assert.equal(meta.problems.length, 1);
  assert.equal(meta.problems[0].line, 5);
});

Deno.test("pep723: unclosed block is reported, not used", () => {
  const meta = parseScriptMetadata("# /// script\n# dependencies = ['a']\nimport a\n")!;
  assert.deepEqual(meta.dependencies, []);
  assert.match(meta.problems[0].message, /unclosed/);
});

Deno.test("pep723: requires-python becomes a conda python spec", () => {
  assert.equal(pythonSpecFromRequires(">=3.10"), "python>=3.10");
  assert.equal(pythonSpecFromRequires(">= 3.9, <3.13"), "python>=3.9,<3.13");
  assert.equal(pythonSpecFromRequires("~=3.10"), "python>=3.10,<4");
  assert.equal(pythonSpecFromRequires("~=3.10.2"), "python>=3.10.2,<3.11");
  assert.equal(pythonSpecFromRequires("==3.11.*"), "python=3.11");
  assert.equal(pythonSpecFromRequires("3.11"), "python==3.11");
});
