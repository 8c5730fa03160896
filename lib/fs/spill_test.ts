import assert from "node:assert/strict";
import { join } from "node:path";
import { SpillBuffer } from "./spill.ts";
import { collectBytes, withTempDir } from "../../tests/util.ts";

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

function chunk(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

Deno.test("SpillBuffer gives back what it holds in order, past its cap from a temp file it removes", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const path = join(dir, ".spill");
    const chunks = [chunk(700, 1), chunk(500, 2), chunk(3 << 20, 3), chunk(10, 4)];
    const all = await collectBytes((async function* () {
      yield* chunks;
    })());
    for (const cap of [0, 1000, 1200, 64 << 20]) {
      const held = new SpillBuffer(path, cap);
      for (const c of chunks) held.add(c);
      assert.equal(held.length, all.length);
      const expectSpill = cap >= all.length
        ? 0
        : all.length - (cap >= 1200 ? 1200 : cap >= 700 ? 700 : 0);
      assert.equal(held.spilled, expectSpill, `cap ${cap}`);
      assert.equal(exists(path), expectSpill > 0);
      assert.deepEqual(await collectBytes(held.drain()), all, `cap ${cap}`);
      held.close();
      assert.deepEqual([...Deno.readDirSync(dir)], [], "the temp file is removed");
    }
  });
});

Deno.test("SpillBuffer refuses to spill over an existing file and removes its temp file on dispose", async () => {
  await withTempDir("poncho-test-", async (dir) => {
    const path = join(dir, ".spill");
    await Deno.writeTextFile(path, "someone else's");
    const held = new SpillBuffer(path, 0);
    assert.throws(() => held.add(chunk(10, 1)), Deno.errors.AlreadyExists);
    await Deno.remove(path);
    {
      using spill = new SpillBuffer(path, 4);
      spill.add(chunk(10, 2));
      assert.equal((await Deno.stat(path)).size, 10);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});
