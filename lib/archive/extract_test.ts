import assert from "node:assert/strict";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import { extractMembers, extractTar } from "./extract.ts";
import { readTar, type TarWriteEntry, writeTar } from "./tar.ts";
import { withTempDir } from "../../tests/util.ts";

const enc = new TextEncoder();

Deno.test("extractTar (the one extractor) writes files, modes (setuid too), mtimes, links and read-only dirs", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const entries: TarWriteEntry[] = [
      { path: "ro", type: "directory", mode: 0o555 },
      { path: "ro/inner.txt", type: "file", data: enc.encode("in"), mode: 0o444 },
      { path: "bin/tool", type: "file", data: enc.encode("#!/bin/sh\n"), mode: 0o4775 },
      { path: "lib/a.py", type: "file", data: enc.encode("x = 1\n"), mtime: 1_600_000_000 },
      { path: "lib/link.py", type: "symlink", linkname: "a.py" },
      { path: "lib/up", type: "symlink", linkname: "../bin/tool" },
      { path: "hard.py", type: "hardlink", linkname: "lib/a.py" },
    ];
    const stats = await extractTar(writeTar(entries), dir);
    assert.deepEqual(stats, { files: 3, directories: 1, symlinks: 2, hardlinks: 1, bytes: 18 });
    assert.equal((await Deno.stat(join(dir, "ro"))).mode! & 0o7777, 0o555);
    assert.equal((await Deno.stat(join(dir, "ro/inner.txt"))).mode! & 0o7777, 0o444);
    assert.equal((await Deno.stat(join(dir, "bin/tool"))).mode! & 0o7777, 0o4775);
    const a = await Deno.stat(join(dir, "lib/a.py"));
    assert.equal(a.mtime!.getTime(), 1_600_000_000_000);
    assert.equal(a.nlink, 2);
    assert.equal(await Deno.readLink(join(dir, "lib/link.py")), "a.py");
    assert.equal(await Deno.readTextFile(join(dir, "lib/up")), "#!/bin/sh\n");
  });
});

const evil: [string, TarWriteEntry[], RegExp][] = [
  ["an absolute path", [{ path: "/etc/x", type: "file", data: enc.encode("") }], /absolute/],
  ["a '..' path", [{ path: "a/../../x", type: "file", data: enc.encode("") }], /'\.\.'/],
  [
    "an absolute symlink",
    [{ path: "l", type: "symlink", linkname: "/etc/passwd" }],
    /symlink -> \/etc\/passwd is absolute/,
  ],
  [
    "an escaping symlink",
    [{ path: "d/l", type: "symlink", linkname: "../../x" }],
    /points outside/,
  ],
  [
    "a write through a symlink",
    [
      { path: "d", type: "directory" },
      { path: "l", type: "symlink", linkname: "d" },
      { path: "l/x", type: "file", data: enc.encode("") },
    ],
    /under symlink l/,
  ],
  [
    "a hardlink to nothing extracted",
    [{ path: "h", type: "hardlink", linkname: "missing" }],
    /not a file extracted before it/,
  ],
];
for (const [what, entries, re] of evil) {
  Deno.test(`extractTar refuses ${what}`, async () => {
    await withTempDir("poncho-test-", async (dir) => {
      await Deno.mkdir(join(dir, "dest"));
      await assert.rejects(
        () => extractTar(writeTar(entries), join(dir, "dest"), { name: "evil.tar" }),
        (e: unknown) =>
          e instanceof PonchoError && re.test(e.message) && /evil\.tar/.test(e.message),
      );
    });
  });
}

Deno.test("extractTar refuses FIFOs and devices", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    await new Deno.Command("mkfifo", { args: [join(dir, "p")] }).output();
    const tar = await new Deno.Command("tar", {
      args: ["-cf", "-", "p"],
      cwd: dir,
      stdout: "piped",
    })
      .output();
    await Deno.remove(join(dir, "p"));
    const src = async function* () {
      yield tar.stdout;
    };
    await assert.rejects(() => extractTar(src(), dir), /is a fifo/);
  });
});

/** A source of members from plain tar entries (one tar of a package). */
function source(name: string, entries: TarWriteEntry[]) {
  return { name, members: readTar(writeTar(entries), { name }) };
}

Deno.test("extractMembers: sources share one state (a link of the first tar is never written through by the second)", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const pkg = source("p.conda:pkg.tar", [
      { path: "d", type: "directory" },
      { path: "info", type: "symlink", linkname: "d" },
    ]);
    const info = source("p.conda:info.tar", [
      { path: "info/index.json", type: "file", data: enc.encode("{}") },
    ]);
    await assert.rejects(
      () => extractMembers([pkg, info], dir),
      (e: unknown) =>
        e instanceof PonchoError &&
        e.message ===
          "p.conda:info.tar: refusing member info/index.json: lies under symlink info (nothing is written through a link)",
    );
    assert.deepEqual((await Array.fromAsync(Deno.readDir(join(dir, "d")))).length, 0);
  });
});

Deno.test("extractMembers: a link's parent path may not hold a link (s -> ., s/s/bin -> ...)", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    await assert.rejects(
      () =>
        extractMembers([
          source("x.tar", [
            { path: "s", type: "symlink", linkname: "." },
            { path: "s/s/bin", type: "symlink", linkname: "../../../victim" },
          ]),
        ], dir),
      /x\.tar: refusing member s\/s\/bin: lies under symlink s/,
    );
  });
});

Deno.test("extractMembers: link targets are judged through all links, whatever their order", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    // y is checked against d/x, which comes later in the archive.
    await assert.rejects(
      () =>
        extractMembers([
          source("x.tar", [
            { path: "y", type: "symlink", linkname: "d/x/.." },
            { path: "d/x", type: "symlink", linkname: ".." },
          ]),
        ], dir),
      /refusing member y: symlink -> d\/x\/\.\. points outside the root/,
    );
    // No link was created: links are made only after all of them are judged.
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["d"]);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(join(dir, "d"))), []);
  });
});

Deno.test("extractMembers: later members replace links and files, never directories", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    await Deno.mkdir(join(dir, "out"));
    const ok = await extractMembers([
      source("x.tar", [
        { path: "a", type: "symlink", linkname: "b" },
        { path: "a", type: "file", data: enc.encode("file wins") },
        { path: "c", type: "file", data: enc.encode("old") },
        { path: "c", type: "symlink", linkname: "a" },
      ]),
    ], join(dir, "out"));
    assert.equal(ok.symlinks, 1);
    assert.equal(await Deno.readTextFile(join(dir, "out/a")), "file wins");
    assert.equal(await Deno.readLink(join(dir, "out/c")), "a");
    await Deno.mkdir(join(dir, "out2"));
    await assert.rejects(
      () =>
        extractMembers([
          source("x.tar", [
            { path: "d/f", type: "file", data: enc.encode("") },
            { path: "d", type: "symlink", linkname: "e" },
          ]),
        ], join(dir, "out2")),
      /refusing member d: replaces a directory/,
    );
  });
});

Deno.test("extractMembers: the root must be empty; a planted link is never followed", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    await Deno.mkdir(join(dir, "root"));
    await Deno.mkdir(join(dir, "victim"));
    await Deno.symlink("../victim", join(dir, "root/bin"));
    await assert.rejects(
      () =>
        extractMembers([
          source("x.tar", [{ path: "bin/x", type: "file", data: enc.encode("") }]),
        ], join(dir, "root")),
      /is not empty/,
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(join(dir, "victim"))), []);
  });
});

Deno.test("extractMembers: check, body and beforeModes hooks", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const seen: string[] = [];
    await extractMembers(
      [
        source("x.tar", [
          { path: "ro", type: "directory", mode: 0o555 },
          { path: "a.txt", type: "file", data: enc.encode("abc") },
          { path: "b.txt", type: "file", data: enc.encode("xyz") },
        ]),
      ],
      dir,
      {
        check: (rel) => void seen.push(rel),
        body: (rel, m, first) =>
          rel === "a.txt" ? m.bytes().then((d) => enc.encode(`${first}:${d.length}`)) : undefined,
        // Directory modes come after: a read-only directory can still be written to here.
        beforeModes: () => Deno.writeTextFileSync(join(dir, "ro/late.txt"), "late"),
      },
    );
    assert.deepEqual(seen, ["ro", "a.txt", "b.txt"]);
    assert.equal(await Deno.readTextFile(join(dir, "a.txt")), "false:3");
    assert.equal(await Deno.readTextFile(join(dir, "b.txt")), "xyz");
    assert.equal(await Deno.readTextFile(join(dir, "ro/late.txt")), "late");
    assert.equal((await Deno.stat(join(dir, "ro"))).mode! & 0o777, 0o555);
  });
});
