import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import { concatBytes } from "../bytes.ts";
import { dropPrefetchedZstd, prefetchZstd, zstdFfi, zstdLibrary } from "./zstd_ffi.ts";
import { dropPrefetchedArchive, openArchive, prefetchArchive } from "./open.ts";
import { DRAIN_MAX } from "./zstd_process.ts";
import {
  collectBytes as collect,
  hasCommand,
  openDescriptors,
  randomBytes,
  withTempDir,
  writeZstArchive,
} from "../../tests/util.ts";

const libzstd = zstdLibrary() !== null;

function decoded(path: string): AsyncGenerator<Uint8Array> {
  return zstdFfi(zstdLibrary()!, path);
}

/**
 * The chunks of `path` decoded, with the size of the buffer behind each,
 * checking that a chunk stays intact until the second chunk after it is
 * pulled: before each pull, after a pause in which the decodes in flight
 * finish, the last two chunks are compared with their copies.
 */
async function decodedChecked(path: string): Promise<{ bytes: Uint8Array; buffers: number[] }> {
  const parts: Uint8Array[] = [];
  const buffers: number[] = [];
  const held: [Uint8Array, Uint8Array][] = [];
  for await (const chunk of decoded(path)) {
    parts.push(chunk.slice());
    buffers.push(chunk.buffer.byteLength);
    held.push([chunk, chunk.slice()]);
    if (held.length > 2) held.shift();
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (const [view, copy] of held) {
      assert.ok(Buffer.compare(view, copy) === 0, `chunk ${parts.length} intact`);
    }
  }
  return { bytes: concatBytes(parts), buffers };
}

Deno.test({
  name: "libzstd by FFI: pack's frames decode whole, one 4 MiB frame per chunk, the same bytes",
  ignore: !libzstd,
  async fn() {
    await withTempDir("poncho-ffi-", async (dir) => {
      const path = join(dir, "e.tar.zst");
      const tar = await writeZstArchive(path, 30_000_000);
      const { bytes, buffers } = await decodedChecked(path);
      assert.deepEqual(bytes, tar);
      // Eight frames: the 4 MiB ones and the rest (tar's blocks and end), each in one chunk.
      assert.deepEqual(buffers, Array(8).fill(4 << 20));
      // openArchive with recycle decodes this way.
      assert.deepEqual(await collect(openArchive(path, { recycle: true })), tar);
    });
  },
});

Deno.test({
  name: "libzstd by FFI: from a frame too large to decode whole, the streaming decoder goes on",
  ignore: !libzstd || !hasCommand("zstd"),
  async fn() {
    await withTempDir("poncho-ffi-", async (dir) => {
      const ours = join(dir, "ours.tar.zst");
      const head = await writeZstArchive(ours, 5_000_000);
      const text = new TextEncoder().encode(
        "a line of text that compresses well\n".repeat(200_000),
      );
      const random = randomBytes(6_000_000);
      const zstd = async (data: Uint8Array, args: string[]) => {
        const child = new Deno.Command("zstd", { args, stdin: "piped", stdout: "piped" }).spawn();
        const w = child.stdin.getWriter();
        await w.write(data);
        await w.close();
        const out = await child.output();
        assert.ok(out.success);
        return out.stdout;
      };
      // One frame each: its size in the header (7 MB, more than 4 MiB), not in the header
      // (decoding finds it too large), compressed larger than the bytes held at once.
      const frames: [string, Uint8Array, Uint8Array][] = [
        ["sized", text, await zstd(text, ["-q", "-c", "-3", "--content-size"])],
        ["unsized", text, await zstd(text, ["-q", "-c", "-3", "--no-content-size"])],
        ["random", random, await zstd(random, ["-q", "-c", "-3"])],
      ];
      for (const [name, data, frame] of frames) {
        const path = join(dir, `${name}.zst`);
        await Deno.writeFile(path, concatBytes([await Deno.readFile(ours), frame]));
        const { bytes, buffers } = await decodedChecked(path);
        assert.deepEqual(bytes, concatBytes([head, data]), name);
        const big = buffers.findIndex((b) => b !== 4 << 20);
        assert.ok(big > 0, `${name}: whole frames first (${buffers})`);
        assert.ok(buffers.slice(big).every((b) => b === 1 << 20), `${name}: then streamed`);
      }
    });
  },
});

Deno.test({
  name: "libzstd by FFI: truncated, junk, corrupt and empty files fail as the zstd program's do",
  ignore: !libzstd,
  async fn() {
    await withTempDir("poncho-ffi-", async (dir) => {
      const path = join(dir, "e.tar.zst");
      await writeZstArchive(path, 5_000_000);
      const full = await Deno.readFile(path);
      const cases: [string, Uint8Array, RegExp][] = [
        ["cut.tar.zst", full.subarray(0, full.length - 100), /cut\.tar\.zst is truncated/],
        ["junk.tar.zst", new Uint8Array([...full, 1, 2, 3, 4, 5]), /not a zstd frame/],
        ["short-junk.tar.zst", new Uint8Array([...full, 1, 2]), /not a zstd frame/],
        ["flip.tar.zst", full.map((b, i) => i === full.length - 2 ? b ^ 0xff : b), /is corrupt/],
        ["empty.tar.zst", new Uint8Array(0), /empty\.tar\.zst is truncated/],
        ["text.tar.zst", new TextEncoder().encode("not zstd at all"), /not a zstd frame/],
      ];
      for (const [name, bytes, message] of cases) {
        await Deno.writeFile(join(dir, name), bytes);
        await assert.rejects(
          () => collect(decoded(join(dir, name))),
          (e: unknown) => e instanceof PonchoError && message.test(e.message),
          name,
        );
      }
      // A consumer that stops early still learns of a corrupt tail within DRAIN_MAX.
      const small = join(dir, "small.tar.zst");
      await writeZstArchive(small, DRAIN_MAX / 2);
      const tail = join(dir, "tail.tar.zst");
      await Deno.writeFile(tail, new Uint8Array([...await Deno.readFile(small), 9, 9, 9, 9]));
      const stopEarly = async (p: string) => {
        for await (const _ of decoded(p)) break;
      };
      await stopEarly(small);
      await assert.rejects(() => stopEarly(tail), /not a zstd frame/);
    });
  },
});

Deno.test({
  name: "without FFI permission, openArchive with recycle decodes with the zstd program instead",
  ignore: !libzstd || !hasCommand("zstd"),
  async fn() {
    await withTempDir("poncho-ffi-", async (dir) => {
      const path = join(dir, "e.tar.zst");
      const tar = await writeZstArchive(path, 5_000_000);
      const want = new Uint8Array(await crypto.subtle.digest("SHA-256", tar.slice()));
      const script = `
        import { openArchive } from ${JSON.stringify(new URL("./open.ts", import.meta.url).href)};
        const parts = [];
        for await (const c of openArchive(${JSON.stringify(path)}, { recycle: true })) {
          parts.push(c.slice());
        }
        const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let off = 0;
        for (const p of parts) { all.set(p, off); off += p.length; }
        const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
        console.log([...hash].join(","));`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", "--no-check", "--allow-read", "--allow-run", "--allow-env", script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      assert.equal(new TextDecoder().decode(out.stdout).trim(), [...want].join(","));
    });
  },
});

Deno.test({
  name: "libzstd by FFI: a decode begun ahead is taken by the next read of that path, or dropped",
  ignore: !libzstd,
  async fn() {
    await withTempDir("poncho-ffi-", async (dir) => {
      const path = join(dir, "e.tar.zst");
      const tar = await writeZstArchive(path, 20_000_000);
      const lib = zstdLibrary()!;
      assert.equal(prefetchZstd(lib, path, Deno.openSync(path)), true);
      // One is waiting already: this one is closed.
      assert.equal(prefetchZstd(lib, path, Deno.openSync(path)), false);
      // Meanwhile the file is replaced: the read goes on with the decode of the file as it was.
      const old = await Deno.readFile(path);
      await Deno.remove(path);
      await writeZstArchive(path, 1_000_000);
      assert.deepEqual((await decodedChecked(path)).bytes, tar, "taken: the bytes as begun");
      // Taken once only: the next read opens the file afresh.
      assert.notDeepEqual((await decodedChecked(path)).bytes.length, tar.length);
      // Dropped: nothing waits, and the read after it opens the file afresh.
      await Deno.writeFile(path, old);
      prefetchZstd(lib, path, Deno.openSync(path));
      await dropPrefetchedZstd(path);
      await dropPrefetchedZstd(path); // nothing left: no-op
      assert.deepEqual(await collect(decoded(path)), tar);
      // A consumer that stops early frees a decode it took (the test would leak otherwise).
      prefetchZstd(lib, path, Deno.openSync(path));
      for await (const _ of decoded(path)) break;
      assert.equal(openDescriptors(path), 0, "every file begun, taken or dropped is closed");
    });
  },
});

Deno.test({
  name: "prefetchArchive: begins only for the file the caller stat'ed, a .tar.zst libzstd reads",
  ignore: !libzstd,
  async fn() {
    await withTempDir("poncho-ffi-", async (dir) => {
      const path = join(dir, "e.tar.zst");
      const tar = await writeZstArchive(path, 9_000_000);
      const info = await Deno.stat(path);
      assert.equal(prefetchArchive(path, info), true);
      assert.deepEqual(await collect(openArchive(path, { recycle: true })), tar);
      // Replaced after the stat: not begun (the read then opens the new file).
      await Deno.remove(path);
      const other = await writeZstArchive(path, 2_000_000);
      assert.equal(prefetchArchive(path, info), false);
      assert.deepEqual(await collect(openArchive(path, { recycle: true })), other);
      // Not a .tar.zst, or not there: not begun.
      const gz = join(dir, "e.tar.gz");
      await Deno.writeFile(gz, new Uint8Array(10));
      assert.equal(prefetchArchive(gz, await Deno.stat(gz)), false);
      assert.equal(prefetchArchive(join(dir, "gone.tar.zst"), info), false);
      // An empty file: nothing to begin, and the read says what is wrong.
      const empty = join(dir, "empty.tar.zst");
      await Deno.writeFile(empty, new Uint8Array(0));
      assert.equal(prefetchArchive(empty, await Deno.stat(empty)), false);
      await assert.rejects(() => collect(openArchive(empty, { recycle: true })), /is truncated/);
      assert.equal(openDescriptors(empty), 0);
      // Begun and not taken: dropped.
      assert.equal(prefetchArchive(path, await Deno.stat(path)), true);
      await dropPrefetchedArchive(path);
    });
  },
});
