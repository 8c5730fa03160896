import assert from "node:assert/strict";
import { join } from "node:path";
import { bz2Decompress, externalBzip2 } from "./bz2.ts";
import { PonchoError } from "../errors.ts";
import { collectBytes as collect, hasCommand, randomBytes } from "../../tests/util.ts";

async function* chunks(data: Uint8Array, size = 7000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

const bzip2 = hasCommand("bzip2");

Deno.test({
  name: "bzip2: the external and built-in decoders give the same bytes and the same errors",
  ignore: !bzip2,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const a = randomBytes(300_000);
      const b = new TextEncoder().encode("second stream\n".repeat(5000));
      await Deno.writeFile(join(dir, "a"), a);
      await Deno.writeFile(join(dir, "b"), b);
      const sh = (cmd: string) => new Deno.Command("sh", { args: ["-c", cmd], cwd: dir }).output();
      await sh("bzip2 -c a > ab.bz2 && bzip2 -c b >> ab.bz2");
      const full = await Deno.readFile(join(dir, "ab.bz2"));
      const want = new Uint8Array([...a, ...b]);
      assert.ok(full.length > 200_000, "random data does not compress");
      const decoders = [null, "bzip2", ...(hasCommand("lbzip2") ? ["lbzip2"] : [])];
      for (const d of decoders) {
        assert.deepEqual(await collect(bz2Decompress(chunks(full), "ab.bz2", d)), want, `${d}`);
        await assert.rejects(
          () => collect(bz2Decompress(chunks(full.subarray(0, full.length - 5000)), "cut.bz2", d)),
          // lbzip2 decodes blocks in parallel and may see a cut block as corrupt instead.
          (e: Error) =>
            e instanceof PonchoError &&
            (d === "lbzip2" ? /^cut\.bz2 is (truncated|not valid)/ : /^cut\.bz2 is truncated/)
              .test(e.message),
          `${d} truncated`,
        );
        const bad = full.slice();
        bad[4000] ^= 0xff;
        await assert.rejects(
          () => collect(bz2Decompress(chunks(bad), "bad.bz2", d)),
          (e: Error) => e instanceof PonchoError && /^bad\.bz2 /.test(e.message),
          `${d} corrupt`,
        );
        await assert.rejects(
          () => collect(bz2Decompress(chunks(new Uint8Array(0)), "empty.bz2", d)),
          /empty\.bz2 is empty/,
        );
      }
      assert.ok(externalBzip2() !== null, "bzip2 is on PATH, so it is the default decoder");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
