import assert from "node:assert/strict";
import { join } from "node:path";
import { localClosure, resolveAutoSpec } from "./auto.ts";
import { NotFoundError, UsageError } from "./errors.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "poncho-auto-" });
  for (const [rel, text] of Object.entries(files)) {
    await Deno.mkdir(join(dir, rel, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, rel), text);
  }
  return dir;
}

Deno.test("the local closure follows local modules and packages recursively", async () => {
  const dir = await tree({
    "main.py": "import helper\nfrom tools import thing\nimport os\n",
    "helper.py": "import deep\nimport pyfiglet\n",
    "deep.py": "import emoji\n",
    "tools/__init__.py": "from .thing import x\n",
    "tools/thing.py": "import xkcdpass\n",
    "unused.py": "import zz_never\n",
  });
  try {
    const files = await localClosure(join(dir, "main.py"), "3.11");
    assert.deepEqual(
      files.map((f) => f.slice(dir.length + 1)),
      ["deep.py", "helper.py", "main.py", "tools/__init__.py", "tools/thing.py"],
    );
    const auto = await resolveAutoSpec({
      script: join(dir, "main.py"),
      python: "3.11",
      platform: "linux-64",
    });
    const deps = auto.spec.conda; // real conda-forge Python packages: unknown names are not guessed
    for (const d of ["pyfiglet", "emoji", "xkcdpass"]) {
      assert.ok(deps.includes(d), d);
    }
    assert.ok(!deps.includes("zz_never"));
    assert.ok(deps.includes("python=3.11"));
    assert.match(auto.hash, /^[0-9a-f]{64}$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the hash covers python version, channels and platform, not file order", async () => {
  const dir = await tree({
    "a.py": "import pyfiglet\nimport emoji\n",
    "b.py": "import emoji\nimport pyfiglet\n",
  });
  try {
    const h = async (script: string, python: string, channels?: string[], platform = "linux-64") =>
      (await resolveAutoSpec({ script: join(dir, script), python, channels, platform })).hash;
    const base = await h("a.py", "3.11");
    assert.equal(await h("b.py", "3.11"), base);
    assert.notEqual(await h("a.py", "3.12"), base);
    assert.notEqual(await h("a.py", "3.11", ["file:///somewhere"]), base);
    assert.notEqual(await h("a.py", "3.11", undefined, "osx-arm64"), base);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("-m finds a module or package; --spec reads a spec; pip adds pip", async () => {
  const dir = await tree({
    "app/__init__.py": "",
    "app/__main__.py": "import emoji\n",
    "s.json":
      '{"conda": {"channels": ["c"], "dependencies": ["python=3.11", {"pip": ["foo==1"]}]}}',
  });
  try {
    const m = await resolveAutoSpec({
      module: "app",
      cwd: dir,
      python: "3.11",
      platform: "linux-64",
    });
    assert.ok(m.spec.conda.includes("emoji"));
    const s = await resolveAutoSpec({ specFile: join(dir, "s.json"), platform: "linux-64" });
    assert.deepEqual(s.spec.conda, ["python=3.11", "pip"]);
    assert.deepEqual(s.spec.pip, ["foo==1"]);
    await assert.rejects(
      () => resolveAutoSpec({ module: "nope", cwd: dir, platform: "linux-64" }),
      NotFoundError,
    );
    await assert.rejects(
      () => resolveAutoSpec({ script: join(dir, "x.py"), platform: "linux-64" }),
      NotFoundError,
    );
    await assert.rejects(() => resolveAutoSpec({ platform: "linux-64" }), UsageError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
