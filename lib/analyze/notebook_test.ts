import assert from "node:assert/strict";
import { readNotebook } from "./notebook.ts";

function nb(cells: { type?: string; src: string | string[] }[], metadata = {}): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata,
    cells: cells.map((c) => ({ cell_type: c.type ?? "code", source: c.src, metadata: {} })),
  });
}

Deno.test("notebook: code cells only, magics and shell lines blanked with lines kept", () => {
  const content = readNotebook(nb([
    { type: "markdown", src: "import notthis" },
    { src: ["%matplotlib inline\n", "import numpy as np\n", "!ls -l\n", "files = !ls\n", "np?"] },
  ]));
  assert.deepEqual(content.code, [{ cell: 2, source: "\nimport numpy as np\n\n\n" }]);
  assert.deepEqual(content.problems, []);
});

Deno.test("notebook: %%bash cells skipped, %%time bodies analysed", () => {
  const content = readNotebook(nb([
    { src: "%%bash\nimport notpython\n" },
    { src: "\n%%time\nimport pandas\n" },
    { src: "%%html\n<b>import x</b>" },
  ]));
  assert.deepEqual(content.code, [{ cell: 2, source: "\n\nimport pandas\n" }]);
});

Deno.test("notebook: %%writefile m.py is recorded and its body analysed", () => {
  const content = readNotebook(nb([
    { src: "%%writefile helpers.py\nimport requests\n" },
    { src: "%%writefile -a notes.txt\nimport nothing\n" },
  ]));
  assert.deepEqual(content.writefiles, [
    { cell: 1, path: "helpers.py" },
    { cell: 2, path: "notes.txt" },
  ]);
  assert.deepEqual(content.code, [{ cell: 1, source: "\nimport requests\n" }]);
});

Deno.test("notebook: pip and conda installs are reported", () => {
  const content = readNotebook(nb([
    {
      src: "!pip install -q requests 'rich>=13' -r req.txt --index-url https://x/simple\n" +
        "%pip install foo==1.0  # pinned\n!conda install -y -c conda-forge numpy\n" +
        "!pip install {pkg}\n",
    },
  ]));
  assert.deepEqual(content.installs, [
    { cell: 1, line: 1, manager: "pip", packages: ["requests", "rich>=13"] },
    { cell: 1, line: 2, manager: "pip", packages: ["foo==1.0"] },
    { cell: 1, line: 3, manager: "conda", packages: ["numpy"] },
  ]);
  assert.equal(content.code[0].source, "\n\n\n\n");
});

Deno.test("notebook: non-Python notebooks and non-notebook JSON", () => {
  const r = readNotebook(nb([{ src: "library(x)" }], { kernelspec: { language: "R" } }));
  assert.deepEqual(r.code, []);
  assert.match(r.problems[0].message, /R, not Python/);
  assert.throws(() => readNotebook('{"a": 1}'), TypeError);
  assert.throws(() => readNotebook("{not json"), SyntaxError);
});

Deno.test("notebook: nbformat 3 worksheets", () => {
  const v3 = JSON.stringify({
    worksheets: [{ cells: [{ cell_type: "code", input: ["import scipy\n"] }] }],
  });
  assert.deepEqual(readNotebook(v3).code, [{ cell: 1, source: "import scipy\n" }]);
});
