import assert from "node:assert/strict";
import { join } from "node:path";
import { PonchoError, UsageError } from "../errors.ts";
import { storeLayout } from "../../store/layout.ts";
import {
  CACHE_MARKER,
  EXTRACTOR_FORMAT,
  extractPackage,
  extractPackageToCache,
  isCompleteEntry,
} from "./extract.ts";
import { commandText, hasCommand, withTempDir } from "../../tests/util.ts";

const cph = hasCommand("cph") && hasCommand("python3");
if (!cph) console.log("extract_test: cph (conda-package-handling) not found, skipping");

/** Builds a small package tree with conda metadata, links and special modes. */
async function makePackageDir(dir: string, evil = false): Promise<void> {
  await Deno.mkdir(join(dir, "info"), { recursive: true });
  await Deno.mkdir(join(dir, "bin"));
  await Deno.mkdir(join(dir, "lib/python3.11/site-packages/pkg"), { recursive: true });
  await Deno.writeTextFile(
    join(dir, "info/index.json"),
    JSON.stringify({ name: "demo", version: "1.0", build: "0", build_number: 0, depends: [] }),
  );
  await Deno.writeTextFile(join(dir, "info/paths.json"), '{"paths": [], "paths_version": 1}');
  await Deno.writeTextFile(join(dir, "bin/tool"), "#!/opt/anaconda1anaconda2anaconda3/bin/sh\n");
  await Deno.chmod(join(dir, "bin/tool"), 0o755);
  await Deno.writeTextFile(join(dir, "bin/suid"), "x");
  await Deno.chmod(join(dir, "bin/suid"), 0o4755);
  await Deno.writeTextFile(join(dir, "lib/libdemo.so.1"), "\x7fELF fake");
  await Deno.symlink("libdemo.so.1", join(dir, "lib/libdemo.so"));
  await Deno.writeTextFile(join(dir, "lib/python3.11/site-packages/pkg/__init__.py"), "v = 1\n");
  if (evil) await Deno.symlink("../../../etc/passwd", join(dir, "lib/evil"));
}

async function checkExtracted(out: string): Promise<void> {
  assert.equal(JSON.parse(await Deno.readTextFile(join(out, "info/index.json"))).name, "demo");
  assert.equal(
    await Deno.readTextFile(join(out, "bin/tool")),
    "#!/opt/anaconda1anaconda2anaconda3/bin/sh\n",
  );
  assert.equal((await Deno.stat(join(out, "bin/tool"))).mode! & 0o7777, 0o755);
  assert.equal((await Deno.stat(join(out, "bin/suid"))).mode! & 0o7777, 0o4755);
  assert.equal(await Deno.readLink(join(out, "lib/libdemo.so")), "libdemo.so.1");
  assert.equal(
    await Deno.readTextFile(join(out, "lib/python3.11/site-packages/pkg/__init__.py")),
    "v = 1\n",
  );
}

/**
 * Calls `fn` with a temp dir holding the tree of {@linkcode makePackageDir}
 * in `src/` (`evil`: with an escaping link; `before` may change it) packed by
 * cph as `file`, removed afterwards.
 */
function withPackage(
  file: string,
  fn: (dir: string) => Promise<void>,
  opts: { evil?: boolean; before?: (src: string) => Promise<void> } = {},
): Promise<void> {
  return withTempDir("poncho-extract-test-", async (dir) => {
    await makePackageDir(join(dir, "src"), opts.evil);
    await opts.before?.(join(dir, "src"));
    await commandText("cph", ["create", "src", file], { cwd: dir });
    await fn(dir);
  });
}

async function leftovers(parent: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(parent)) names.push(e.name);
  return names.sort();
}

for (const ext of [".conda", ".tar.bz2"]) {
  Deno.test({
    name: `extractPackage extracts a cph-made ${ext} package exactly`,
    ignore: !cph,
    fn: () =>
      withPackage(`demo-1.0-0${ext}`, async (dir) => {
        await Deno.mkdir(join(dir, "pkgs"));
        await extractPackage(join(dir, `demo-1.0-0${ext}`), join(dir, "pkgs", "demo"));
        await checkExtracted(join(dir, "pkgs", "demo"));
        assert.deepEqual(await leftovers(join(dir, "pkgs")), ["demo"]);
        await assert.rejects(
          () => extractPackage(join(dir, `demo-1.0-0${ext}`), join(dir, "pkgs", "demo")),
          /already exists/,
        );
        assert.deepEqual(await leftovers(join(dir, "pkgs")), ["demo"]);
      }),
  });

  Deno.test({
    name: `extractPackage refuses a ${ext} with an escaping symlink and leaves nothing`,
    ignore: !cph,
    fn: () =>
      withPackage(`evil-1.0-0${ext}`, async (dir) => {
        await Deno.mkdir(join(dir, "pkgs"));
        await assert.rejects(
          () => extractPackage(join(dir, `evil-1.0-0${ext}`), join(dir, "pkgs", "evil")),
          (e: unknown) => e instanceof PonchoError && /lib\/evil.*points outside/.test(e.message),
        );
        assert.deepEqual(await leftovers(join(dir, "pkgs")), []);
      }, { evil: true }),
  });
}

Deno.test({
  name: "extractPackage reads a .conda whose members are deflated; refuses truncated ones",
  ignore: !cph,
  fn: () =>
    withPackage("demo-1.0-0.conda", async (dir) => {
      // Re-zip the same members with DEFLATE.
      await commandText("python3", [
        "-c",
        "import zipfile,sys\n" +
        "src=zipfile.ZipFile('demo-1.0-0.conda')\n" +
        "dst=zipfile.ZipFile('deflated-1.0-0.conda','w',zipfile.ZIP_DEFLATED)\n" +
        "[dst.writestr(n, src.read(n)) for n in src.namelist()]\ndst.close()",
      ], { cwd: dir });
      await Deno.mkdir(join(dir, "pkgs"));
      await extractPackage(join(dir, "deflated-1.0-0.conda"), join(dir, "pkgs", "d"));
      await checkExtracted(join(dir, "pkgs", "d"));
      await Deno.remove(join(dir, "pkgs", "d"), { recursive: true });
      const bytes = await Deno.readFile(join(dir, "demo-1.0-0.conda"));
      await Deno.writeFile(join(dir, "cut-1.0-0.conda"), bytes.subarray(0, bytes.length - 30));
      await assert.rejects(
        () => extractPackage(join(dir, "cut-1.0-0.conda"), join(dir, "pkgs", "c")),
        PonchoError,
      );
      assert.deepEqual(await leftovers(join(dir, "pkgs")), []);
      await assert.rejects(() => extractPackage(join(dir, "x.zip"), join(dir, "pkgs", "x")));
      await assert.rejects(
        () => extractPackage(join(dir, "src/info/index.json"), join(dir, "pkgs", "x")),
        UsageError,
      );
    }),
});

Deno.test({
  name: "extractPackageToCache extracts once under a lock, even when raced",
  ignore: !cph,
  fn: () =>
    withPackage("demo-1.0-0.conda", async (dir) => {
      const layout = storeLayout(join(dir, "store"));
      const archive = join(dir, "demo-1.0-0.conda");
      const sha = "ab".repeat(32);
      const dirs = await Promise.all(
        [1, 2, 3].map(() => extractPackageToCache(layout, archive, sha)),
      );
      assert.deepEqual(dirs, [
        join(layout.pkgs, sha),
        join(layout.pkgs, sha),
        join(layout.pkgs, sha),
      ]);
      await checkExtracted(dirs[0]);
      assert.deepEqual(await leftovers(layout.pkgs), [sha]);
      await assert.rejects(() => extractPackageToCache(layout, archive, "nothex"), UsageError);
    }),
});

Deno.test({
  name: "package cache: an entry is trusted only with a marker naming its sha256 and format",
  ignore: !cph,
  fn: () =>
    withPackage("demo-1.0-0.conda", async (dir) => {
      const layout = storeLayout(join(dir, "store"));
      const archive = join(dir, "demo-1.0-0.conda");
      const sha = "cd".repeat(32);
      const entry = join(layout.pkgs, sha);
      const marker = join(entry, CACHE_MARKER);
      await extractPackageToCache(layout, archive, sha);
      assert.deepEqual(JSON.parse(await Deno.readTextFile(marker)), {
        sha256: sha,
        format: EXTRACTOR_FORMAT,
      });
      assert.ok(isCompleteEntry(entry, sha));
      assert.ok(!isCompleteEntry(entry, "ef".repeat(32)));
      // Partial (no marker, a file missing), foreign (another sha256), older format, not a
      // directory (a planted link): each is discarded and extracted again.
      const spoil: [string, () => Promise<void>][] = [
        ["partial", async () => {
          await Deno.remove(marker);
          await Deno.remove(join(entry, "bin/tool"));
        }],
        [
          "foreign",
          () => Deno.writeTextFile(marker, JSON.stringify({ sha256: "ef".repeat(32), format: 2 })),
        ],
        ["older format", () =>
          Deno.writeTextFile(
            marker,
            JSON.stringify({ sha256: sha, format: EXTRACTOR_FORMAT - 1 }),
          )],
        ["a link", async () => {
          await Deno.mkdir(join(dir, "elsewhere"));
          await Deno.remove(entry, { recursive: true });
          await Deno.symlink(join(dir, "elsewhere"), entry);
        }],
      ];
      for (const [what, fn] of spoil) {
        await fn();
        assert.ok(!isCompleteEntry(entry, sha), what);
        assert.equal(await extractPackageToCache(layout, archive, sha), entry);
        assert.ok(isCompleteEntry(entry, sha), what);
        await checkExtracted(entry);
        assert.deepEqual(await leftovers(layout.pkgs), [sha], what);
      }
      assert.deepEqual(await leftovers(join(dir, "elsewhere")), []);
    }),
});

Deno.test({
  name: "a package may not carry the cache marker's name",
  ignore: !cph,
  fn: () =>
    withPackage("forge-1.0-0.tar.bz2", async (dir) => {
      await assert.rejects(
        () => extractPackage(join(dir, "forge-1.0-0.tar.bz2"), join(dir, "out")),
        /forge-1\.0-0\.tar\.bz2: refusing member \.poncho-extracted\.json: the name is reserved/,
      );
    }, { before: (src) => Deno.writeTextFile(join(src, CACHE_MARKER), "{}") }),
});
