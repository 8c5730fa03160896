/**
 * `poncho index` on real packages (`../shared/realpkgs/`, made by conda-build,
 * rattler's and pixi's tooling) plus packages made with `cph` for each
 * site-packages layout, checking repodata, the import map, incremental runs
 * and bad packages, and the CEP-16 shards; then end to end: a project whose
 * imports differ from its package names, analysed against that channel, gives
 * a spec that `poncho create` solves (reading the channel's shards) and whose
 * environment imports every module.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import zlib from "node:zlib";
import { runPoncho, withTempDir } from "./util.ts";
import { decodeShard, decodeShardIndex, SHARD_INDEX_FILE } from "../lib/conda/shards.ts";
import {
  buildPackage,
  buildTestChannel,
  fixtureToolsAvailable,
  noarchPythonDef,
  type PkgDef,
} from "./fixtures/channel.ts";
import { REALPKGS, realpkgsAvailable } from "./fixtures/realpkgs.ts";

const haveReal = realpkgsAvailable();
const tools = await fixtureToolsAvailable();
const ignore = !tools.ok || !haveReal;
if (ignore) {
  console.log(`index tests skipped: ${tools.missing.join(", ") || "no ../shared/realpkgs"}`);
}

const noarch = (name: string, files: string[], extra: Partial<PkgDef> = {}): PkgDef =>
  noarchPythonDef({
    name,
    version: "1.0",
    build: "py_0",
    files: files.map((path) => ({ path, content: path.endsWith(".pth") ? "src\n" : "X = 1\n" })),
    ...extra,
  });

/** One package per layout the import map must understand. */
function layoutDefs(): PkgDef[] {
  return [
    noarch("nspkg-storage", [
      "site-packages/acme/cloud/storage/__init__.py",
      "site-packages/acme_cloud_storage-1.0.dist-info/METADATA",
    ]),
    {
      ...noarch("fastext", [
        "lib/python3.12/site-packages/fastext/__init__.py",
        "lib/python3.12/site-packages/_fastext.cpython-312-x86_64-linux-gnu.so",
        "lib/python3.12/site-packages/fastext/_rs.abi3.so",
      ]),
      subdir: "linux-64",
      noarch: undefined,
      build: "py312_0",
    },
    // src layout: the package's code under src/, put on the path by a .pth file
    noarch("pthpkg", [
      "site-packages/pthpkg.pth",
      "site-packages/src/pthmod/__init__.py",
    ]),
    {
      ...noarch("ftpkg", ["lib/python3.13t/site-packages/ftmod/__init__.py"]),
      subdir: "linux-64",
      noarch: undefined,
      build: "py313t_0",
    },
    noarch("onefile", [
      "site-packages/onefile.py",
      "site-packages/tests/test_onefile.py",
      "site-packages/onefile-stubs/__init__.pyi",
      "site-packages/__pycache__/onefile.cpython-312.pyc",
    ], { ext: ".tar.bz2" }),
    // legacy metadata: info/files only, no paths.json
    noarch("legacymod", ["site-packages/legacymod/__init__.py"], {
      ext: ".tar.bz2",
      legacy: true,
    }),
  ];
}

async function copyRealPackages(channel: string): Promise<void> {
  for (const group of ["conda+conda", "conda+rattler", "prefix-dev+pixi"]) {
    for await (const e of Deno.readDir(join(REALPKGS, group))) {
      if (!e.name.endsWith(".conda")) continue;
      const m = /^([a-z0-9-]+)__(.+)$/.exec(e.name); // conda+conda names are <subdir>__<file>
      // everything lands in noarch/: packages built for another subdir are reported, not indexed
      await Deno.copyFile(
        join(REALPKGS, group, e.name),
        join(channel, "noarch", m ? m[2] : e.name),
      );
    }
  }
}

Deno.test({
  name: "index: real and cph-made packages give repodata, .zst and the import map",
  ignore,
  fn: () =>
    withTempDir("poncho-index-", async (tmp) => {
      const ch = join(tmp, "channel");
      for (const s of ["noarch", "linux-64"]) await Deno.mkdir(join(ch, s), { recursive: true });
      await copyRealPackages(ch);
      const stage = join(tmp, "stage");
      await Deno.mkdir(stage);
      for (const d of layoutDefs()) await buildPackage(d, stage, join(ch, d.subdir));
      await Deno.writeTextFile(join(ch, "noarch", "broken-1.0-0.conda"), "not a zip");

      const out = await runPoncho(["index", "--json", ch]);
      assert.equal(out.code, 0, out.stderr);
      const summary = JSON.parse(out.stdout);
      // bad packages: one line each, naming the file; the rest indexed
      const problems: string[] = summary.problems;
      assert.ok(problems.some((p) => p.includes("broken-1.0-0.conda")), problems.join("\n"));
      assert.ok(problems.some((p) => /post-link-script-package.*built for linux-64/.test(p)));
      for (const p of problems) assert.ok(out.stderr.includes(p));
      assert.equal(
        problems.length,
        out.stderr.trim().split("\n").filter((l) => l.includes(ch)).length,
      );

      const repodata = JSON.parse(await Deno.readTextFile(join(ch, "noarch", "repodata.json")));
      assert.equal(repodata.info.subdir, "noarch");
      const andes = repodata["packages.conda"]["andes-1.8.3-pyhd8ed1ab_0.conda"];
      const bytes = await Deno.readFile(join(ch, "noarch", "andes-1.8.3-pyhd8ed1ab_0.conda"));
      assert.equal(andes.sha256, createHash("sha256").update(bytes).digest("hex"));
      assert.equal(andes.md5, createHash("md5").update(bytes).digest("hex"));
      assert.equal(andes.size, bytes.length);
      assert.equal(andes.name, "andes");
      assert.ok(andes.depends.includes("pyyaml"));
      assert.ok(repodata.packages["onefile-1.0-py_0.tar.bz2"], "a .tar.bz2 is under packages");
      const zst = zlib.zstdDecompressSync(
        await Deno.readFile(join(ch, "noarch", "repodata.json.zst")),
      );
      assert.deepEqual(JSON.parse(new TextDecoder().decode(zst)), repodata);

      // CEP-16 shards: one per name, the same records as repodata.json
      const index = decodeShardIndex(await Deno.readFile(join(ch, "noarch", SHARD_INDEX_FILE)));
      assert.equal(index.info.subdir, "noarch");
      assert.equal(index.info.shards_base_url, "./shards/");
      const names = new Set(
        [...Object.values(repodata.packages), ...Object.values(repodata["packages.conda"])].map(
          (r) => (r as { name: string }).name,
        ),
      );
      assert.deepEqual(new Set(index.shards.keys()), names);
      for (const [name, sha] of index.shards) {
        const shard = decodeShard(
          await Deno.readFile(join(ch, "noarch", "shards", `${sha}.msgpack.zst`)),
          sha,
        );
        for (const section of ["packages", "packages.conda"] as const) {
          for (const [fn, rec] of Object.entries(shard[section])) {
            assert.equal(rec.name, name);
            assert.deepEqual(rec, repodata[section][fn], fn);
          }
        }
      }
      const shardFiles = () =>
        [...Deno.readDirSync(join(ch, "noarch", "shards"))].map((e) => e.name);
      assert.equal(shardFiles().length, names.size);

      const noarchMap = JSON.parse(await Deno.readTextFile(join(ch, "noarch", "import-map.json")));
      const linuxMap = JSON.parse(await Deno.readTextFile(join(ch, "linux-64", "import-map.json")));
      assert.equal(noarchMap.import_map_version, 1);
      assert.deepEqual(noarchMap.packages.andes, ["andes"]); // a real conda-forge package
      assert.deepEqual(noarchMap.packages.sample_noarch_python, ["sample"]);
      assert.deepEqual(noarchMap.packages["nspkg-storage"], ["acme.cloud.storage"]);
      assert.deepEqual(noarchMap.packages.pthpkg, ["pthmod"]);
      assert.deepEqual(noarchMap.packages.onefile, ["onefile"]);
      assert.deepEqual(noarchMap.packages.legacymod, ["legacymod"]);
      assert.deepEqual(linuxMap.packages.fastext, ["_fastext", "fastext"]);
      assert.deepEqual(linuxMap.packages.ftpkg, ["ftmod"]);
      assert.equal(noarchMap.packages["post-link-script-package"], undefined);

      // incremental: nothing re-read; a changed package is read again
      const again = JSON.parse((await runPoncho(["index", "--json", ch])).stdout);
      const na = again.subdirs.find((s: { subdir: string }) => s.subdir === "noarch");
      assert.equal(na.read, 0);
      assert.equal(na.reused, na.packages);
      const one = join(ch, "noarch", basename("onefile-1.0-py_0.tar.bz2"));
      await Deno.utime(one, new Date(), new Date(Date.now() + 5000));
      const third = JSON.parse((await runPoncho(["index", "--json", ch])).stdout);
      assert.equal(third.subdirs.find((s: { subdir: string }) => s.subdir === "noarch").read, 1);
      // a removed package leaves the repodata and its name's shard goes
      await Deno.remove(join(ch, "noarch", "legacymod-1.0-py_0.tar.bz2"));
      const fourth = JSON.parse((await runPoncho(["index", "--json", ch])).stdout);
      assert.equal(fourth.subdirs.find((s: { subdir: string }) => s.subdir === "noarch").read, 0);
      const after = decodeShardIndex(await Deno.readFile(join(ch, "noarch", SHARD_INDEX_FILE)));
      assert.ok(!after.shards.has("legacymod"));
      assert.equal(shardFiles().length, names.size - 1);
    }),
});

Deno.test({
  name:
    "index end to end: imports named unlike their packages, analysed against the channel, create, import",
  ignore,
  fn: () =>
    withTempDir("poncho-index-", async (tmp) => {
      const base = await buildTestChannel();
      const ch = join(tmp, "channel");
      for (const s of ["noarch", "linux-64"]) await Deno.mkdir(join(ch, s), { recursive: true });
      for (const s of ["noarch", "linux-64"]) {
        for await (const e of Deno.readDir(join(base.dir, s))) {
          if (/\.(conda|tar\.bz2)$/.test(e.name)) {
            await Deno.copyFile(join(base.dir, s, e.name), join(ch, s, e.name));
          }
        }
      }
      const stage = join(tmp, "stage");
      await Deno.mkdir(stage);
      const pure = (name: string, files: Record<string, string>): PkgDef => ({
        ...noarch(name, []),
        files: Object.entries(files).map(([path, content]) => ({ path, content })),
      });
      for (
        const d of [
          pure("acme-widgets", { "site-packages/widgets/__init__.py": "NAME = 'widgets'\n" }),
          pure("acme-cloud-storage", {
            "site-packages/acme/cloud/storage/__init__.py": "NAME = 'storage'\n",
          }),
          pure("py-fastmath", { "site-packages/fastmath.py": "NAME = 'fastmath'\n" }),
        ]
      ) await buildPackage(d, stage, join(ch, d.subdir));
      const idx = await runPoncho(["index", "-q", ch]);
      assert.equal(idx.code, 0, idx.stderr);

      const proj = join(tmp, "proj");
      await Deno.mkdir(join(proj, "examples"), { recursive: true });
      await Deno.mkdir(join(proj, "mytool"));
      await Deno.writeTextFile(
        join(proj, "pyproject.toml"),
        '[project]\nname = "mytool"\ndependencies = ["acme-widgets>=1.0"]\n',
      );
      await Deno.writeTextFile(join(proj, "mytool", "__init__.py"), "");
      await Deno.writeTextFile(
        join(proj, "examples", "demo.py"),
        "import widgets\nimport acme.cloud.storage as st\nfrom fastmath import NAME\n" +
          "import mytool\nimport pyhello\nfrom typing import TYPE_CHECKING\n" +
          "if TYPE_CHECKING:\n    import not_installed_types\n",
      );
      const spec = join(tmp, "spec.json");
      const an = await runPoncho([
        "analyze",
        "-c",
        `file://${ch}`,
        "--python",
        base.pythonShort,
        "--explain",
        join(proj, "examples"),
        spec,
      ], { env: { PATH: "/nonexistent" } });
      assert.equal(an.code, 0, an.stderr);
      const doc = JSON.parse(await Deno.readTextFile(spec));
      assert.deepEqual(doc.conda.channels, [`file://${ch}`]);
      assert.deepEqual(doc.conda.dependencies, [
        `python=${base.pythonShort}`,
        "acme-cloud-storage",
        "acme-widgets >=1.0", // declared in pyproject.toml, covering `import widgets`
        "py-fastmath",
        "pyhello",
      ]);
      const kinds = Object.fromEntries(
        doc.imports.map((r: { module: string; kind: string }) => [r.module, r.kind]),
      );
      assert.equal(kinds.mytool, "local"); // the project's own package, from examples/
      assert.equal(kinds.not_installed_types, "typing");

      // only the shards are left: create must solve from what poncho index sharded
      for (const s of ["noarch", "linux-64"]) {
        for (const f of ["repodata.json", "repodata.json.zst"]) await Deno.remove(join(ch, s, f));
      }
      const env = join(tmp, "env");
      const cr = await runPoncho(["create", "--prefix", env, spec, "-q"], {
        env: { PONCHO_STORE: join(tmp, "store") },
      });
      assert.equal(cr.code, 0, cr.stderr);
      const py = await new Deno.Command(join(env, "bin", "python3"), {
        args: ["-c", "import widgets, acme.cloud.storage, fastmath, pyhello; print(widgets.NAME)"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(py.code, 0, new TextDecoder().decode(py.stderr));
      assert.equal(new TextDecoder().decode(py.stdout).trim(), "widgets");
    }),
});
