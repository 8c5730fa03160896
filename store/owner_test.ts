import assert from "node:assert/strict";
import { storeLayout } from "./layout.ts";
import { evalChild, withTempDir } from "../tests/util.ts";
import { OWNER_DIR_PATTERN, sweepDeadOwners, sweepOwnerDir } from "./owner.ts";

const OWNER_MODULE = new URL("./owner.ts", import.meta.url).href;
const LAYOUT_MODULE = new URL("./layout.ts", import.meta.url).href;

Deno.test("a killed process's temp dir and the temps it recorded are swept; a live one is not", async () => {
  const root = await Deno.makeTempDir({ prefix: "poncho-owner-" });
  const outside = await Deno.makeTempDir({ prefix: "poncho-owner-out-" });
  try {
    const layout = storeLayout(root);
    const ext = `${outside}/.env.tar.zst.tmp-0123abcd`;
    const notTemp = `${outside}/precious`;
    await Deno.writeTextFile(notTemp, "keep");
    // A writer: makes its temp dir, a temp inside, one outside (recorded), and a bogus record.
    const code = `
      import { ownerTmp, recordExternal } from ${JSON.stringify(OWNER_MODULE)};
      import { storeLayout } from ${JSON.stringify(LAYOUT_MODULE)};
      const layout = storeLayout(${JSON.stringify(root)});
      const dir = ownerTmp(layout);
      Deno.writeTextFileSync(dir + "/download-x", "partial");
      recordExternal(layout, ${JSON.stringify(ext)});
      Deno.writeTextFileSync(${JSON.stringify(ext)}, "half an archive");
      recordExternal(layout, ${JSON.stringify(notTemp)});
      console.log(dir);
      for await (const _ of Deno.stdin.readable) { /* until killed */ }`;
    const writer = await evalChild(code);
    const dir = writer.first;
    assert.match(dir.slice(dir.lastIndexOf("/") + 1), OWNER_DIR_PATTERN);
    const size = () => Promise.resolve(1);
    assert.equal(await sweepOwnerDir(dir, size), null, "alive: kept");
    assert.equal(await sweepDeadOwners(layout), 0);
    await writer.stop("SIGKILL");
    const swept = await sweepOwnerDir(dir, size);
    assert.ok(swept);
    assert.deepEqual(swept.external, [ext]);
    assert.ok(!(await Deno.lstat(dir).then(() => true, () => false)));
    assert.ok(!(await Deno.lstat(ext).then(() => true, () => false)));
    assert.equal(await Deno.readTextFile(notTemp), "keep", "a record naming a non-temp is ignored");
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("a normal exit removes the process's temp dir", () =>
  withTempDir("poncho-owner-", async (root) => {
    const code = `
      import { ownerTmp } from ${JSON.stringify(OWNER_MODULE)};
      import { storeLayout } from ${JSON.stringify(LAYOUT_MODULE)};
      ownerTmp(storeLayout(${JSON.stringify(root)}));
      Deno.exit(0);`;
    const out = await new Deno.Command(Deno.execPath(), { args: ["eval", code] }).output();
    assert.ok(out.success);
    assert.deepEqual([...Deno.readDirSync(`${root}/v1/tmp`)], []);
  }));
