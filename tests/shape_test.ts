/**
 * Checks on the shape of the code that a reviewer would otherwise have to
 * remember: fault injection only through `lib/fault.ts`, exit codes only
 * through the error kinds (no bare numbers handed to `Deno.exit`), no
 * private copies of helpers that have one home (absence probes and lazy
 * imports included), renames into place only in `lib/fs/atomic.ts`, no
 * check-then-act `exists()` helpers, no branching on error message text, and
 * one loader of the C library. Each rule names the file and line that breaks it.
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
    /^(async )?function (removeIfExists|sha256File|fileSha256|splitZstdFrames|normalizePath|joinPath|absolutePath|writeFileAtomic|writeAtomic|syncDir|publishDir|isAbsent|statOrNull|statOrNullSync|readTextOrNull|listDirOrNull|statIfPresent|lstatIfPresent|statSyncIfPresent|readTextIfPresent|listDirIfPresent|lstatIfExists|statIfExists|lazyImporter|bytesSha256|writeAll|writeAllSync|readAtSync)\(/,
  );
  assert.deepEqual(copies, [], "import the shared helper instead");
});

Deno.test("absence is told by isAbsent (lib/fs/probe.ts), one rule, not spelled out again", async () => {
  assert.deepEqual(
    await offenders(
      /instanceof Deno\.errors\.NotFound\s*\|\|\s*\w+ instanceof Deno\.errors\.NotADirectory/,
      ["lib/fs/probe.ts"],
    ),
    [],
    "isAbsent(err) from lib/fs/probe.ts",
  );
});

Deno.test("modules are imported lazily only through lib/lazy.ts", async () => {
  assert.deepEqual(
    await offenders(/\bimport\(\s*new URL\(/, ["lib/lazy.ts"]),
    [],
    "const load = lazyImporter(import.meta.url) (lib/lazy.ts) instead of a private load()",
  );
});

/** A breach a rule allows: the file, the (trimmed) line, and why it is not a breach. */
type Allowed = [file: string, line: string, reason: string];

function without(found: string[], allowed: Allowed[]): string[] {
  return found.filter((f) =>
    !allowed.some(([file, line]) =>
      /^[^:]+:\d+: /.exec(f)?.[0].startsWith(`${file}:`) && f.endsWith(`: ${line}`)
    )
  );
}

Deno.test("files and directories are renamed into place only by lib/fs/atomic.ts", async () => {
  const found = await offenders(/\bDeno\.rename(Sync)?\(/, ["lib/fs/atomic.ts"]);
  const allowed: Allowed[] = [
    ["store/remove.ts", "await Deno.rename(path, trash);", "moves a tree aside to delete it"],
    [
      "lib/sources/http.ts",
      'if (c === "none") await Deno.rename(raw, `${out}/${rel}`);',
      "moves the download inside its scratch directory, which publishDir then publishes",
    ],
    [
      "store/owner.ts",
      "Deno.renameSync(making, dir);",
      "names a process's temp dir once it is locked (a lock held across a rename, not a publish)",
    ],
  ];
  assert.deepEqual(
    without(found, allowed),
    [],
    "write through writeFileAtomic/replaceFile/publishDir (lib/fs/atomic.ts)",
  );
});

Deno.test("no private exists() helpers: act and handle NotFound instead of checking first", async () => {
  const found = await offenders(/^\s*(export )?(async )?function (exists|pathExists|fileExists)\(/);
  const allowed: Allowed[] = [
    // To be removed by another part of issue 9; drop this entry when it lands.
    [
      "lib/analyze/declared.ts",
      "async function exists(path: string): Promise<boolean> {",
      "pending",
    ],
  ];
  assert.deepEqual(without(found, allowed), [], "try the operation and catch Deno.errors.NotFound");
});

Deno.test("errors are told apart by kind or class, never by message text or errno strings", async () => {
  const found = await offenders(
    /\.message\.(includes|startsWith|endsWith|match)\(|\.test\([^)]*\.message\)|\bcode\s*[!=]==?\s*["'`]E/,
    ["lib/errors.ts", "lib/fs/atomic.ts"],
  );
  const allowed: Allowed[] = [
    [
      "lib/archive/node_stream.ts",
      "!(err instanceof Error) || !/^(Zstd|zlib|Brotli)\\b|^ERR_ZLIB|decompress/i.test(err.message)",
      "Deno's node:zlib zstd errors carry neither a class nor a code: only their text says zlib",
    ],
  ];
  assert.deepEqual(
    without(found, allowed),
    [],
    "branch on err.kind, an error class (lib/errors.ts) or instanceof Deno.errors.X",
  );
});

Deno.test("zstd frames are parsed only by lib/archive/zstd_frame.ts", async () => {
  assert.deepEqual(
    await offenders(/fd2fb528|184d2a5/i, ["lib/archive/zstd_frame.ts"]),
    [],
    "split zstd data with zstdFrames() or zstdDecompress() instead of reading frame magics",
  );
});

Deno.test("the C library is opened only by lib/libc.ts", async () => {
  assert.deepEqual(
    await offenders(/dlopen\(\s*["'`]libc|dlopen\(name/, ["lib/libc.ts"]),
    [],
    "call libc() from lib/libc.ts (add the symbol there) instead of opening libc again",
  );
});
