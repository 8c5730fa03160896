import assert from "node:assert/strict";
import { moveRangeSync, readAtSync, writeAllSync } from "./io.ts";
import { withTempDir } from "../../tests/util.ts";

Deno.test("moveRangeSync: a range moved up or down, overlapping or not, larger than its pieces", () =>
  withTempDir("poncho-io-", (dir) => {
    const size = (3 << 20) + 12345; // more than three 1 MiB pieces
    const data = new Uint8Array(size).map((_, i) => (i * 31 + 7) % 253);
    const cases: [number, number][] = [[100, 5000], [5000, 100], [0, size + 10], [size + 10, 0]];
    for (const [from, to] of cases) {
      const path = `${dir}/f-${from}-${to}`;
      using file = Deno.openSync(path, { read: true, write: true, create: true });
      file.seekSync(from, Deno.SeekMode.Start);
      writeAllSync(file, data);
      moveRangeSync(file, from, to, size);
      assert.deepEqual(readAtSync(file, to, size), data, `${from} -> ${to}`);
    }
    const path = `${dir}/short`;
    using file = Deno.openSync(path, { read: true, write: true, create: true });
    writeAllSync(file, data.subarray(0, 10));
    assert.throws(() => moveRangeSync(file, 0, 20, 100), /too short/);
    moveRangeSync(file, 3, 3, 100); // nothing to move
    return Promise.resolve();
  }));
