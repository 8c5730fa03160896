import assert from "node:assert/strict";
import { lazyImporter } from "./lazy.ts";

Deno.test("lazyImporter: paths resolve against the caller's base, not lib/lazy.ts", async () => {
  const load = lazyImporter(new URL("../store/", import.meta.url).href);
  const layout = await load<typeof import("../store/layout.ts")>("./layout.ts");
  assert.equal(typeof layout.storeLayout, "function");
  const again = await load<typeof import("../store/layout.ts")>("./layout.ts");
  assert.equal(again, layout, "the same module instance, as a literal import gives");
  await assert.rejects(load("./no_such_module.ts"));
});
