import assert from "node:assert/strict";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import { extractTar } from "./extract.ts";
import { type TarWriteEntry, writeTar } from "./tar.ts";

const enc = new TextEncoder();

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.chmod(dir, 0o755).catch(() => {});
    await new Deno.Command("chmod", { args: ["-R", "u+rwX", dir] }).output();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("extractTar (the one extractor) writes files, modes (setuid too), mtimes, links and read-only dirs", async () => {
  await withDir(async (dir) => {
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
    await withDir(async (dir) => {
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
  await withDir(async (dir) => {
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
