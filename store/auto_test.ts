import assert from "node:assert/strict";
import { analysisStale, readAnalysis, stampOf, writeAnalysis } from "./auto.ts";
import { withTempLayout } from "../tests/util.ts";

Deno.test("an analysis is valid while its files hold, stale once one changed, unknown when unstatable", () =>
  withTempLayout(async (layout) => {
    const script = `${layout.root}/s.py`;
    await Deno.writeTextFile(script, "import os\n");
    // A path this user cannot stat (ELOOP here; EACCES on a directory on the way alike).
    const loop = `${layout.root}/loop`;
    await Deno.symlink(loop, loop);
    assert.equal(stampOf(`${layout.root}/none`), undefined);
    assert.equal(stampOf(loop), undefined); // not recorded: the analyzer could not see it either
    const rec = (key: string, files: { path: string; size: number; mtimeMs: number }[]) => ({
      key,
      files,
      dirs: [],
      spec: {},
      hash: "h",
      platform: "linux-64",
      source: "s.py",
      warnings: [],
    });
    const stamp = stampOf(script)!;
    await writeAnalysis(layout, rec("ok", [stamp]));
    await writeAnalysis(layout, rec("changed", [{ ...stamp, size: stamp.size + 1 }]));
    await writeAnalysis(layout, rec("unknown", [stamp, { path: loop, size: 0, mtimeMs: 0 }]));
    assert.equal(readAnalysis(layout, "ok")?.key, "ok");
    assert.equal(readAnalysis(layout, "changed"), undefined);
    assert.equal(readAnalysis(layout, "unknown"), undefined); // a miss: analysed again
    assert.deepEqual(
      ["ok", "changed", "unknown", "missing"].map((k) => analysisStale(layout, k)),
      [false, true, false, false], // gc removes only what can never be used again
    );
  }));
