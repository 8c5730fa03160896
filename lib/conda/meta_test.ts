import assert from "node:assert/strict";
import { fixtureTools, withTempDir } from "../../tests/util.ts";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { VERSION } from "../version.ts";
import { extractPackage } from "./extract.ts";
import { readPackageInfo } from "./package_info.ts";
import { linkPackage } from "./link.ts";
import {
  type InstalledRecord,
  metaFileName,
  packageType,
  requestedSpecString,
  writeHistory,
  writeMetaRecord,
} from "./meta.ts";
import { buildTestChannel, PLACEHOLDER_LONG } from "../../tests/fixtures/channel.ts";

const tools = await fixtureTools("meta_test: real-package tests");

function hasPython(): boolean {
  try {
    return new Deno.Command("python3", { args: ["-c", ""], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
const python = hasPython();
if (!python) console.log("meta_test: python3 not found; history parse check skipped");

function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("poncho-meta-", fn);
}

const RECORD = {
  name: "demo",
  version: "1.2.3",
  build: "py_0",
  build_number: 0,
  depends: ["python >=3.8"],
  sha256: "ab".repeat(32),
  subdir: "noarch",
  // Fields the writer owns: the record's own values are replaced.
  files: ["stale"],
  channel: "stale",
};

Deno.test("metaFileName is name-version-build.json", () => {
  assert.equal(
    metaFileName({ name: "hello", version: "1.0", build: "h0_poncho" }),
    "hello-1.0-h0_poncho.json",
  );
  assert.equal(
    metaFileName({ name: "a", version: "2!1.0.post1", build: "0" }),
    "a-2!1.0.post1-0.json",
  );
});

Deno.test("writeMetaRecord writes the conda-meta record conda expects", async () => {
  await withTemp(async (prefix) => {
    const rec: InstalledRecord = {
      record: RECORD,
      channel: "https://example.org/ch",
      url: "https://example.org/ch/noarch/demo-1.2.3-py_0.conda",
      fn: "demo-1.2.3-py_0.conda",
      source: "/store/pkgs/abab",
      linkType: "hardlink",
      files: ["lib/python3.11/site-packages/demo.py", "bin/demo"],
      pathsData: [
        { _path: "lib/python3.11/site-packages/demo.py", path_type: "hardlink", size_in_bytes: 3 },
        { _path: "bin/demo", path_type: "unix_python_entry_point" },
      ],
      requestedSpec: "demo >=1",
    };
    const rel = await writeMetaRecord(prefix, rec);
    assert.equal(rel, "conda-meta/demo-1.2.3-py_0.json");
    const text = await Deno.readTextFile(join(prefix, rel));
    assert.ok(text.endsWith("}\n"));
    const doc = JSON.parse(text);
    assert.deepEqual(doc, {
      name: "demo",
      version: "1.2.3",
      build: "py_0",
      build_number: 0,
      constrains: [],
      depends: ["python >=3.8"],
      features: "",
      sha256: "ab".repeat(32),
      subdir: "noarch",
      files: rec.files,
      channel: "https://example.org/ch/noarch",
      track_features: "",
      url: rec.url,
      fn: rec.fn,
      extracted_package_dir: "/store/pkgs/abab",
      paths_data: { paths: rec.pathsData, paths_version: 1 },
      link: { source: "/store/pkgs/abab", type: 1 },
      requested_spec: "demo>=1",
    });
    // Keys sorted at every level, as conda's json.dump(sort_keys=True) writes them.
    assert.deepEqual(Object.keys(doc), Object.keys(doc).sort());
    assert.deepEqual(Object.keys(doc.paths_data.paths[0]), ["_path", "path_type", "size_in_bytes"]);

    // A copied, not directly requested noarch package: link type 3, requested_spec "None"
    // (conda writes str(None)), package_type; writing again replaces the file.
    await writeMetaRecord(prefix, {
      ...rec,
      record: { ...RECORD, noarch: "python", arch: null, platform: null },
      linkType: "copy",
      requestedSpec: undefined,
      tarball: "/store/downloads/abab.conda",
    });
    const again = JSON.parse(await Deno.readTextFile(join(prefix, rel)));
    assert.deepEqual(again.link, { source: "/store/pkgs/abab", type: 3 });
    assert.equal(again.requested_spec, "None");
    assert.equal(again.package_type, "noarch_python");
    assert.equal(again.package_tarball_full_path, "/store/downloads/abab.conda");
    assert.ok(!("arch" in again) && !("platform" in again), "nulls are left out, as conda does");
    assert.deepEqual(
      [...Deno.readDirSync(join(prefix, "conda-meta"))].map((e) => e.name),
      ["demo-1.2.3-py_0.json"],
    );
  });
});

Deno.test("writeHistory writes conda's history format", async () => {
  await withTemp(async (prefix) => {
    const when = new Date(Date.UTC(2024, 1, 29, 13, 4, 5, 678));
    await writeHistory(
      prefix,
      [
        {
          channel: "https://conda.anaconda.org/conda-forge",
          record: { name: "python", version: "3.11.7", build: "h0" },
        },
        { channel: "file:///tmp/ch", record: { name: "pip", version: "23.2.1", build: "pyh0" } },
      ],
      ["python 3.11.*", "pip"],
      when,
    );
    const text = await Deno.readTextFile(join(prefix, "conda-meta", "history"));
    assert.equal(
      text,
      [
        "==> 2024-02-29 13:04:05 <==",
        "# cmd: poncho create",
        `# poncho version: ${VERSION}`,
        "+https://conda.anaconda.org/conda-forge::python-3.11.7-h0",
        "+file:///tmp/ch::pip-23.2.1-pyh0",
        '# update specs: ["python 3.11.*","pip"]',
        "",
      ].join("\n"),
    );
    // An empty environment still gets a history file: conda recognises prefixes by it.
    const empty = join(prefix, "empty");
    await writeHistory(empty, [], []);
    const head = (await Deno.readTextFile(join(empty, "conda-meta", "history"))).split("\n")[0];
    assert.match(head, /^==> \d{4}-\d\d-\d\d \d\d:\d\d:\d\d <==$/);
  });
});

Deno.test({
  name: "history parses the way conda parses it (header regex, +dist lines, literal specs)",
  ignore: !python,
  async fn() {
    await withTemp(async (prefix) => {
      await writeHistory(
        prefix,
        [{ channel: "file:///c", record: { name: "hello", version: "1.0", build: "h0" } }],
        ["hello", "libgreet >=1,<2", 'quote"d'],
        new Date(Date.UTC(2023, 0, 2, 3, 4, 5)),
      );
      // The same rules as conda/history.py: `==> date <==` headers, `+`/`-` lines,
      // `# update specs: <python literal>`.
      const script = `
import ast, re, sys, json
out = []
for line in open(sys.argv[1]):
    line = line.strip()
    m = re.match(r"==>\\s*(.+?)\\s*<==", line)
    if m:
        out.append({"date": m.group(1), "diff": [], "specs": None})
    elif line.startswith(("+", "-")):
        out[-1]["diff"].append(line)
    else:
        m = re.match(r"#\\s*(cmd|conda version|update specs|remove specs|neutered specs):\\s*(.*)", line)
        if m and m.group(1) == "update specs":
            out[-1]["specs"] = ast.literal_eval(m.group(2))
print(json.dumps(out))
`;
      const res = await new Deno.Command("python3", {
        args: ["-c", script, join(prefix, "conda-meta", "history")],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(res.success, new TextDecoder().decode(res.stderr));
      assert.deepEqual(JSON.parse(new TextDecoder().decode(res.stdout)), [
        {
          date: "2023-01-02 03:04:05",
          diff: ["+file:///c::hello-1.0-h0"],
          specs: ["hello", "libgreet >=1,<2", 'quote"d'],
        },
      ]);
    });
  },
});

Deno.test({
  name: "conda-meta record of a really linked package (hello) lists what is in the prefix",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withTemp(async (dir) => {
      const pkg = join(dir, "pkgs", "hello");
      await extractPackage(join(ch.dir, "linux-64", "hello-1.0-h0_poncho.conda"), pkg);
      const info = await readPackageInfo(pkg);
      const prefix = join(dir, "env");
      const linked = await linkPackage(info, { prefix });
      const repodata = JSON.parse(
        await Deno.readTextFile(join(ch.dir, "linux-64", "repodata.json")),
      );
      const fn = "hello-1.0-h0_poncho.conda";
      const rel = await writeMetaRecord(prefix, {
        record: repodata["packages.conda"][fn],
        channel: ch.url,
        url: `${ch.url}/linux-64/${fn}`,
        fn,
        source: pkg,
        linkType: linked.linkType,
        files: linked.files,
        pathsData: linked.pathsData,
        requestedSpec: "hello",
      });
      const doc = JSON.parse(await Deno.readTextFile(join(prefix, rel)));
      assert.equal(rel, "conda-meta/hello-1.0-h0_poncho.json");
      assert.equal(doc.name, "hello");
      assert.deepEqual(doc.depends, ["libgreet >=1.0,<2"]);
      assert.equal(doc.sha256, repodata["packages.conda"][fn].sha256);
      assert.equal(doc.link.type, 1); // conda records 1: placeholder files are copies regardless
      assert.equal(doc.link.source, pkg);
      assert.deepEqual(doc.files.slice().sort(), [
        "bin/hello",
        "bin/hello-link",
        "etc/hello.conf",
        "share/hello/greeting.txt",
        "var/hello/empty",
      ]);
      for (const f of doc.files) await Deno.lstat(join(prefix, f)); // every listed path exists
      const bin = doc.paths_data.paths.find((p: { _path: string }) => p._path === "bin/hello");
      assert.equal(bin.prefix_placeholder, PLACEHOLDER_LONG);
      assert.equal(bin.file_mode, "binary");
      assert.equal(bin.size_in_bytes, (await Deno.stat(join(pkg, "bin/hello"))).size);
      // The rewritten file's own digest and size, as it lies in the prefix.
      const placed = await Deno.readFile(join(prefix, "bin/hello"));
      assert.equal(bin.sha256_in_prefix, createHash("sha256").update(placed).digest("hex"));
      assert.equal(bin.size_in_prefix, placed.length);
      assert.notEqual(bin.sha256_in_prefix, bin.sha256);
    });
  },
});

Deno.test("requested_spec and package_type as conda writes them", () => {
  // Values seen in conda-written records (conda/conda tests/data/env_metadata).
  assert.equal(requestedSpecString("pip"), "pip");
  assert.equal(requestedSpecString("python 3.13"), "python=3.13");
  assert.equal(requestedSpecString("python=3.13"), "python=3.13");
  assert.equal(requestedSpecString("python 3.13.*"), "python=3.13");
  assert.equal(requestedSpecString("conda-forge::python 3.11"), "conda-forge::python=3.11");
  assert.equal(requestedSpecString("numpy  >=1.2"), "numpy>=1.2");
  assert.equal(requestedSpecString("foo 1.0 h0_1"), "foo==1.0=h0_1");
  assert.equal(requestedSpecString("python_abi[build=*_cp313t]"), "python_abi[build=*_cp313t]");
  assert.equal(packageType("python"), "noarch_python");
  assert.equal(packageType("generic"), "noarch_generic");
  assert.equal(packageType(undefined), undefined);
});

Deno.test("metaFileName refuses channel values that would leave conda-meta/", () => {
  assert.equal(metaFileName({ name: "zlib", version: "1.3", build: "h0_1" }), "zlib-1.3-h0_1.json");
  for (
    const bad of [
      { name: "x", version: "1", build: "../../../tmp/evil" },
      { name: "..", version: "/", build: "0" },
      { name: ".x", version: "1", build: "0" },
    ]
  ) {
    assert.throws(() => metaFileName(bad), /not a plain name/);
  }
});
