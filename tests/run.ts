/**
 * The test entry point (`deno task test`): runs `deno test` with the same Deno
 * binary, passes its output through, and ends with the plain summary line
 * `N passed, N failed, N skipped` that CI reads. Tests that need a missing tool
 * are declared `ignore`d by their files and counted here as skipped.
 *
 * With `PONCHO_REQUIRE_TOOLS=1` (set by `.ci/run`) a skipped test is a failure
 * unless it is one of the {@link DOCUMENTED_SKIPS}: a machine where installing a
 * tool failed cannot go green by skipping the tests that need it.
 *
 * Extra arguments are passed to `deno test` (e.g. a file or `--filter`).
 *
 * @module
 */

/**
 * The only tests that may be skipped under `PONCHO_REQUIRE_TOOLS=1`, each with the reason it
 * cannot run on this project's machines (the README lists them too).
 */
export const DOCUMENTED_SKIPS: ReadonlyArray<{ name: RegExp; why: string }> = [
  { name: /^compile builds a poncho binary/, why: "no denort for `deno compile` here" },
  { name: /^--conda-exe /, why: "no conda, mamba or micromamba in Debian 12" },
];

if (import.meta.main) {
  const args = ["test", "-A", "--no-check=remote", ...Deno.args];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();

  const decoder = new TextDecoder();
  let tail = "";
  let pending = "";
  const ignoredNames: string[] = [];
  for await (const chunk of child.stdout) {
    await Deno.stdout.write(chunk);
    const text = decoder.decode(chunk, { stream: true });
    tail = (tail + text).slice(-4096);
    const lines = (pending + text).split("\n");
    pending = lines.pop() ?? "";
    for (const l of lines) {
      const m = l.match(/^(?:\s*)(.+?) \.\.\. ignored \(/);
      if (m) ignoredNames.push(m[1]);
    }
  }
  const status = await child.status;

  // deno's summary: "ok | 12 passed (3 steps) | 0 failed | 2 ignored (1s)"
  const line = tail.split("\n").reverse().find((l) => /\d+ passed.*\d+ failed/.test(l)) ?? "";
  const num = (re: RegExp) => Number(line.match(re)?.[1] ?? 0);
  const passed = num(/(\d+) passed/);
  let failed = num(/(\d+) failed/);
  const skipped = num(/(\d+) ignored/);
  if (!status.success && failed === 0) failed = 1; // a crash or type error counts as a failure
  let guardFailed = false;
  if (Deno.env.get("PONCHO_REQUIRE_TOOLS") === "1") {
    const undocumented = ignoredNames.filter((n) => !DOCUMENTED_SKIPS.some((d) => d.name.test(n)));
    for (const n of undocumented) {
      console.log(`skipped under PONCHO_REQUIRE_TOOLS=1 (install its tool): ${n}`);
    }
    if (undocumented.length > 0) {
      failed += undocumented.length;
      guardFailed = true;
    }
  }
  console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
  Deno.exit(status.success && !guardFailed ? 0 : 1);
}
