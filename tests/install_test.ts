/**
 * End to end over real conda packages (the conda, rattler and pixi projects'
 * test data in `../shared/realpkgs`, see `fixtures/realpkgs.ts`) plus a few
 * made with `cph`: `poncho create`, then `poncho run -e` unpacked at another
 * path. Covers what conda does at install time: post-link scripts, pre-link
 * messages, clobbers, `.pyc` for noarch python, `python_site_packages_path`,
 * the old `package_metadata.json`, conda-meta as conda writes it, deflated
 * `.conda` members, symlinks stored as empty files, and package errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type PonchoOutput, runArgs, runPoncho, withTempDir } from "./util.ts";
import { buildTestChannel, fixtureToolsAvailable } from "./fixtures/channel.ts";
import {
  buildRealChannel,
  type RealChannel,
  REALPKGS,
  realpkgsAvailable,
} from "./fixtures/realpkgs.ts";

const tools = await fixtureToolsAvailable();
const real = realpkgsAvailable();
if (!tools.ok) console.log(`install tests skipped: missing ${tools.missing.join(", ")}`);
if (!real) console.log(`install tests skipped: no real packages at ${REALPKGS}`);
const ignore = !tools.ok || !real;
const hasZstdTar = (() => {
  try {
    return new Deno.Command("tar", { args: ["--zstd", "--version"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

function poncho(args: string[]): Promise<PonchoOutput> {
  return runPoncho(args, { env: { NO_COLOR: "1" } });
}

function spec(channels: string[], deps: string[]): string {
  return JSON.stringify({ conda: { channels, dependencies: deps } });
}

/** Calls `fn` with a new `poncho-install-` directory (removed afterwards) and the real channel. */
function withRealChannel(fn: (dir: string, ch: RealChannel) => Promise<void>): Promise<void> {
  return withTempDir("poncho-install-", async (dir) => fn(dir, await buildRealChannel()));
}

/** Creates `deps` over `channels` into `dir/env.tar.zst` with a store in `dir/store`. */
async function create(
  dir: string,
  channels: string[],
  deps: string[],
  extra: string[] = [],
): Promise<PonchoOutput & { archive: string; store: string }> {
  const file = join(dir, "spec.json");
  await Deno.writeTextFile(file, spec(channels, deps));
  const archive = join(dir, "env.tar.zst");
  const store = join(dir, "store");
  const out = await poncho(["create", ...extra, "--store", store, file, archive]);
  return { ...out, archive, store };
}

/** Unpacks `archive` at `target` (another path than the build's) and runs `sh -c script` there. */
function runAt(archive: string, target: string, script: string): Promise<PonchoOutput> {
  return poncho(runArgs(archive, target, ["sh", "-c", script], `${target}.store`));
}

/** A parsed conda-meta record or manifest. */
// deno-lint-ignore no-explicit-any
type Rec = Record<string, any>;

function readJson(path: string): Rec {
  return JSON.parse(Deno.readTextFileSync(path));
}

function list(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** A record conda itself wrote (`fixtures/conda_meta/`, see its README). */
function condaRecord(name: string): Rec {
  return readJson(new URL(`./fixtures/conda_meta/${name}.json`, import.meta.url).pathname);
}

/** The JSON kind of a value: `array`, `null`, or its `typeof`. */
function kind(v: unknown): string {
  return Array.isArray(v) ? "array" : v === null ? "null" : typeof v;
}

/** `paths_data` entry keys by kind of path, as in a conda record. */
function entryShapes(rec: Rec): Map<string, string[]> {
  const shapes = new Map<string, string[]>();
  for (const p of rec.paths_data.paths) {
    const key = `${p.path_type}${p.prefix_placeholder ? "+placeholder" : ""}`;
    shapes.set(key, Object.keys(p).filter((k) => !["clobbered_by", "clobbers"].includes(k)));
  }
  return shapes;
}

/**
 * Checks a record field by field against a record conda wrote for the same
 * kind of package (`tzdata` for noarch: generic, `pip` for noarch: python):
 * the same fields (license fields only when the package has a license), of
 * the same JSON kinds, keys sorted, `paths_data` entries with the same keys
 * per kind of path (a rewritten file also has `size_in_prefix`, which the
 * issue asks for beyond conda), and the values conda derives.
 */
function assertCondaShape(rec: Rec, requested: string, packageType: string) {
  const conda = condaRecord(
    packageType === "noarch_python" ? "pip-25.0.1-pyh145f28c_0" : "tzdata-2025a-h78e105d_0",
  );
  const keys = Object.keys(rec);
  assert.deepEqual(keys, [...keys].sort(), "keys sorted, as conda writes them");
  const optional = ["license", "license_family"];
  assert.deepEqual(
    keys.filter((k) => !optional.includes(k)),
    Object.keys(conda).filter((k) => !optional.includes(k)),
    "the fields conda writes",
  );
  for (const k of keys) assert.equal(kind(rec[k]), kind(conda[k] ?? ""), `kind of ${k}`);
  assert.deepEqual(Object.keys(rec.link), Object.keys(conda.link));
  assert.deepEqual(Object.keys(rec.paths_data), Object.keys(conda.paths_data));
  const condaShapes = new Map([
    ...entryShapes(condaRecord("python-3.13.2-hfd29fff_1_cp313t")),
    ...entryShapes(conda),
  ]);
  for (const [type, ours] of entryShapes(rec)) {
    const theirs = condaShapes.get(type);
    assert.ok(theirs, `conda writes ${type} entries`);
    const extra = type.endsWith("+placeholder") ? ["size_in_prefix"] : [];
    assert.deepEqual(ours, [...theirs, ...extra].sort(), `paths_data ${type} entry`);
  }
  assert.match(rec.channel, /\/noarch$/, "channel with its subdir");
  assert.equal(rec.url, `${rec.channel}/${rec.fn}`);
  assert.equal(rec.package_type, packageType);
  assert.equal(rec.requested_spec, requested);
  assert.deepEqual(rec.link, { source: rec.extracted_package_dir, type: rec.link.type });
  assert.ok(Deno.statSync(rec.package_tarball_full_path).isFile);
  assert.equal(rec.paths_data.paths_version, 1);
  assert.equal(rec.files.length, rec.paths_data.paths.length);
}

Deno.test({
  name:
    "post-link scripts run once at create, in install order, activated, with conda's variables; " +
    "messages and pre-link messages shown; their files packed and relocated, never re-run",
  ignore,
  fn: () =>
    withRealChannel(async (dir, ch) => {
      const c = await create(dir, [ch.url], [
        "post_link-c", // needs post_link-b's bin/file, linked before it
        "post_link-d", // needs the file post_link-e's post-link script writes: e runs first
        "link-scripts",
        "post_link_run_in_env_package", // needs TEST_VAR from its own activate.d script
        "post-link-script-package",
        "writes-prefix",
        "pre_link_messages_package",
      ]);
      assert.equal(c.code, 0, c.stderr);
      for (
        const m of [
          "This is a post-link script that just ran for the recipe package.",
          "Success: TEST_VAR is set correctly",
          "Testing post link scripts",
          "writes-prefix wrote its file",
          "Lorem ipsum dolor sit amet", // info/prelink_messages/message-from-pkg.txt
          "SPAM!", // info/prelink_messages/message-from-pkg2.txt
        ]
      ) assert.ok(c.stderr.includes(m), `create shows ${m}: ${c.stderr}`);
      assert.ok(c.stderr.indexOf("SPAM!") < c.stderr.indexOf("Testing post link"));

      const target = join(dir, "elsewhere", "env");
      const r = await runAt(
        c.archive,
        target,
        'cat "$CONDA_PREFIX/share/writes-prefix/where.txt"; ' +
          'test -f "$CONDA_PREFIX/i-was-post-linked" && echo touched; ' +
          'cat "$CONDA_PREFIX/.messages.bak.txt"; cat "$CONDA_PREFIX/bin/file"; ' +
          'cat "$CONDA_PREFIX/share/writes-prefix/own.txt"',
      );
      assert.equal(r.code, 0, r.stderr);
      // Written by the script at create time with the build prefix, relocated at unpack.
      assert.ok(r.stdout.includes(`prefix=${target}\n`), r.stdout);
      assert.ok(r.stdout.includes(`conda_prefix=${target}\n`), r.stdout);
      assert.ok(r.stdout.includes(`cwd=${target}/bin\n`), r.stdout);
      assert.ok(r.stdout.includes("pkg=writes-prefix 1.0 3\n"), r.stdout);
      assert.ok(r.stdout.includes("touched\n"), r.stdout);
      assert.ok(r.stdout.includes("Testing post link scripts\n"), r.stdout);
      assert.ok(r.stdout.includes("test\n"), r.stdout); // post_link-e's script wrote bin/file
      assert.ok(r.stdout.endsWith("own\nappended\n"), r.stdout);
      // Scripts ran over copies: the shared package cache keeps the package's own file.
      const wp = readJson(join(target, "conda-meta", "writes-prefix-1.0-3.json"));
      assert.equal(wp.link.type, 3);
      const cached = join(wp.extracted_package_dir, "share/writes-prefix/own.txt");
      assert.equal(await Deno.readTextFile(cached), "own\n");
      // Not re-run at unpack: no messages file, nothing from the scripts on run's output.
      assert.ok(!list(target).includes(".messages.txt"));
      assert.ok(!r.stderr.includes("writes-prefix wrote its file"), r.stderr);
      const manifest = readJson(join(target, ".poncho", "manifest.json"));
      assert.ok(
        manifest.relocations.some((x: { path: string }) =>
          x.path === "share/writes-prefix/where.txt"
        ),
        "the script's file is in the manifest's relocations",
      );
    }),
});

Deno.test({
  name: "a failing post-link script fails create with exit 3 naming the package, URL and output; " +
    "nothing cached or written; --no-link-scripts installs it",
  ignore,
  fn: () =>
    withRealChannel(async (dir, ch) => {
      const c = await create(dir, [ch.url], ["failing_post_link", "post_link-b"]);
      assert.equal(c.code, 3, c.stderr);
      const line = c.stderr.trim().split("\n").at(-1)!;
      assert.ok(line.includes("failing_post_link-1.0-0"), line);
      assert.ok(line.includes(`${ch.url}/noarch/failing_post_link-1.0-0.conda`), line);
      assert.ok(line.includes("bin/.failing_post_link-post-link.sh"), line);
      assert.match(line, /its last output: .*\+ exit 1;/); // the traced last line
      assert.equal(c.stdout, "");
      assert.deepEqual(list(dir).filter((n) => n.endsWith(".tar.zst")), []);
      assert.deepEqual(list(join(c.store, "v1", "archives")), []);
      assert.deepEqual(list(join(c.store, "v1", "tmp")), []);

      // --prefix: the directory is removed again.
      const file = join(dir, "spec.json");
      const p = await poncho(["create", "--store", c.store, "--prefix", join(dir, "pfx"), file]);
      assert.equal(p.code, 3, p.stderr);
      assert.ok(!list(dir).includes("pfx"));

      const skip = await create(dir, [ch.url], ["failing_post_link", "post_link-b"], [
        "--no-link-scripts",
      ]);
      assert.equal(skip.code, 0, skip.stderr);
      assert.match(skip.stderr, /skipped bin\/.failing_post_link-post-link.sh/);
      const r = await runAt(skip.archive, join(dir, "u"), 'cat "$CONDA_PREFIX/bin/file"');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "test\n");
      // The build without scripts is cached apart: with scripts, the same spec still fails.
      const again = await create(dir, [ch.url], ["failing_post_link", "post_link-b"]);
      assert.equal(again.code, 3, again.stderr);
      assert.equal(list(join(again.store, "v1", "archives")).length, 1);
    }),
});

Deno.test({
  name: "clobbers: the later package wins, a warning names both and the path, conda-meta of both " +
    "says so, the archive holds exactly the prefix's file (even over a placeholder file)",
  ignore,
  fn: () =>
    withRealChannel(async (dir, ch) => {
      const c = await create(dir, [ch.url], ["clobber-a", "clobber-b", "clobber-plain"]);
      assert.equal(c.code, 0, c.stderr);
      assert.ok(
        c.stderr.includes(
          "warning: clobber-b-1.0-0 and clobber-a-1.0-0 both provide bin/clobber-test-file",
        ),
        c.stderr,
      );
      assert.ok(
        c.stderr.includes("clobber-plain-1.0-0 and clobber-ph-1.0-0 both provide share/clob.txt"),
        c.stderr,
      );
      const target = join(dir, "at", "another", "path");
      const r = await runAt(
        c.archive,
        target,
        'cat "$CONDA_PREFIX/bin/clobber-test-file" "$CONDA_PREFIX/share/clob.txt"',
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "clobber-b\nfrom clobber-plain\n");
      const meta = join(target, "conda-meta");
      const entry = (rec: Rec, path: string) =>
        rec.paths_data.paths.find((p: { _path: string }) => p._path === path);
      const a = readJson(join(meta, "clobber-a-1.0-0.json"));
      const b = readJson(join(meta, "clobber-b-1.0-0.json"));
      assert.equal(entry(a, "bin/clobber-test-file").clobbered_by, "clobber-b-1.0-0");
      assert.deepEqual(entry(b, "bin/clobber-test-file").clobbers, ["clobber-a-1.0-0"]);
      const ph = readJson(join(meta, "clobber-ph-1.0-0.json"));
      assert.equal(entry(ph, "share/clob.txt").clobbered_by, "clobber-plain-1.0-0");
      // conda-meta field by field, for a real conda-build noarch: generic package.
      assertCondaShape(a, "clobber-a", "noarch_generic");
      assertCondaShape(readJson(join(meta, "clobber-ph-1.0-0.json")), "None", "noarch_generic");
      // The archive member itself, not only what unpacking made of it.
      const manifest = readJson(join(target, ".poncho", "manifest.json"));
      assert.ok(!manifest.relocations.some((x: { path: string }) => x.path === "share/clob.txt"));
      if (hasZstdTar) {
        const out = new Deno.Command("tar", {
          args: ["--zstd", "-xOf", c.archive, "share/clob.txt"],
          stdout: "piped",
        }).outputSync();
        assert.equal(new TextDecoder().decode(out.stdout), "from clobber-plain\n");
      }
    }),
});

Deno.test({
  name: "a .conda with nested deflated members and a .tar.bz2 symlink stored as an empty file " +
    "install (copied, as conda does); a broken package's error names it and its URL",
  ignore,
  fn: () =>
    withRealChannel(async (dir, ch) => {
      const c = await create(dir, [ch.url], ["ca-certificates", "bzlink"]);
      assert.equal(c.code, 0, c.stderr);
      const target = join(dir, "x", "env");
      const r = await runAt(
        c.archive,
        target,
        'head -c 0 "$CONDA_PREFIX/ssl/cacert.pem" && echo pem; ' +
          'test -L "$CONDA_PREFIX/share/bzlink/link.txt" || echo not-a-link; ' +
          'wc -c < "$CONDA_PREFIX/share/bzlink/link.txt"',
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.replace(/ +/g, ""), "pem\nnot-a-link\n0\n");
      const rec = readJson(join(target, "conda-meta", "bzlink-1.0-0.json"));
      const link = rec.paths_data.paths.find((p: { _path: string }) =>
        p._path === "share/bzlink/link.txt"
      );
      assert.equal(link.path_type, "softlink"); // recorded as the package says

      const bad = await create(join(dir), [ch.url], ["broken"]);
      assert.equal(bad.code, 3, bad.stderr);
      const line = bad.stderr.trim().split("\n").at(-1)!;
      assert.ok(line.includes("package broken-1.0-0"), line);
      assert.ok(line.includes(`${ch.url}/noarch/broken-1.0-0.conda`), line);
      assert.ok(!line.includes(join(bad.store, "v1", "downloads")), line);
    }),
});

Deno.test({
  name: "noarch python: .pyc compiled with the env's python (no build prefix), recorded as " +
    "pyc_file, packed; the first import writes nothing; package_metadata.json entry points",
  ignore,
  fn: () =>
    withRealChannel(async (dir, ch) => {
      const test = await buildTestChannel();
      const c = await create(dir, [test.url, ch.url], ["python", "pyhello", "oldnoarch"]);
      assert.equal(c.code, 0, c.stderr);
      const target = join(dir, "run", "here");
      const sp = `lib/python${test.pythonShort}/site-packages`;
      // The whole environment but the test python's own stdlib (made from this machine's CPython,
      // it ships no .pyc, unlike conda-forge's python), and all of site-packages.
      const stdlib = `$CONDA_PREFIX/lib/python${test.pythonShort}`;
      const snapshot = `{ find "$CONDA_PREFIX" -path "${stdlib}" -prune -o -print; ` +
        `find "$CONDA_PREFIX/${sp}"; } | grep -v '/.poncho' | xargs stat -c '%n %s %Y' | sort`;
      const r = await runAt(
        c.archive,
        target,
        `${snapshot} > "$CONDA_PREFIX/../before"; unset PYTHONDONTWRITEBYTECODE; ` +
          'python -c "import pyhello, oldnoarch"; oldnoarch; pyhello; ' +
          `${snapshot} > "$CONDA_PREFIX/../after"`,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "hello from oldnoarch\nhello from pyhello\n");
      const before = await Deno.readTextFile(join(target, "..", "before"));
      assert.equal(await Deno.readTextFile(join(target, "..", "after")), before);
      const tag = `cpython-${test.pythonShort.replace(".", "")}`;
      for (const pkg of ["pyhello", "oldnoarch"]) {
        const pyc = `${sp}/${pkg}/__pycache__/__init__.${tag}.pyc`;
        assert.ok(before.includes(`${target}/${pyc} `), `${pyc} is packed`);
        const bytes = await Deno.readFile(join(target, pyc));
        const manifest = readJson(join(target, ".poncho", "manifest.json"));
        const text = new TextDecoder("latin1").decode(bytes);
        assert.ok(!text.includes(manifest.buildPrefix), `${pyc} names no build prefix`);
        const name = list(join(target, "conda-meta")).find((n) => n.startsWith(`${pkg}-`))!;
        const rec = readJson(join(target, "conda-meta", name));
        assert.ok(rec.files.includes(pyc));
        assert.deepEqual(
          rec.paths_data.paths.find((p: { _path: string }) => p._path === pyc),
          { _path: pyc, path_type: "pyc_file" },
        );
        assertCondaShape(rec, pkg, "noarch_python");
        const ep = rec.paths_data.paths.find((p: { _path: string }) => p._path === `bin/${pkg}`);
        assert.equal(ep.path_type, "unix_python_entry_point");
      }
    }),
});

Deno.test({
  name: "python_site_packages_path (python-3.99.99, free-threaded lib/python3.99t) decides where " +
    "noarch python files go",
  ignore,
  fn: () =>
    withRealChannel(async (dir, ch) => {
      const c = await create(dir, [ch.url], ["python 3.99.*", "sample_noarch_python"]);
      assert.equal(c.code, 0, c.stderr);
      const target = join(dir, "ft");
      const r = await runAt(
        c.archive,
        target,
        'cd "$CONDA_PREFIX" && ls lib lib/python3.99t/site-packages',
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "lib:\npython3.99t\n\nlib/python3.99t/site-packages:\nsample.py\n");
      const rec = readJson(join(target, "conda-meta", "sample_noarch_python-1.0-py_0.json"));
      assert.deepEqual(rec.files, ["lib/python3.99t/site-packages/sample.py"]);
      const py = readJson(join(target, "conda-meta", "python-3.99.99-0.json"));
      assert.equal(py.python_site_packages_path, "lib/python3.99t/site-packages");
      assert.equal(py.requested_spec, "python=3.99");
    }),
});

Deno.test({
  name: "conda-meta keeps constrains, features and track_features of conda's test packages",
  ignore,
  fn: () =>
    withRealChannel(async (dir, ch) => {
      const c = await create(dir, [ch.url], [
        "run_constrained",
        "feature 1.0",
        "track_feature 1.0",
      ]);
      assert.equal(c.code, 0, c.stderr);
      const target = join(dir, "meta");
      const r = await runAt(c.archive, target, "true");
      assert.equal(r.code, 0, r.stderr);
      const meta = (n: string) => readJson(join(target, "conda-meta", n));
      const rc = meta("run_constrained-1.0-0.json");
      assert.deepEqual(rc.constrains, ["dependency>=2.0"]);
      assertCondaShape(rc, "run_constrained", "noarch_generic");
      const f = meta("feature-1.0-track_feature1_0.json");
      assert.equal(f.features, "track_feature1");
      assert.equal(f.requested_spec, "feature=1.0");
      const tf = meta("track_feature-1.0-0.json");
      assert.equal(tf.track_features, "track_feature1");
      assert.equal(tf.requested_spec, "track_feature=1.0");
    }),
});
