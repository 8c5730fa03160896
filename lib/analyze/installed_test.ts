import assert from "node:assert/strict";
import { join } from "node:path";
import { NotFoundError } from "../errors.ts";
import {
  canDropFileCapabilities,
  runUnprivileged,
  withTempDir,
  writeFileAt,
  writeTree,
} from "../../tests/util.ts";
import {
  findPythonOnPath,
  lookupInstalled,
  normalizeDistName,
  readInstalled,
} from "./installed.ts";

const write = writeFileAt;

const ELF = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);

/** A prefix with a conda package (numpy, owning its dist-info) and pip-only dists. */
async function makePrefix(root: string): Promise<string> {
  const sp = "lib/python3.10/site-packages";
  const site = join(root, sp);
  await write(join(root, "bin/python3.10"), ELF, 0o755);
  await Deno.symlink("python3.10", join(root, "bin/python3"));
  await writeTree(root, {
    "conda-meta/numpy-1.26.4-py310h_0.json": JSON.stringify({
      name: "numpy",
      version: "1.26.4",
      files: [
        "bin/f2py",
        `${sp}/numpy/__init__.py`,
        `${sp}/numpy/linalg/__init__.py`,
        `${sp}/numpy-1.26.4.dist-info/METADATA`,
      ],
    }),
    "conda-meta/pyyaml-6.0.1-py310_0.json": JSON.stringify({
      name: "pyyaml",
      version: "6.0.1",
      paths_data: { paths: [{ _path: `${sp}/yaml/__init__.py` }, { _path: `${sp}/_yaml.so` }] },
    }),
    "conda-meta/history": "",
  });
  await writeTree(site, {
    "numpy-1.26.4.dist-info/METADATA": "Name: numpy\nVersion: 1.26.4\n",
    // pip-only, with top_level.txt
    "Foo_Bar-1.0.dist-info/METADATA":
      "Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.0\n\nName: not-this\n",
    "Foo_Bar-1.0.dist-info/top_level.txt": "foobar\n",
    // pip-only, RECORD only (no top_level.txt)
    "wikipedia-1.4.0.dist-info/METADATA": "Name: wikipedia\nVersion: 1.4.0\n",
    "wikipedia-1.4.0.dist-info/RECORD": [
      "wikipedia/__init__.py,sha256=x,10",
      "wikipedia/__pycache__/x.pyc,,",
      "wikipedia-1.4.0.dist-info/RECORD,,",
      "../../../bin/wiki,,",
      "wiki_helper.py,,",
      "wikipedia.pth,,",
      '"odd,name/__init__.py",,',
    ].join("\n"),
    // a namespace package shared by two dists
    "protobuf-4.25.0.dist-info/METADATA": "Name: protobuf\nVersion: 4.25.0\n",
    "protobuf-4.25.0.dist-info/RECORD": "google/protobuf/__init__.py,,\n",
    "google_auth-2.0.dist-info/METADATA": "Name: google-auth\nVersion: 2.0\n",
    "google_auth-2.0.dist-info/RECORD": "google/auth/__init__.py,,\n",
  });
  return root;
}

Deno.test("installed: PEP 503 normalisation", () => {
  assert.equal(normalizeDistName("Foo_Bar.baz--X"), "foo-bar-baz-x");
});

Deno.test("installed: --prefix reads conda-meta and dist-info as files", async () => {
  const root = await makePrefix(await Deno.makeTempDir());
  try {
    const index = await readInstalled({ prefix: root, env: {} });
    assert.equal(index.pythonVersion, "3.10");
    assert.equal(index.condaMeta.length, 1);
    for (
      const [module, name, version, manager] of [
        ["numpy.linalg", "numpy", "1.26.4", "conda"],
        ["yaml", "pyyaml", "6.0.1", "conda"],
        ["foobar", "foo-bar", "1.0", "pip"],
        ["wikipedia", "wikipedia", "1.4.0", "pip"],
      ]
    ) {
      assert.deepEqual(lookupInstalled(index, module), { name, version, manager }, module);
    }
    assert.equal(lookupInstalled(index, "_yaml")?.name, "pyyaml");
    assert.equal(lookupInstalled(index, "wiki_helper")?.name, "wikipedia");
    for (const junk of ["__pycache__", "bin", "wikipedia-1.4.0", "wikipedia.pth", "RECORD"]) {
      assert.equal(index.modules.has(junk), false, junk);
    }
    assert.equal(lookupInstalled(index, "google.protobuf.message")?.name, "protobuf");
    assert.equal(lookupInstalled(index, "google.auth")?.name, "google-auth");
    assert.equal(lookupInstalled(index, "requests"), null);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("installed: python3 on PATH through a symlink, and CONDA_PREFIX", () =>
  withTempDir("poncho-test-", async (tmp) => {
    const root = await makePrefix(join(tmp, "env"));
    await Deno.mkdir(join(tmp, "bin"));
    await Deno.symlink(join(root, "bin/python3"), join(tmp, "bin/python3"));
    const env = { PATH: `${join(tmp, "nothing")}:${join(tmp, "bin")}` };
    const found = await findPythonOnPath(env, tmp);
    assert.deepEqual(found, { prefix: root, version: "3.10", how: "path" });
    const index = await readInstalled({ env, cwd: tmp, allowExec: false });
    assert.equal(lookupInstalled(index, "foobar")?.version, "1.0");
    assert.equal(lookupInstalled(index, "numpy")?.manager, "conda");
    const viaConda = await readInstalled({ env: { CONDA_PREFIX: root }, allowExec: false });
    assert.equal(lookupInstalled(viaConda, "numpy")?.version, "1.26.4");
  }));

Deno.test("installed: a pyenv shim is resolved through pyenv's version files", () =>
  withTempDir("poncho-test-", async (tmp) => {
    const pyenv = join(tmp, "pyenv");
    await makePrefix(join(pyenv, "versions/3.10.4"));
    await makePrefix(join(pyenv, "versions/3.9.1"));
    await write(
      join(pyenv, "shims/python3"),
      `#!/usr/bin/env bash\nexport PYENV_ROOT="${pyenv}"\nexec "${pyenv}/libexec/pyenv" exec x\n`,
      0o755,
    );
    await write(join(pyenv, "version"), "3.10.4\n");
    await write(join(tmp, "proj/.python-version"), "3.9.1\n");
    await Deno.mkdir(join(tmp, "proj/sub"));
    const env = { PATH: join(pyenv, "shims") };
    assert.equal((await findPythonOnPath(env, tmp))?.prefix, join(pyenv, "versions/3.10.4"));
    const local = await findPythonOnPath(env, join(tmp, "proj/sub"));
    assert.equal(local?.prefix, join(pyenv, "versions/3.9.1"));
    assert.equal(local?.how, "pyenv");
    const forced = await findPythonOnPath({ ...env, PYENV_VERSION: "3.10.4" }, join(tmp, "proj"));
    assert.equal(forced?.prefix, join(pyenv, "versions/3.10.4"));
    // "system" continues the PATH search after the shims
    await makePrefix(join(tmp, "sys"));
    await write(join(pyenv, "version"), "system\n");
    const system = await findPythonOnPath(
      { PATH: `${join(pyenv, "shims")}:${join(tmp, "sys/bin")}` },
      tmp,
    );
    assert.equal(system?.prefix, join(tmp, "sys"));
  }));

Deno.test("installed: an absent metadata file is no answer, a directory in its place is an error naming it", () =>
  withTempDir("poncho-test-", async (tmp) => {
    const prefix = join(tmp, "env");
    await makePrefix(prefix);
    const site = join(prefix, "lib/python3.10/site-packages");
    // absent top_level.txt / RECORD: the dist is still read (from its METADATA)
    await write(join(site, "lone-2.0.dist-info/METADATA"), "Name: lone\nVersion: 2.0\n");
    const ok = await readInstalled({ prefix });
    assert.deepEqual(ok.problems, []);
    assert.ok(ok.modules.has("foobar"));
    // a path under a regular file (ENOTDIR) is absent too: `lib` is a file here
    const flat = join(tmp, "flat");
    await write(join(flat, "lib"), "not a directory\n");
    assert.equal((await readInstalled({ prefix: flat })).modules.size, 0);
    // a directory where METADATA is expected (EISDIR) was once read as "no metadata"
    await Deno.mkdir(join(site, "broken-1.0.dist-info/METADATA"), { recursive: true });
    const err = await readInstalled({ prefix }).then(() => null, (e) => e);
    assert.ok(err instanceof NotFoundError, String(err));
    assert.equal(err.path, join(site, "broken-1.0.dist-info/METADATA"));
    assert.match(err.message, /is a directory/);
    assert.equal(err.exitCode, 2);
  }));

Deno.test("installed: a damaged conda-meta record is reported by name and its package ignored", () =>
  withTempDir("poncho-test-", async (tmp) => {
    await makePrefix(tmp);
    await write(join(tmp, "conda-meta/broken-1.0-0.json"), '{"name": "broken", ');
    const idx = await readInstalled({ prefix: tmp });
    assert.equal(idx.problems.length, 1);
    assert.match(idx.problems[0], /conda-meta\/broken-1\.0-0\.json: not valid JSON/);
    assert.equal(lookupInstalled(idx, "numpy")?.name, "numpy"); // the rest is read
  }));

Deno.test({
  name:
    "installed: an unreadable metadata file is a permission error naming it (exit 2), not absent",
  ignore: !canDropFileCapabilities,
  fn: () =>
    withTempDir("poncho-test-", async (tmp) => {
      await makePrefix(tmp);
      const meta = join(tmp, "lib/python3.10/site-packages/Foo_Bar-1.0.dist-info/METADATA");
      await Deno.chmod(meta, 0o000);
      const text = await runUnprivileged(
        `import { readInstalled } from ${
          JSON.stringify(new URL("./installed.ts", import.meta.url).href)
        };
try {
  await readInstalled({ prefix: Deno.args[0] });
  console.log("{}");
} catch (e) {
  console.log(JSON.stringify({ kind: e.kind, exit: e.exitCode, path: e.path }));
}
`,
        [tmp],
      );
      // Before, the unreadable METADATA was read as "no METADATA" and the dist named by its stem.
      assert.deepEqual(JSON.parse(text), { kind: "permission", exit: 2, path: meta });
    }),
});
