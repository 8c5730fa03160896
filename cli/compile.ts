/**
 * `deno task compile`: builds a single-file `poncho` executable with
 * `deno compile` (default `dist/poncho`, or `--output PATH`).
 *
 * `cli/main.ts` loads its subcommands through computed `import()` specifiers
 * (so that `deno run` does not load every subcommand at startup), which
 * `deno compile` cannot follow; so every non-test module of `cli/`, `lib/`
 * and `store/` is added with `--include`. rattler's WASM needs nothing extra:
 * the ESM build of `@conda-org/rattler` (the one Deno loads) carries it
 * inline as base64.
 *
 * `deno compile` combines the program with `denort`, the Deno runtime
 * without the CLI tools, which it otherwise downloads from dl.deno.land.
 * Without internet this needs `DENORT_BIN` pointing at a local denort of the
 * same Deno version; when it is unset the task explains and exits 3.
 *
 * The binary also answers to CCTools' names when symlinked as
 * `poncho_package_analyze`, `poncho_package_create` or `poncho_package_run`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { EXIT_FAILED, fsError, NotFoundError, PonchoError, UsageError } from "../lib/errors.ts";
import { isAbsent } from "../lib/fs/probe.ts";

const HELP = `Usage: deno task compile [--output PATH]

Builds a single-file poncho executable (default dist/poncho) with deno compile.
Needs DENORT_BIN: the path of a denort binary of this Deno version (${Deno.version.deno}).

Options:
  -o, --output PATH   where to write the executable (default dist/poncho)
  -h, --help          show this help
`;

/** The repository root (the directory holding deno.json). */
export const REPO_ROOT: string = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

/** The directories whose modules are all included in the binary. */
export const INCLUDED_DIRS: readonly string[] = ["cli", "lib", "store"];

/**
 * Whether a file belongs in the binary: a module (not a test or a test
 * fixture), or a data file a module reads beside itself (the shipped import
 * map, `*.txt.gz`).
 */
function isRuntimeModule(name: string): boolean {
  if (name.endsWith(".txt.gz")) return true;
  return name.endsWith(".ts") && !name.endsWith("_test.ts") && !name.endsWith(".d.ts") &&
    name !== "compile.ts";
}

/** Every runtime module under {@link INCLUDED_DIRS}, relative to `root`, sorted. */
export async function runtimeModules(root: string = REPO_ROOT): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(`${root}/${rel}`)) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile && isRuntimeModule(e.name)) out.push(p);
    }
  };
  for (const d of INCLUDED_DIRS) await walk(d);
  return out.sort();
}

/** The `deno compile` arguments that build `output` from the tree at `root`. */
export async function compileArgs(output: string, root: string = REPO_ROOT): Promise<string[]> {
  const includes = (await runtimeModules(root)).flatMap((m) => ["--include", m]);
  return ["compile", "-A", "--quiet", ...includes, "--output", output, "cli/main.ts"];
}

/**
 * Checks that `DENORT_BIN` names a file.
 *
 * @throws {NotFoundError} (exit 2) when it does not.
 */
async function checkDenort(denort: string): Promise<void> {
  const st = await Deno.stat(denort).catch((err) => {
    if (isAbsent(err)) {
      return undefined;
    }
    throw fsError(err, denort, { what: "cannot read DENORT_BIN", role: "input" });
  });
  if (!st?.isFile) throw new NotFoundError(`DENORT_BIN=${denort} is not a file`);
}

/**
 * Runs the compile task with `args`; returns the exit code (3 when
 * `DENORT_BIN` is unset).
 */
export async function compileCommand(args: string[]): Promise<number> {
  let output = `${REPO_ROOT}/dist/poncho`;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-h" || a === "--help") {
      console.log(HELP);
      return 0;
    } else if (a === "-o" || a === "--output") {
      if (args[i + 1] === undefined) throw new UsageError(`${a} needs a path`);
      output = args[++i];
    } else if (a.startsWith("--output=")) output = a.slice("--output=".length);
    else throw new UsageError(`unknown argument '${a}' (see --help)`);
  }
  if (!output.startsWith("/")) output = `${Deno.cwd()}/${output}`;

  const denort = Deno.env.get("DENORT_BIN");
  if (denort) await checkDenort(denort);
  await Deno.mkdir(output.replace(/\/[^/]*$/, "") || "/", { recursive: true });
  const out = await new Deno.Command(Deno.execPath(), {
    args: await compileArgs(output),
    cwd: REPO_ROOT,
    stdout: "inherit",
    stderr: "piped",
    env: denort ? { DENORT_BIN: denort } : {},
  }).output();
  if (!out.success && !denort) {
    // Without DENORT_BIN, deno compile downloads denort; where that is impossible, say what to do.
    console.error(
      `poncho compile: deno compile could not get denort ${Deno.version.deno} (no network?); ` +
        "set DENORT_BIN to a local denort binary of that version",
    );
    return EXIT_FAILED;
  }
  if (!out.success) {
    // deno prints ANSI colours and a backtrace; keep the first error line.
    // deno-lint-ignore no-control-regex
    const lines = new TextDecoder().decode(out.stderr).replace(/\x1b\[[0-9;]*m/g, "").split("\n");
    const first = lines.find((l) => /error/i.test(l)) ?? lines.find((l) => l.trim()) ?? "";
    throw new PonchoError(`deno compile failed (run it by hand to see all): ${first.trim()}`);
  }
  // A deno CLI given as DENORT_BIN yields a binary that ignores the program and acts as deno.
  const probe = await new Deno.Command(output, { args: ["--version"], stdout: "piped" }).output();
  if (!new TextDecoder().decode(probe.stdout).startsWith("poncho ")) {
    // Best-effort cleanup of a useless binary: the error below is what matters.
    await Deno.remove(output).catch(() => {});
    throw new PonchoError(
      `the built binary does not run poncho (is DENORT_BIN=${
        denort ?? "(unset)"
      } a denort, not the deno CLI?)`,
    );
  }
  console.log(`poncho compile: wrote ${output}`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await compileCommand(Deno.args));
  } catch (e) {
    const { reportError } = await import("./main.ts");
    Deno.exit(reportError("poncho compile", e));
  }
}
