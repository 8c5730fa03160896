import assert from "node:assert/strict";
import { hasCommand, withTempDir } from "../../tests/util.ts";
import {
  isSpecialFile,
  publishDir,
  replaceFile,
  tempPathFor,
  writeFileAtomic,
  writeFileAtomicSync,
  writeOutputFile,
} from "./atomic.ts";

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("writeFileAtomic replaces an existing file and leaves no temp", async () => {
  await withTempDir("poncho-atomic-", async (dir) => {
    const path = `${dir}/a.json`;
    await Deno.writeTextFile(path, "old\n");
    const before = Deno.statSync(path).ino;
    await writeFileAtomic(path, "new\n");
    assert.equal(await Deno.readTextFile(path), "new\n");
    // Replaced by a rename (a new inode), not rewritten in place.
    assert.notEqual(Deno.statSync(path).ino, before);
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]), { durable: true });
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
    assert.deepEqual(names(dir), ["a.json"]);
  });
});

Deno.test("a failing fill leaves the old file and no temp", async () => {
  await withTempDir("poncho-atomic-", async (dir) => {
    const path = `${dir}/out`;
    await Deno.writeTextFile(path, "old");
    let seen = "";
    const boom = new Error("verification failed");
    await assert.rejects(
      replaceFile(path, async (tmp) => {
        seen = tmp;
        await Deno.writeTextFile(tmp, "half");
        throw boom;
      }),
      (e) => e === boom, // rethrown unchanged
    );
    assert.ok(seen.startsWith(`${dir}/.out.tmp-`), seen);
    assert.equal(await Deno.readTextFile(path), "old");
    assert.deepEqual(names(dir), ["out"]);
  });
});

Deno.test("a failing rename removes the temp (destination is a directory)", async () => {
  await withTempDir("poncho-atomic-", async (dir) => {
    await Deno.mkdir(`${dir}/d/x`, { recursive: true });
    await assert.rejects(writeFileAtomic(`${dir}/d`, "x"));
    assert.deepEqual(names(dir), ["d"]);
    assert.throws(() => writeFileAtomicSync(`${dir}/d`, "x"));
    assert.deepEqual(names(dir), ["d"]);
  });
});

Deno.test("the temp goes in tmpDir when given; track sees it and is told when done", async () => {
  await withTempDir("poncho-atomic-", async (dir) => {
    await Deno.mkdir(`${dir}/tmp`);
    const events: string[] = [];
    await writeFileAtomic(`${dir}/f`, "x", {
      tmpDir: `${dir}/tmp`,
      track: (tmp) => {
        events.push(`start ${tmp.startsWith(`${dir}/tmp/.f.tmp-`)}`);
        return { done: () => events.push("done") };
      },
    });
    assert.deepEqual(events, ["start true", "done"]);
    assert.deepEqual(names(`${dir}/tmp`), []);
    assert.equal(await Deno.readTextFile(`${dir}/f`), "x");
  });
});

Deno.test("mode is set exactly (the umask does not apply); the default follows the umask", async () => {
  await withTempDir("poncho-atomic-", async (dir) => {
    await writeFileAtomic(`${dir}/x`, "#!/bin/sh\n", { mode: 0o755 });
    assert.equal(Deno.statSync(`${dir}/x`).mode! & 0o777, 0o755);
    writeFileAtomicSync(`${dir}/y`, "y", { mode: 0o600 });
    assert.equal(Deno.statSync(`${dir}/y`).mode! & 0o777, 0o600);
    const umask = Deno.umask();
    await writeFileAtomic(`${dir}/z`, "z");
    assert.equal(Deno.statSync(`${dir}/z`).mode! & 0o777, 0o666 & ~umask);
  });
});

Deno.test("writeFileAtomicSync replaces a file, durably too", async () => {
  await withTempDir("poncho-atomic-", async (dir) => {
    writeFileAtomicSync(`${dir}/s`, "one");
    writeFileAtomicSync(`${dir}/s`, "two", { durable: true });
    assert.equal(await Deno.readTextFile(`${dir}/s`), "two");
    assert.deepEqual(names(dir), ["s"]);
  });
});

Deno.test("replaceFile can put a symlink in place over an old one", async () => {
  await withTempDir("poncho-atomic-", async (dir) => {
    await Deno.symlink("old", `${dir}/l`);
    await replaceFile(`${dir}/l`, (tmp) => Deno.symlink("new", tmp));
    assert.equal(await Deno.readLink(`${dir}/l`), "new");
    assert.deepEqual(names(dir), ["l"]);
  });
});

Deno.test("publishDir: into place, and AlreadyExists for a taken non-empty target", async () => {
  await withTempDir("poncho-atomic-", async (dir) => {
    await Deno.mkdir(`${dir}/work/a`, { recursive: true });
    await publishDir(`${dir}/work/a`, `${dir}/a`, { durable: true });
    assert.ok(Deno.statSync(`${dir}/a`).isDirectory);
    await Deno.writeTextFile(`${dir}/a/f`, "");
    await Deno.mkdir(`${dir}/work/b`);
    await Deno.writeTextFile(`${dir}/work/b/g`, "");
    // ENOTEMPTY from the OS, one error class for callers.
    await assert.rejects(publishDir(`${dir}/work/b`, `${dir}/a`), Deno.errors.AlreadyExists);
    assert.deepEqual(names(`${dir}/a`), ["f"]);
    assert.deepEqual(names(`${dir}/work/b`), ["g"]); // left to the caller
  });
});

Deno.test("isSpecialFile: devices are, files and missing paths are not", async () => {
  assert.equal(await isSpecialFile("/dev/null"), true);
  assert.equal(await isSpecialFile("/nonexistent/x"), false);
  assert.equal(await isSpecialFile(new URL(import.meta.url).pathname), false);
});

Deno.test({
  name: "writeOutputFile writes into a FIFO instead of replacing it, and replaces files",
  ignore: !hasCommand("mkfifo"),
  fn: () =>
    withTempDir("poncho-atomic-", async (dir) => {
      const fifo = `${dir}/pipe`;
      assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
      const reader = (async () => {
        using f = await Deno.open(fifo, { read: true });
        return await new Response(f.readable).text();
      })();
      await writeOutputFile(fifo, "through the pipe\n");
      assert.equal(await reader, "through the pipe\n");
      assert.ok(Deno.lstatSync(fifo).isFifo);
      await writeOutputFile(`${dir}/spec.json`, "{}\n");
      assert.equal(await Deno.readTextFile(`${dir}/spec.json`), "{}\n");
      assert.deepEqual(names(dir), ["pipe", "spec.json"]);
    }),
});

Deno.test("tempPathFor: hidden, beside the file or in tmpDir", () => {
  assert.match(tempPathFor("/a/b/c.json"), /^\/a\/b\/\.c\.json\.tmp-[0-9a-f]{8}$/);
  assert.match(tempPathFor("/c"), /^\/\.c\.tmp-/);
  assert.match(tempPathFor("c"), /^\.\/\.c\.tmp-/);
  assert.match(tempPathFor("/a/c", "/t"), /^\/t\/\.c\.tmp-/);
});

const strace = hasCommand("strace");

/** Runs `code` under strace and returns the fsync and rename calls it made, in order. */
async function syscalls(dir: string, code: string): Promise<string[]> {
  const trace = `${dir}/trace`;
  const out = await new Deno.Command("strace", {
    args: [
      "-f",
      "-qq",
      "-y",
      "-e",
      "trace=fsync,fdatasync,rename,renameat,renameat2",
      "-o",
      trace,
      Deno.execPath(),
      "eval",
      `import * as a from ${JSON.stringify(import.meta.resolve("./atomic.ts"))};\n${code}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return (await Deno.readTextFile(trace)).split("\n")
    .filter((l) => l.includes(dir) && !l.includes("<unfinished") && !l.includes("resumed>"))
    .map((l) => {
      if (/ fs?(data)?sync\(/.test(l)) return `fsync ${/<([^>]*)>/.exec(l)?.[1]}`;
      const m = /rename\w*\((?:\w+, )?"([^"]+)", (?:\w+, )?"([^"]+)"/.exec(l);
      return m ? `rename ${m[1].replace(/\.tmp-.*$/, ".tmp")} ${m[2]}` : l;
    });
}

Deno.test({
  name: "durable writes fsync the file before the rename and the directory after (strace)",
  ignore: !strace,
  fn: () =>
    withTempDir("poncho-atomic-", async (dir) => {
      const calls = await syscalls(
        dir,
        `await a.writeFileAtomic("${dir}/f", "x", { durable: true });
         a.writeFileAtomicSync("${dir}/g", "y", { durable: true });
         await a.writeFileAtomic("${dir}/h", "z");`,
      );
      const file = (n: string) => [
        `fsync ${dir}/.${n}.tmp`,
        `rename ${dir}/.${n}.tmp ${dir}/${n}`,
        `fsync ${dir}`,
      ];
      const tmpName = (s: string) => s.replace(/\.tmp-[^ ]*/, ".tmp");
      assert.deepEqual(calls.map(tmpName), [
        ...file("f"),
        ...file("g"),
        `rename ${dir}/.h.tmp ${dir}/h`, // not durable: no fsync
      ]);
    }),
});
