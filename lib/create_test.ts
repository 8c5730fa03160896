import assert from "node:assert/strict";
import { join } from "node:path";
import type { EnvSpec } from "./envspec/types.ts";
import { withChannels } from "./create.ts";
import { pristineFromCondaMeta } from "./env/pristine.ts";
import { extractPackage } from "./conda/extract.ts";
import { LEGACY_PLACEHOLDER, readPackageInfo } from "./conda/package_info.ts";
import { linkPackage } from "./conda/link.ts";
import { writeMetaRecord } from "./conda/meta.ts";
import type { PristineFile } from "./env/pack.ts";
import { buildTestChannel, PLACEHOLDER_LONG } from "../tests/fixtures/channel.ts";
import { fixtureTools, withTempDir, writeFileAt } from "../tests/util.ts";

const tools = await fixtureTools("create_test: real-package test");

function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("poncho-create-unit-", fn);
}

function write(path: string, text: string, mode = 0o644): Promise<void> {
  return writeFileAt(path, text, mode);
}

function spec(channels: string[]): EnvSpec {
  return {
    channels,
    conda: ["python 3.11.*", "numpy"],
    pip: ["requests"],
    git: {},
    http: {},
    name: "demo",
  };
}

Deno.test("withChannels puts command-line channels first, drops duplicates and trailing slashes", () => {
  const s = spec(["conda-forge", "https://example.org/ch/", "defaults"]);
  const frozen = structuredClone(s);
  const out = withChannels(s, ["https://example.org/ch", "local/", "conda-forge"]);
  assert.deepEqual(out.channels, ["https://example.org/ch", "local", "conda-forge", "defaults"]);
  // Everything else is kept; the input is not changed.
  assert.deepEqual({ ...out, channels: s.channels }, s);
  assert.deepEqual(s, frozen);
  assert.notEqual(out, s);
  // No extra channels: the spec's own, normalised.
  assert.deepEqual(withChannels(spec(["a//", "b", "a"])).channels, ["a", "b"]);
  assert.deepEqual(withChannels(spec([]), []).channels, []);
  assert.deepEqual(
    withChannels(spec(["file:///srv/ch/"]), ["file:///srv/ch"]).channels,
    ["file:///srv/ch"],
  );
});

Deno.test("pristineFromCondaMeta: no conda-meta, or no usable records, gives an empty map", async () => {
  await withTemp(async (dir) => {
    assert.deepEqual(await pristineFromCondaMeta(join(dir, "nothing-here")), new Map());
    const prefix = join(dir, "env");
    await write(join(prefix, "conda-meta/history"), "==> 2024-01-01 00:00:00 <==\n");
    assert.deepEqual(await pristineFromCondaMeta(prefix), new Map());
    // A record without a source, and one whose package cache entry is gone.
    await write(
      join(prefix, "conda-meta/nosource-1-0.json"),
      JSON.stringify({
        name: "nosource",
        paths_data: { paths: [{ _path: "a", prefix_placeholder: "/ph", file_mode: "text" }] },
      }),
    );
    await write(
      join(prefix, "conda-meta/gone-1-0.json"),
      JSON.stringify({
        name: "gone",
        link: { source: join(dir, "pkgs", "gone"), type: 1 },
        paths_data: { paths: [{ _path: "a", prefix_placeholder: "/ph", file_mode: "text" }] },
      }),
    );
    assert.deepEqual(await pristineFromCondaMeta(prefix), new Map());
  });
});

Deno.test("pristineFromCondaMeta reads records as conda writes them (extracted_package_dir)", async () => {
  await withTemp(async (dir) => {
    const pkg = join(dir, "pkgs", "tool-1-0");
    await write(join(pkg, "bin/tool"), "#!/opt/anaconda1anaconda2anaconda3/bin/sh\n", 0o755);
    await write(join(pkg, "lib/libtool.so"), "\x7fELF\0/ph/lib\0");
    const prefix = join(dir, "env");
    // An older conda record: no `link`, only `extracted_package_dir`; no file_mode means text.
    await write(
      join(prefix, "conda-meta/tool-1-0.json"),
      JSON.stringify({
        name: "tool",
        extracted_package_dir: pkg,
        paths_data: {
          paths: [
            { _path: "bin/tool", path_type: "hardlink", prefix_placeholder: LEGACY_PLACEHOLDER },
            { _path: "lib/libtool.so", prefix_placeholder: "/ph", file_mode: "binary" },
            { _path: "share/plain", path_type: "hardlink" },
          ],
          paths_version: 1,
        },
      }),
    );
    assert.deepEqual(
      await pristineFromCondaMeta(prefix),
      new Map<string, PristineFile>([
        ["bin/tool", {
          source: join(pkg, "bin/tool"),
          placeholder: LEGACY_PLACEHOLDER,
          mode: "text",
        }],
        ["lib/libtool.so", {
          source: join(pkg, "lib/libtool.so"),
          placeholder: "/ph",
          mode: "binary",
        }],
      ]),
    );
  });
});

Deno.test({
  name: "pristineFromCondaMeta finds the package-cache copies of natively linked packages",
  ignore: !tools.ok,
  async fn() {
    const ch = await buildTestChannel();
    await withTemp(async (dir) => {
      const prefix = join(dir, "env");
      const pkgs = join(dir, "pkgs");
      const ph = "/opt/anaconda1anaconda2anaconda3";
      // A hand-made noarch: python package whose files with placeholders get remapped.
      const noarch = join(pkgs, "npy");
      await write(join(noarch, "site-packages/npy/paths.py"), `ROOT = "${ph}"\n`);
      await write(join(noarch, "python-scripts/npy-run"), `#!${ph}/bin/python3.11\n`, 0o755);
      await write(join(noarch, "site-packages/npy/__init__.py"), "");
      await write(join(noarch, "info/index.json"), '{"name":"npy","version":"1","build":"0"}');
      await write(join(noarch, "info/link.json"), '{"noarch":{"type":"python"}}');
      await write(
        join(noarch, "info/paths.json"),
        JSON.stringify({
          paths: [
            { _path: "python-scripts/npy-run", path_type: "hardlink", prefix_placeholder: ph },
            { _path: "site-packages/npy/__init__.py", path_type: "hardlink" },
            { _path: "site-packages/npy/paths.py", path_type: "hardlink", prefix_placeholder: ph },
          ],
        }),
      );
      const dirs = [noarch];
      for (
        const fn of [
          "hello-1.0-h0_poncho.conda",
          "libgreet-1.0-h0_poncho.conda",
          "oldtext-0.1-0.tar.bz2",
        ]
      ) {
        await extractPackage(join(ch.dir, "linux-64", fn), join(pkgs, fn));
        dirs.push(join(pkgs, fn));
      }
      for (const pkg of dirs) {
        const info = await readPackageInfo(pkg);
        const linked = await linkPackage(info, { prefix, pythonVersion: "3.11" });
        await writeMetaRecord(prefix, {
          record: info.index,
          channel: ch.url,
          url: `${ch.url}/x`,
          fn: "x",
          source: pkg,
          linkType: linked.linkType,
          files: linked.files,
          pathsData: linked.pathsData,
        });
      }
      const hello = join(pkgs, "hello-1.0-h0_poncho.conda");
      const old = join(pkgs, "oldtext-0.1-0.tar.bz2");
      const map = await pristineFromCondaMeta(prefix);
      assert.deepEqual(
        new Map([...map].sort(([a], [b]) => a.localeCompare(b))),
        new Map<string, PristineFile>([
          ["bin/hello", {
            source: join(hello, "bin/hello"),
            placeholder: PLACEHOLDER_LONG,
            mode: "binary",
          }],
          ["bin/npy-run", {
            source: join(noarch, "python-scripts/npy-run"),
            placeholder: ph,
            mode: "text",
          }],
          ["etc/hello.conf", {
            source: join(hello, "etc/hello.conf"),
            placeholder: PLACEHOLDER_LONG,
            mode: "text",
          }],
          [
            "lib/python3.11/site-packages/npy/paths.py",
            { source: join(noarch, "site-packages/npy/paths.py"), placeholder: ph, mode: "text" },
          ],
          [
            "share/oldtext/config.txt",
            {
              source: join(old, "share/oldtext/config.txt"),
              placeholder: LEGACY_PLACEHOLDER,
              mode: "text",
            },
          ],
          [
            "share/oldtext/other.txt",
            {
              source: join(old, "share/oldtext/other.txt"),
              placeholder: LEGACY_PLACEHOLDER,
              mode: "text",
            },
          ],
        ]),
      );
      // Every source still holds its placeholder; the installed copy holds the prefix.
      for (const [rel, p] of map) {
        const pristine = new TextDecoder().decode(await Deno.readFile(p.source));
        const installed = new TextDecoder().decode(await Deno.readFile(join(prefix, rel)));
        assert.ok(pristine.includes(p.placeholder), `${p.source} is pristine`);
        assert.ok(!installed.includes(p.placeholder), `${rel} was rewritten`);
        assert.ok(installed.includes(prefix), `${rel} holds the prefix`);
      }
    });
  },
});
