import assert from "node:assert/strict";
import { ClobberRegistry, clobberWarning } from "./clobber.ts";

Deno.test("ClobberRegistry: the later package owns the path; each clobber is remembered", () => {
  const reg = new ClobberRegistry();
  assert.equal(reg.claim("bin/x", "a-1-0"), undefined);
  assert.equal(reg.claim("bin/x", "a-1-0"), undefined); // the same package again is no clobber
  assert.equal(reg.claim("bin/y", "a-1-0"), undefined);
  assert.equal(reg.claim("bin/x", "b-1-0"), "a-1-0");
  assert.equal(reg.claim("bin/x", "c-2-1"), "b-1-0");
  assert.equal(reg.owner("bin/x"), "c-2-1");
  assert.equal(reg.owner("bin/y"), "a-1-0");
  assert.deepEqual(reg.clobbers, [
    { path: "bin/x", loser: "a-1-0", winner: "b-1-0" },
    { path: "bin/x", loser: "b-1-0", winner: "c-2-1" },
  ]);
  const w = clobberWarning(reg.clobbers[0]);
  assert.ok(w.includes("b-1-0") && w.includes("a-1-0") && w.includes("bin/x"), w);
});
