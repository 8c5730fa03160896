import assert from "node:assert/strict";
import { withTempDir } from "../../tests/util.ts";
import { installSingleFile, linkNames, onPath } from "./install.ts";

Deno.test("installSingleFile copies the file and links the names to it, replacing old ones", () =>
  withTempDir("poncho-test-", async (dir) => {
    await Deno.writeTextFile(`${dir}/src`, "#!/bin/sh\necho v1\n");
    await Deno.mkdir(`${dir}/bin`);
    await Deno.writeTextFile(`${dir}/bin/a`, "old launcher\n");
    const written = await installSingleFile(`${dir}/src`, `${dir}/bin`, ["a", "b"]);
    assert.deepEqual(written, [`${dir}/bin/poncho`, `${dir}/bin/a`, `${dir}/bin/b`]);
    assert.equal((await Deno.stat(`${dir}/bin/poncho`)).mode! & 0o777, 0o755);
    assert.equal(await Deno.readLink(`${dir}/bin/a`), "poncho");
    assert.equal(await Deno.readTextFile(`${dir}/bin/b`), "#!/bin/sh\necho v1\n");
    assert.deepEqual([...Deno.readDirSync(`${dir}/bin`)].map((e) => e.name).sort(), [
      "a",
      "b",
      "poncho",
    ]);
    await linkNames(`${dir}/other`, `${dir}/bin/poncho`, ["c"]);
    assert.equal(await Deno.readLink(`${dir}/other/c`), `${dir}/bin/poncho`);
  }));

Deno.test("onPath compares PATH entries as given and resolved", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.symlink(dir, `${dir}-link`);
    assert.ok(await onPath(dir, `/usr/bin:${dir}`));
    assert.ok(await onPath(dir, `${dir}-link:/bin`));
    assert.ok(!(await onPath(dir, "/usr/bin::/bin")));
  } finally {
    await Deno.remove(`${dir}-link`);
    await Deno.remove(dir, { recursive: true });
  }
});
