import assert from "node:assert/strict";
import { emitJavaScript, shipEmit } from "./emit.ts";
import { PonchoError } from "../errors.ts";
import { withTempDir } from "../../tests/util.ts";

Deno.test("shipEmit: relative .ts imports and exports name .js; the emit's trailer goes", () => {
  const js = [
    'import { a } from "./a.ts";',
    "import * as b from '../b/b.ts';",
    'export { c } from "./c.ts";',
    'import "./side.ts";',
    'const d = await import("./d.ts");',
    'import { e } from "npm:yaml@2.9.1";',
    'const msg = "run cli/main.ts";',
    'load("./lazy.ts");',
    "//# sourceMappingURL=data:application/json;base64,eyJ9",
    "// denoCacheMetadata=1,2",
    "",
  ].join("\n");
  assert.equal(
    shipEmit(js),
    [
      'import { a } from "./a.js";',
      "import * as b from '../b/b.js';",
      'export { c } from "./c.js";',
      'import "./side.js";',
      'const d = await import("./d.js");',
      'import { e } from "npm:yaml@2.9.1";',
      'const msg = "run cli/main.ts";',
      'load("./lazy.ts");',
      "",
    ].join("\n"),
  );
});

Deno.test("emitJavaScript: Deno's emit of each module, runnable as .js; a broken module is named", () =>
  withTempDir("poncho-emit-test-", async (dir) => {
    await Deno.writeTextFile(`${dir}/a.ts`, "export const a: number = 2;\n");
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      'import { a } from "./a.ts";\nimport type { X } from "./types.ts";\n' +
        "const x: X = { n: a * 21 };\nconsole.log(x.n);\n",
    );
    await Deno.writeTextFile(`${dir}/types.ts`, "export interface X { n: number }\n");
    const files = ["a.ts", "main.ts", "types.ts"].map((f) => `${dir}/${f}`);
    const js = await emitJavaScript(Deno.execPath(), dir, files);
    for (const [file, text] of js) await Deno.writeTextFile(file.replace(/\.ts$/, ".js"), text);
    assert.doesNotMatch(js.get(`${dir}/main.ts`)!, /: X|import type|\.ts"/);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--no-config", `${dir}/main.js`],
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout), "42\n");

    await Deno.writeTextFile(`${dir}/bad.ts`, "export const = ;\n");
    const err = await emitJavaScript(Deno.execPath(), dir, [`${dir}/bad.ts`]).catch((e) => e);
    assert.ok(err instanceof PonchoError);
    assert.match(err.message, /deno cache of Poncho's code failed: .+ \(at file:.*\/bad\.ts:1:/);
    assert.equal(err.message.split("\n").length, 1);
  }));
