import assert from "node:assert/strict";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import { dropHeadStart, startHeadStart, zstdFfi, zstdLibrary } from "./zstd_ffi.ts";
import { concatBytes } from "../bytes.ts";
import { openArchive } from "./open.ts";
import { DRAIN_MAX } from "./zstd_process.ts";
import {
  collectBytes as collect,
  hasCommand,
  withTempDir,
  writeZstArchive,
} from "../../tests/util.ts";

const libzstd = zstdLibrary() !== null;

function decoded(path: string): AsyncGenerator<Uint8Array> {
  return zstdFfi(zstdLibrary()!, path);
}

Deno.test({
  name: "libzstd by FFI: the same bytes as written, in views of 1 MiB buffers",
  ignore: !libzstd,
  async fn() {
    await withTempDir("poncho-ffi-", async (dir) => {
      const path = join(dir, "e.tar.zst");
      const tar = await writeZstArchive(path, 9_000_000);
      assert.deepEqual(await collect(decoded(path)), tar);
      let n = 0;
      let previous: [Uint8Array, Uint8Array] | undefined;
      for await (const chunk of decoded(path)) {
        assert.equal(chunk.buffer.byteLength, 1 << 20, "a view of a 1 MiB buffer");
        assert.ok(chunk.length > 0);
        // The chunk before stays valid until the second next() after it.
        if (previous) assert.deepEqual(previous[0], previous[1], `chunk ${n - 1} still intact`);
        previous = [chunk, chunk.slice()];
        n++;
      }
      assert.ok(n > 8, `${n} chunks`);
      // openArchive with recycle decodes this way.
      assert.deepEqual(await collect(openArchive(path, { recycle: true })), tar);
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

/** How many of this process's descriptors are open on `path`. */
function openOn(path: string): number {
  let n = 0;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`) === path) n++;
    } catch (err) {
      // The descriptor readDir itself used, closed since: not one on `path`.
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return n;
}

Deno.test({
  name: "head start: zstdFfi takes over the decode begun before it (no second open), same bytes; " +
    "a file replaced since is decoded anew; dropHeadStart frees one nobody took",
  ignore: !libzstd,
  async fn() {
    await withTempDir("poncho-ffi-", async (dir) => {
      const lib = zstdLibrary()!;
      const path = join(dir, "e.tar.zst");
      const tar = await writeZstArchive(path, 12_000_000);
      startHeadStart(lib, path);
      assert.equal(openOn(path), 1, "the head start opened the file");
      await new Promise((r) => setTimeout(r, 50)); // it decodes meanwhile
      const parts: Uint8Array[] = [];
      for await (const chunk of zstdFfi(lib, path)) {
        assert.equal(openOn(path), 1, "taken over: no second descriptor");
        parts.push(chunk.slice());
      }
      assert.deepEqual(concatBytes(parts), tar);
      assert.equal(openOn(path), 0, "closed at the end");

      // Replaced after the head start (another inode): the new file's bytes, the old one closed.
      startHeadStart(lib, path);
      const other = await writeZstArchive(join(dir, "other.tar.zst"), 3_000_000);
      await Deno.rename(join(dir, "other.tar.zst"), path);
      assert.deepEqual(await collect(zstdFfi(lib, path)), other);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(openOn(path), 0);

      // Not taken (another file was read): dropHeadStart closes it.
      startHeadStart(lib, path);
      await Deno.copyFile(path, join(dir, "copy.tar.zst"));
      assert.deepEqual(await collect(decoded(join(dir, "copy.tar.zst"))), other);
      assert.equal(openOn(path), 1, "the head start still waits");
      await dropHeadStart();
      assert.equal(openOn(path), 0);
    });
  },
});

Deno.test({
  name: "head start: a truncated or junk-ended file fails the same way when its decode began early",
  ignore: !libzstd,
  async fn() {
    await withTempDir("poncho-ffi-", async (dir) => {
      const lib = zstdLibrary()!;
      const path = join(dir, "e.tar.zst");
      await writeZstArchive(path, 5_000_000);
      const full = await Deno.readFile(path);
      const cases: [string, Uint8Array, RegExp][] = [
        ["cut.tar.zst", full.subarray(0, full.length - 100), /cut\.tar\.zst is truncated/],
        ["junk.tar.zst", new Uint8Array([...full, 1, 2, 3, 4, 5]), /not a zstd frame/],
        ["empty.tar.zst", new Uint8Array(0), /empty\.tar\.zst is truncated/],
      ];
      for (const [name, bytes, message] of cases) {
        const p = join(dir, name);
        await Deno.writeFile(p, bytes);
        startHeadStart(lib, p);
        await new Promise((r) => setTimeout(r, 30)); // the error is met before the consumer comes
        await assert.rejects(
          () => collect(zstdFfi(lib, p)),
          (e: unknown) => e instanceof PonchoError && message.test(e.message),
          name,
        );
        assert.equal(openOn(p), 0, name);
      }
    });
  },
});
