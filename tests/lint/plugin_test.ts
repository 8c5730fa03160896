/**
 * The project's lint rules catch what they are for: a long product function and a catch that
 * ignores its error without a reason, while tests, short functions and explained catches pass.
 */
import assert from "node:assert/strict";

const PLUGIN = new URL("./plugin.ts", import.meta.url).pathname;

/** Lints `files` (paths relative to a fresh project using the plugin) and returns rule hits. */
async function lint(files: Record<string, string>): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "poncho-lint-" });
  try {
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        lint: { plugins: [PLUGIN], rules: { include: [], exclude: ["no-unused-vars"] } },
      }),
    );
    for (const [name, text] of Object.entries(files)) {
      await Deno.mkdir(`${dir}/${name.split("/").slice(0, -1).join("/")}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["lint", "--json"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const report = JSON.parse(new TextDecoder().decode(out.stdout));
    return report.diagnostics
      .filter((d: { code: string }) => d.code.startsWith("poncho/"))
      .map((d: { code: string; filename: string; range: { start: { line: number } } }) =>
        `${d.code} ${
          d.filename.slice(d.filename.indexOf(dir) + dir.length + 1)
        }:${d.range.start.line}`
      )
      .sort();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function longFunction(name: string, lines: number): string {
  const body = Array.from({ length: lines - 2 }, (_, i) => `  console.log(${i});`).join("\n");
  return `function ${name}() {\n${body}\n}\n`;
}

Deno.test("function-length: a product function over 60 lines is reported, a test's is not", async () => {
  const hits = await lint({
    "lib/long.ts": longFunction("long", 61),
    "lib/fits.ts": longFunction("fits", 60),
    "lib/long_test.ts": longFunction("inTest", 90),
    "store/nested.ts": `export const outer = () => {\n${longFunction("inner", 70)}};\n`,
  });
  assert.deepEqual(hits, [
    "poncho/function-length lib/long.ts:1",
    "poncho/function-length store/nested.ts:1",
    "poncho/function-length store/nested.ts:2",
  ]);
});

Deno.test("explained-catch: an ignored error needs a reason; a used binding or a comment passes", async () => {
  const hits = await lint({
    // Four blank lines between cases: a comment up to three lines above a catch is its reason.
    "cli/c.ts": [
      "export async function f(p: string) {",
      "  try { await Deno.stat(p); } catch { return false; }", // 2: ignored
      "  try { await Deno.stat(p); } catch (_e) { return false; }", // 3: bound, unused
      "  try { await Deno.stat(p); } catch (e) { if (!(e instanceof Deno.errors.NotFound)) throw e; }",
      "  await Deno.remove(p).catch(() => {});", // 5: ignored
      "  await Deno.stat(p).then(() => true, () => false);", // 6: ignored
      "  await Deno.stat(p).catch((e) => { throw e; });",
      "\n\n\n",
      "  try { await Deno.stat(p); } catch { /* a probe: any failure means no */ }",
      "\n\n\n",
      "  // Best effort: a leftover only takes space.",
      "  await Deno.remove(p).catch(() => {});",
      "  return true;",
      "}",
      "",
    ].join("\n"),
    "tests/t_test.ts":
      "try { Deno.statSync('x'); } catch { /**/ }\ntry { Deno.statSync('x'); } catch {}\n",
  });
  assert.deepEqual(hits, [
    "poncho/explained-catch cli/c.ts:2",
    "poncho/explained-catch cli/c.ts:3",
    "poncho/explained-catch cli/c.ts:5",
    "poncho/explained-catch cli/c.ts:6",
  ]);
  assert(hits.every((h) => !h.includes("tests/")));
});
