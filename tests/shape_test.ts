/**
 * Checks on the shape of the code that a reviewer would otherwise have to
 * remember: fault injection only through `lib/fault.ts`, exit codes only
 * through the error kinds (no bare numbers handed to `Deno.exit`), and no
 * private copies of helpers that have one home. Each rule names the file and
 * line that breaks it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

async function* productFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(ROOT + dir)) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory) yield* productFiles(rel);
    else if (e.isFile && /\.(ts|sh)$/.test(e.name) && !e.name.endsWith("_test.ts")) yield rel;
  }
}

async function offenders(rule: RegExp, allowed: string[] = []): Promise<string[]> {
  const out: string[] = [];
  for (const dir of ["cli", "lib", "store"]) {
    for await (const f of productFiles(dir)) {
      if (allowed.includes(f)) continue;
      const lines = (await Deno.readTextFile(ROOT + f)).split("\n");
      lines.forEach((l, i) => {
        if (rule.test(l)) out.push(`${f}:${i + 1}: ${l.trim()}`);
      });
    }
  }
  return out;
}

Deno.test("fault injection is read only in lib/fault.ts", async () => {
  assert.deepEqual(
    await offenders(/PONCHO_(FAULT|TEST_KILL_AT)|PONCHO_TEST_/, ["lib/fault.ts"]),
    [],
    "call faultPoint() from lib/fault.ts instead of reading a test variable",
  );
});

Deno.test("no bare exit-code numbers: exits go through error kinds or the command's status", async () => {
  assert.deepEqual(
    await offenders(/Deno\.exit\(\s*\d|exitCode\s*[:=]\s*\d{1,3}\b(?!\s*\+)|: 70\)/),
    [],
    "use the EXIT_* constants or an error kind from lib/errors.ts",
  );
});

Deno.test("helpers with one home are not copied privately", async () => {
  const copies = await offenders(
    /^(async )?function (removeIfExists|sha256File|fileSha256|splitZstdFrames|normalizePath)\(/,
  );
  assert.deepEqual(copies, [], "import the shared helper instead");
});
