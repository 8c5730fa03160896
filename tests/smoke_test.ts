import { VERSION } from "../lib/version.ts";
Deno.test("version is semver", () => {
  if (!/^\d+\.\d+\.\d+$/.test(VERSION)) throw new Error(VERSION);
});
