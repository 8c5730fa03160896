import assert from "node:assert/strict";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import { DRAIN_MAX, zstdProcess } from "./zstd_process.ts";
import { openArchive, readArchiveFirstMember } from "./open.ts";
import {
  collectBytes as collect,
  hasCommand,
  withTempDir,
  writeZstArchive,
} from "../../tests/util.ts";

const zstdCli = hasCommand("zstd");

Deno.test({
  name: "zstd program: same bytes as the tar written; errors name the file as in-process ones do",
  ignore: !zstdCli,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, "e.tar.zst");
      const tar = await writeZstArchive(path);
      assert.deepEqual(await collect(zstdProcess(path)!), tar);
      assert.deepEqual(await collect(openArchive(path)), tar);
      const full = await Deno.readFile(path);
      const cases: [string, Uint8Array, RegExp][] = [
        ["cut.tar.zst", full.subarray(0, full.length - 100), /cut\.tar\.zst is truncated/],
        ["junk.tar.zst", new Uint8Array([...full, 1, 2, 3, 4, 5]), /not a zstd frame/],
        ["flip.tar.zst", full.map((b, i) => i === full.length - 2 ? b ^ 0xff : b), /is corrupt/],
      ];
      for (const [name, bytes, message] of cases) {
        await Deno.writeFile(join(dir, name), bytes);
        await assert.rejects(
          () => collect(zstdProcess(join(dir, name))!),
          (e: unknown) => e instanceof PonchoError && message.test(e.message),
          name,
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "zstd program: a consumer that stops early still learns of a corrupt tail; first member",
  ignore: !zstdCli,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, "e.tar.zst");
      await writeZstArchive(path, DRAIN_MAX / 2);
      // Stopping after the first chunk: the rest (within DRAIN_MAX) is read and checked.
      const junk = join(dir, "junk.tar.zst");
      await Deno.writeFile(junk, new Uint8Array([...await Deno.readFile(path), 9, 9, 9, 9]));
      const stopEarly = async (p: string) => {
        for await (const _ of zstdProcess(p)!) break;
      };
      await stopEarly(path);
      await assert.rejects(() => stopEarly(junk), /not a zstd frame/);
      // Reading only the first member stops the process at once, whatever follows.
      const first = await readArchiveFirstMember(junk, 1 << 20);
      assert.equal(first?.header.path, ".poncho/manifest.json");
      assert.equal(new TextDecoder().decode(first?.data), "{}");
      await assert.rejects(() => readArchiveFirstMember(path, 1), /more than 1\b/);
      // A missing archive is reported as missing, by the in-process reader.
      await assert.rejects(
        () => collect(openArchive(join(dir, "missing.tar.zst"))),
        (e: unknown) => e instanceof PonchoError && /does not exist/.test(e.message),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "without a zstd program, openArchive decompresses in Deno with the same bytes and errors",
  ignore: !zstdCli,
  async fn() {
    const dir = await Deno.makeTempDir();
    const path = Deno.env.get("PATH") ?? "";
    try {
      const archive = join(dir, "e.tar.zst");
      const tar = await writeZstArchive(archive);
      const cut = join(dir, "cut.tar.zst");
      const full = await Deno.readFile(archive);
      await Deno.writeFile(cut, full.subarray(0, full.length - 100));
      Deno.env.set("PATH", join(dir, "no-such-dir"));
      assert.equal(zstdProcess(archive), undefined);
      assert.deepEqual(await collect(openArchive(archive)), tar);
      await assert.rejects(
        () => collect(openArchive(cut)),
        (e: unknown) => e instanceof PonchoError && /cut\.tar\.zst is truncated/.test(e.message),
      );
      const first = await readArchiveFirstMember(archive, 1 << 20);
      assert.equal(first?.header.path, ".poncho/manifest.json");
    } finally {
      Deno.env.set("PATH", path);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "zstd program with recycle: two buffers in turn, the same bytes when each chunk is used at once",
  ignore: !zstdCli,
  async fn() {
    await withTempDir("poncho-recycle-", async (dir) => {
      const path = join(dir, "e.tar.zst");
      const tar = await writeZstArchive(path, 5_000_000);
      const seen: ArrayBufferLike[] = [];
      const copies: Uint8Array[] = [];
      for await (const chunk of zstdProcess(path, path, undefined, true)!) {
        copies.push(chunk.slice());
        if (!seen.includes(chunk.buffer)) seen.push(chunk.buffer);
      }
      assert.deepEqual(
        await collect((async function* () {
          yield* copies;
        })()),
        tar,
      );
      assert.equal(seen.length, 2, "the chunks are views of two buffers");
    });
  },
});

Deno.test({
  name: "widenPipe: a writer fills 900 kB into the pipe with nobody reading",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const { widenPipe } = await import("./pipe_size.ts");
    const child = new Deno.Command("sh", {
      args: ["-c", "head -c 900000 /dev/zero; echo written >&2; sleep 5"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      assert.ok(widenPipe(`/proc/${child.pid}/fd/1`, 1 << 20));
      const reader = child.stderr.getReader();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<string>((r) => timer = setTimeout(() => r("timed out"), 4000));
      const line = await Promise.race([
        reader.read().then((r) => new TextDecoder().decode(r.value)),
        timeout,
      ]);
      clearTimeout(timer);
      assert.equal(line.trim(), "written", "the 900 kB fit in the widened pipe");
      reader.releaseLock();
      assert.equal(widenPipe("/nonexistent/pipe", 1 << 20), false);
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel();
      await child.stderr.cancel();
    }
  },
});
