import assert from "node:assert/strict";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import { readFileChunks } from "./compress.ts";
import { readTar, type TarEntry, type TarWriteEntry, writeTar } from "./tar.ts";
import { collectBytes as collect, hasCommand, sh } from "../../tests/util.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const gnuTar = hasCommand("tar") && hasCommand("mkfifo");
if (!gnuTar) console.log("tar_test: GNU tar or mkfifo not found, skipping interop tests");

async function* of(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c;
}

/** Splits a buffer into small odd-sized chunks to exercise boundaries. */
async function* dribble(data: Uint8Array, size = 333): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.slice(i, i + size);
}

interface Seen {
  path: string;
  type: string;
  mode: number;
  linkname: string;
  body: string;
}

async function list(source: AsyncIterable<Uint8Array>): Promise<Map<string, Seen>> {
  const out = new Map<string, Seen>();
  for await (const e of readTar(source)) {
    const body = e.type === "file" ? dec.decode(await collect(e.chunks())) : "";
    out.set(e.path, { path: e.path, type: e.type, mode: e.mode, linkname: e.linkname, body });
  }
  return out;
}

const LONG_DIR = "d".repeat(60) + "/" + "e".repeat(70) + "/" + "f".repeat(80);
const LONG_NAME = `${LONG_DIR}/${"g".repeat(90)}.txt`;

async function makeTree(dir: string): Promise<void> {
  await Deno.mkdir(join(dir, "src", LONG_DIR), { recursive: true });
  await Deno.writeTextFile(join(dir, "src", "hello.txt"), "hello\n");
  await Deno.writeTextFile(join(dir, "src", LONG_NAME), "long\n");
  await Deno.writeFile(join(dir, "src", "big.bin"), new Uint8Array(200_000).fill(7));
  await Deno.symlink("hello.txt", join(dir, "src", "link"));
  await Deno.symlink(LONG_NAME, join(dir, "src", "longlink"));
  await Deno.link(join(dir, "src", "hello.txt"), join(dir, "src", "hard"));
  await Deno.writeTextFile(join(dir, "src", "run.sh"), "#!/bin/sh\n");
  await Deno.chmod(join(dir, "src", "run.sh"), 0o4755);
  await sh("mkfifo src/fifo", dir);
}

for (const format of ["gnu", "posix", "ustar"]) {
  Deno.test({
    name: `readTar reads GNU tar's ${format} format: long names, links, modes, FIFOs`,
    ignore: !gnuTar,
    async fn() {
      const dir = await Deno.makeTempDir();
      try {
        await makeTree(dir);
        const names = format === "ustar"
          ? "hello.txt big.bin link hard run.sh fifo" // ustar cannot hold the long names
          : "hello.txt big.bin link hard run.sh fifo longlink " + LONG_NAME;
        await sh(`tar -H ${format} -cf ../t.tar ${names}`, join(dir, "src"));
        const seen = await list(dribble(await Deno.readFile(join(dir, "t.tar"))));
        assert.equal(seen.get("hello.txt")?.body, "hello\n");
        assert.equal(seen.get("big.bin")?.body, dec.decode(new Uint8Array(200_000).fill(7)));
        assert.deepEqual([seen.get("link")?.type, seen.get("link")?.linkname], [
          "symlink",
          "hello.txt",
        ]);
        assert.deepEqual([seen.get("hard")?.type, seen.get("hard")?.linkname], [
          "hardlink",
          "hello.txt",
        ]);
        assert.equal(seen.get("run.sh")?.mode, 0o4755);
        assert.equal(seen.get("fifo")?.type, "fifo");
        if (format !== "ustar") {
          assert.equal(seen.get(LONG_NAME)?.body, "long\n");
          assert.equal(seen.get("longlink")?.linkname, LONG_NAME);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test("writeTar and readTar round-trip entries of every kind", async () => {
  const entries: TarWriteEntry[] = [
    { path: "dir", type: "directory", mode: 0o750 },
    { path: "dir/a.txt", type: "file", data: enc.encode("alpha"), mode: 0o600, mtime: 1234 },
    { path: LONG_NAME, type: "file", data: enc.encode("x".repeat(1000)) },
    { path: "ln", type: "symlink", linkname: "y/".repeat(80) + "target" },
    { path: "hl", type: "hardlink", linkname: "dir/a.txt" },
    { path: "s", type: "file", size: 3, chunks: of(enc.encode("a"), enc.encode("bc")) },
    { path: "empty", type: "file", data: new Uint8Array(0) },
  ];
  const bytes = await collect(writeTar(entries, { chunkSize: 4096 }));
  assert.equal(bytes.length % 512, 0);
  const got: TarEntry[] = [];
  const bodies: string[] = [];
  for await (const e of readTar(dribble(bytes, 100))) {
    got.push(e);
    bodies.push(e.type === "file" ? dec.decode(await e.bytes()) : "");
  }
  assert.deepEqual(got.map((e) => [e.path, e.type]), [
    ["dir", "directory"],
    ["dir/a.txt", "file"],
    [LONG_NAME, "file"],
    ["ln", "symlink"],
    ["hl", "hardlink"],
    ["s", "file"],
    ["empty", "file"],
  ]);
  assert.deepEqual(bodies, ["", "alpha", "x".repeat(1000), "", "", "abc", ""]);
  assert.equal(got[0].mode, 0o750);
  assert.equal(got[1].mode, 0o600);
  assert.equal(got[1].mtime, 1234);
  assert.equal(got[3].linkname, "y/".repeat(80) + "target");
});

Deno.test("writeTar is deterministic and normalises owner and time", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "f"), "content");
    const entries = (): TarWriteEntry[] => [
      { path: "f", type: "file", file: join(dir, "f"), uid: 1000, uname: "me", mtime: 99 },
    ];
    const opts = { mtime: 0, uid: 0, gid: 0, uname: "", gname: "" };
    const a = await collect(writeTar(entries(), opts));
    await Deno.utime(join(dir, "f"), 5, 5);
    const b = await collect(writeTar(entries(), opts));
    assert.deepEqual(a, b);
    for await (const e of readTar(of(a))) {
      assert.deepEqual([e.uid, e.uname, e.mtime], [0, "", 0]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "GNU tar extracts what writeTar wrote, long names included",
  ignore: !gnuTar,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await makeTree(dir);
      await Deno.remove(join(dir, "src", "fifo"));
      const entries: TarWriteEntry[] = [
        { path: "hello.txt", type: "file", file: join(dir, "src", "hello.txt") },
        { path: "big.bin", type: "file", file: join(dir, "src", "big.bin") },
        { path: LONG_NAME, type: "file", file: join(dir, "src", LONG_NAME) },
        { path: "longlink", type: "symlink", linkname: LONG_NAME },
        { path: "hard", type: "hardlink", linkname: "hello.txt" },
      ];
      const bytes = await collect(writeTar(entries));
      await Deno.writeFile(join(dir, "w.tar"), bytes);
      await Deno.mkdir(join(dir, "x"));
      await sh(
        "tar -xf ../w.tar && diff -r --no-dereference . ../src -x run.sh -x link",
        join(dir, "x"),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("readTar refuses a header with a bad checksum", async () => {
  const bytes = await collect(writeTar([{ path: "a", type: "file", data: enc.encode("1") }]));
  bytes[10] ^= 0x20;
  await assert.rejects(
    () => list(of(bytes)),
    (e: unknown) => e instanceof PonchoError && /bad tar header checksum at byte 0/.test(e.message),
  );
});

Deno.test("readTar reports truncation instead of stopping silently", async () => {
  const bytes = await collect(writeTar([
    { path: "a", type: "file", data: new Uint8Array(3000).fill(65) },
    { path: "b", type: "file", data: enc.encode("b") },
  ]));
  const cases: [number, RegExp][] = [
    [512 + 1000, /body of a is short/], // inside a body
    [512 + 3072 + 100, /inside a header/], // inside the second header
    [bytes.length - 1024, /no end-of-archive marker/], // the zero blocks are missing
  ];
  for (const [cut, re] of cases) {
    await assert.rejects(
      () => list(of(bytes.subarray(0, cut))),
      (e: unknown) => e instanceof PonchoError && /truncated/.test(e.message) && re.test(e.message),
      `cut at ${cut}`,
    );
  }
});

Deno.test("readTar skips bodies the consumer does not read", async () => {
  const bytes = await collect(writeTar([
    { path: "a", type: "file", data: new Uint8Array(5000).fill(1) },
    { path: "b", type: "file", data: enc.encode("bee") },
  ]));
  const got: string[] = [];
  for await (const e of readTar(dribble(bytes, 777))) {
    if (e.path === "b") got.push(dec.decode(await e.bytes()));
    else got.push(`skipped ${e.remaining}`);
  }
  assert.deepEqual(got, ["skipped 5000", "bee"]);
});

Deno.test("readTar stops reading the source when the consumer stops", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = await collect(writeTar([
      { path: "a", type: "file", data: enc.encode("a") },
      { path: "b", type: "file", data: new Uint8Array(1 << 20) },
    ]));
    await Deno.writeFile(join(dir, "t.tar"), bytes);
    let pulled = 0;
    const counting = async function* () {
      for await (const c of readFileChunks(join(dir, "t.tar"), 4096)) {
        pulled += c.length;
        yield c;
      }
    };
    for await (const e of readTar(counting())) {
      assert.equal(e.path, "a");
      break;
    }
    assert.ok(pulled <= 8192, `read ${pulled} bytes`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
