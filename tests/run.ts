/**
 * The test entry point (`deno task test`): runs `deno test` with the same Deno
 * binary, passes its output through, and ends with the plain summary line
 * `N passed, N failed, N skipped` that CI reads. Tests that need a missing tool
 * are declared `ignore`d by their files and counted here as skipped.
 *
 * Extra arguments are passed to `deno test` (e.g. a file or `--filter`).
 *
 * @module
 */

const args = ["test", "-A", "--no-check=remote", ...Deno.args];
const child = new Deno.Command(Deno.execPath(), {
  args,
  stdout: "piped",
  stderr: "inherit",
  env: { NO_COLOR: "1" },
}).spawn();

const decoder = new TextDecoder();
let tail = "";
for await (const chunk of child.stdout) {
  await Deno.stdout.write(chunk);
  tail = (tail + decoder.decode(chunk, { stream: true })).slice(-4096);
}
const status = await child.status;

// deno's summary: "ok | 12 passed (3 steps) | 0 failed | 2 ignored (1s)"
const line = tail.split("\n").reverse().find((l) => /\d+ passed.*\d+ failed/.test(l)) ?? "";
const num = (re: RegExp) => Number(line.match(re)?.[1] ?? 0);
const passed = num(/(\d+) passed/);
let failed = num(/(\d+) failed/);
const skipped = num(/(\d+) ignored/);
if (!status.success && failed === 0) failed = 1; // a crash or type error counts as a failure
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
Deno.exit(status.success ? 0 : 1);
