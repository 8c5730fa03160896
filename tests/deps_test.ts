/**
 * Third-party pins live in one place: every `npm:` specifier of the code is in `lib/deps/`,
 * and each one's version is the version `package.json` pins.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SPECIFIER = /["']npm:(@?[^@"'\s]+)@([^"'/\s]+)[^"']*["']/g;

async function* codeFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory && !["node_modules", ".git", ".cache", "dist", "data"].includes(e.name)) {
      yield* codeFiles(p);
    } else if (e.isFile && e.name.endsWith(".ts")) yield p;
  }
}

Deno.test("npm: specifiers appear only in lib/deps/, pinned as in package.json", async () => {
  const pkg = JSON.parse(await Deno.readTextFile(`${ROOT}package.json`));
  const pins: Record<string, string> = { ...pkg.dependencies, ...pkg.devDependencies };
  const outside: string[] = [];
  const mismatched: string[] = [];
  let seen = 0;
  for await (const f of codeFiles(ROOT.replace(/\/$/, ""))) {
    const rel = f.slice(ROOT.length);
    if (rel === "tests/deps_test.ts") continue;
    for (const m of (await Deno.readTextFile(f)).matchAll(SPECIFIER)) {
      if (!rel.startsWith("lib/deps/")) outside.push(`${rel}: ${m[0]}`);
      else if (pins[m[1]] !== m[2]) {
        mismatched.push(`${rel}: ${m[1]}@${m[2]} (package.json: ${pins[m[1]]})`);
      }
      seen++;
    }
  }
  assert.deepEqual(outside, [], "import third-party modules through lib/deps/");
  assert.deepEqual(mismatched, []);
  if (seen === 0) throw new Error("no npm: specifier found in lib/deps/: the scan is broken");
});
