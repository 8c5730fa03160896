import assert from "node:assert/strict";
import { join } from "node:path";
import zlib from "node:zlib";
import { PonchoError } from "../errors.ts";
import { planTarFrames, tarFrameJob } from "./tar_frames.ts";
import { type TarWriteEntry, writeTar } from "./tar_writer.ts";
import { collectBytes as collect, withTempDir } from "../../tests/util.ts";

/** The stream the frames hold: each built, compressed, and decompressed again. */
async function framed(entries: TarWriteEntry[], frameSize: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const job of planTarFrames(entries, { uid: 0, gid: 0 }, frameSize, 1)) {
    const { reply } = tarFrameJob(job);
    out.push(
      new Uint8Array(zlib.zstdDecompressSync(new Uint8Array(reply.buffer, 0, reply.length))),
    );
  }
  return out;
}

Deno.test("tar frames hold exactly writeTar's stream, cut at multiples of the frame size", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const big = new Uint8Array(30_000).map((_, i) => (i * 7) & 0xff);
    await Deno.writeFile(join(dir, "big"), big);
    await Deno.writeFile(join(dir, "empty"), new Uint8Array(0));
    const entries: TarWriteEntry[] = [
      { path: "m.json", type: "file", data: new TextEncoder().encode('{"a": 1}\n'), mtime: 5 },
      { path: "d", type: "directory" },
      { path: "d/big", type: "file", file: join(dir, "big"), size: big.length },
      { path: "d/empty", type: "file", file: join(dir, "empty"), size: 0 },
      {
        path: "d/" + "long-name/".repeat(30) + "x",
        type: "file",
        file: join(dir, "big"),
        size: 30_000,
      },
      { path: "d/link", type: "symlink", linkname: "y".repeat(150) },
    ];
    const want = await collect(writeTar(entries, { uid: 0, gid: 0 }));
    for (const frameSize of [5000, 4096, 1 << 20]) {
      const frames = await framed(entries, frameSize);
      assert.deepEqual(
        frames.map((f) => f.length),
        [...Array(Math.ceil(want.length / frameSize)).keys()].map((i) =>
          Math.min(frameSize, want.length - i * frameSize)
        ),
      );
      const got = new Uint8Array(want.length);
      frames.forEach((f, i) => got.set(f, i * frameSize));
      assert.deepEqual(got, want, `frames of ${frameSize}`);
    }
  });
});

Deno.test("a tar frame refuses a file that shrank, grew or went since it was sized", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const path = join(dir, "f");
    await Deno.writeFile(path, new Uint8Array(1000));
    const entry = (
      size: number,
    ): TarWriteEntry[] => [{ path: "f", type: "file", file: path, size }];
    await assert.rejects(
      () => framed(entry(2000), 4096),
      (e: unknown) =>
        e instanceof PonchoError && /f shrank while being archived as f; retry/.test(e.message),
    );
    await assert.rejects(
      () => framed([{ path: "g", type: "file", file: join(dir, "gone"), size: 5 }], 4096),
      (e: unknown) =>
        e instanceof PonchoError && /gone was removed while being archived as g/.test(e.message),
    );
    await assert.rejects(
      () => framed(entry(500), 4096),
      (e: unknown) =>
        e instanceof PonchoError && /f grew while being archived as f; retry/.test(e.message),
    );
  });
});
