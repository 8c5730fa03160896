import assert from "node:assert/strict";
import { join } from "node:path";
import { PonchoError, UsageError } from "../errors.ts";
import {
  compress,
  compressionFromPath,
  decompress,
  openDecompressed,
  readFileChunks,
  readFirstTarMember,
  writeFileChunks,
} from "./compress.ts";
import { writeTar } from "./tar.ts";
import {
  collectBytes as collect,
  hasCommand,
  randomBytes,
  sh,
  withTempDir,
} from "../../tests/util.ts";

const dec = new TextDecoder();

const zstdCli = hasCommand("zstd");
const gzipCli = hasCommand("gzip");
const bzip2Cli = hasCommand("bzip2");
for (const [ok, tool] of [[zstdCli, "zstd"], [gzipCli, "gzip"], [bzip2Cli, "bzip2"]] as const) {
  if (!ok) console.log(`compress_test: ${tool} not found, skipping its tests`);
}

/** Writes pseudo-random, somewhat compressible text of `size` bytes. */
async function writeSample(path: string, size: number, seed: number): Promise<Uint8Array> {
  const data = new Uint8Array(size);
  let s = seed;
  for (let i = 0; i < size; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    data[i] = 0x61 + ((s >> 16) % 13);
  }
  await Deno.writeFile(path, data);
  return data;
}

Deno.test("compressionFromPath maps names and rejects others with a usage error", () => {
  assert.equal(compressionFromPath("env.tar.zst"), "zst");
  assert.equal(compressionFromPath("env.tgz"), "gz");
  assert.equal(compressionFromPath("env.tar.gz"), "gz");
  assert.equal(compressionFromPath("p.tar.bz2"), "bz2");
  assert.equal(compressionFromPath("x.tar"), "none");
  assert.throws(() => compressionFromPath("x.zip"), UsageError);
});

Deno.test({
  name: "zstd: every frame of a multi-frame file is decoded, skippable frames dropped",
  ignore: !zstdCli,
  async fn() {
    await withTempDir("poncho-test-", async (dir) => {
      const a = await writeSample(join(dir, "a"), 3_000_000, 1);
      const b = await writeSample(join(dir, "b"), 1_000_000, 2);
      // Frame 1 and 2 from the CLI (-B makes several jobs' worth of blocks), a skippable
      // frame in between (magic 0x184D2A5E, 5 bytes of payload), and an empty frame.
      await sh(
        "zstd -q -T2 -B262144 a -o a.zst && zstd -q b -o b.zst && " +
          "printf '\\136\\052\\115\\030\\005\\000\\000\\000skipX' > skip.bin && " +
          ": > empty && zstd -q empty -o e.zst && cat a.zst skip.bin e.zst b.zst > ab.zst",
        dir,
      );
      const out = await collect(decompress(readFileChunks(join(dir, "ab.zst"), 10_000), "zst"));
      assert.equal(out.length, a.length + b.length);
      assert.deepEqual(out.subarray(0, a.length), a);
      assert.deepEqual(out.subarray(a.length), b);
    });
  },
});

Deno.test({
  name: "zstd: a truncated file or trailing garbage is an error",
  ignore: !zstdCli,
  async fn() {
    await withTempDir("poncho-test-", async (dir) => {
      await writeSample(join(dir, "a"), 500_000, 3);
      await sh("zstd -q a -o a.zst", dir);
      const full = await Deno.readFile(join(dir, "a.zst"));
      await Deno.writeFile(join(dir, "cut.tar.zst"), full.subarray(0, full.length - 100));
      await assert.rejects(
        () => collect(openDecompressed(join(dir, "cut.tar.zst"))),
        (e: unknown) => e instanceof PonchoError && /cut\.tar\.zst is truncated/.test(e.message),
      );
      await Deno.writeFile(join(dir, "junk.tar.zst"), new Uint8Array([...full, 1, 2, 3, 4, 5]));
      await assert.rejects(
        () => collect(openDecompressed(join(dir, "junk.tar.zst"))),
        (e: unknown) => e instanceof PonchoError && /not a zstd frame/.test(e.message),
      );
    });
  },
});

Deno.test({
  name: "zstd: compress output is read by the zstd CLI",
  ignore: !zstdCli,
  async fn() {
    await withTempDir("poncho-test-", async (dir) => {
      const a = await writeSample(join(dir, "a"), 2_000_000, 4);
      await writeFileChunks(join(dir, "a.zst"), compress(readFileChunks(join(dir, "a")), "zst"));
      await sh("zstd -q -t a.zst && zstd -q -d a.zst -o back && cmp a back", dir);
      const round = await collect(decompress(readFileChunks(join(dir, "a.zst")), "zst"));
      assert.deepEqual(round, a);
    });
  },
});

Deno.test({
  name: "gzip: multi-member files decode fully; truncation is an error; output is valid",
  ignore: !gzipCli,
  async fn() {
    await withTempDir("poncho-test-", async (dir) => {
      const a = await writeSample(join(dir, "a"), 400_000, 5);
      const b = await writeSample(join(dir, "b"), 300_000, 6);
      await sh("gzip -c a > ab.tar.gz && gzip -c b >> ab.tar.gz", dir);
      const out = await collect(openDecompressed(join(dir, "ab.tar.gz")));
      assert.deepEqual(out, new Uint8Array([...a, ...b]));
      const full = await Deno.readFile(join(dir, "ab.tar.gz"));
      await Deno.writeFile(join(dir, "cut.tgz"), full.subarray(0, 1000));
      await assert.rejects(() => collect(openDecompressed(join(dir, "cut.tgz"))), PonchoError);
      await writeFileChunks(join(dir, "c.gz"), compress(readFileChunks(join(dir, "a")), "gz"));
      await sh("gzip -t c.gz && gzip -dc c.gz | cmp - a", dir);
    });
  },
});

Deno.test({
  name: "bzip2: multi-stream files decode fully; truncation and corruption are errors",
  ignore: !bzip2Cli,
  async fn() {
    await withTempDir("poncho-test-", async (dir) => {
      const a = await writeSample(join(dir, "a"), 1_500_000, 7); // two 900k blocks
      const b = await writeSample(join(dir, "b"), 10_000, 8);
      await sh("bzip2 -c a > ab.tar.bz2 && bzip2 -c b >> ab.tar.bz2", dir);
      const out = await collect(openDecompressed(join(dir, "ab.tar.bz2")));
      assert.equal(out.length, a.length + b.length);
      assert.deepEqual(out, new Uint8Array([...a, ...b]));
      const full = await Deno.readFile(join(dir, "ab.tar.bz2"));
      await Deno.writeFile(join(dir, "cut.tar.bz2"), full.subarray(0, full.length - 5000));
      await assert.rejects(() => collect(openDecompressed(join(dir, "cut.tar.bz2"))), PonchoError);
      const bad = full.slice();
      bad[5000] ^= 0xff;
      await Deno.writeFile(join(dir, "bad.tar.bz2"), bad);
      await assert.rejects(() => collect(openDecompressed(join(dir, "bad.tar.bz2"))), PonchoError);
      assert.throws(() => compress(readFileChunks(join(dir, "a")), "bz2"), UsageError);
    });
  },
});

Deno.test("readFirstTarMember reads the first member without decoding the rest", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const manifest = new TextEncoder().encode('{"format":1}');
    const filler = randomBytes(4_000_000); // incompressible
    for (const name of ["e.tar.zst", "e.tar.gz"]) {
      const path = join(dir, name);
      const tar = writeTar([
        { path: ".poncho/manifest.json", type: "file", data: manifest },
        { path: "big", type: "file", data: filler },
      ]);
      await writeFileChunks(path, compress(tar, compressionFromPath(name)));
      // Corrupt the tail: a full decode would fail, reading the first member must not.
      const bytes = await Deno.readFile(path);
      bytes.fill(0x55, bytes.length - 100_000);
      await Deno.writeFile(path, bytes);
      await assert.rejects(() => collect(openDecompressed(path)), PonchoError);
      const first = await readFirstTarMember(path, 1 << 20);
      assert.equal(first?.header.path, ".poncho/manifest.json");
      assert.equal(dec.decode(first?.data), '{"format":1}');
      await assert.rejects(() => readFirstTarMember(path, 4), /more than 4/);
    }
  });
});
