/**
 * `poncho analyze [options] <source ...> <out>`: argument parsing and printing
 * for {@link analyze}. Compatible with CCTools' `poncho_package_analyze`.
 *
 * @module
 */

import { parseArgs } from "./args.ts";
import { errorLine, fsError, UsageError } from "../lib/errors.ts";
import { analyze, type AnalyzeOptions } from "../lib/analyze/analyze.ts";
import { renderSpec, type SpecFormat } from "../lib/analyze/spec_out.ts";
import { writeOutputFile } from "../lib/fs/atomic.ts";
import { checkOutPath } from "../lib/analyze/out_safety.ts";

const HELP = `Usage: poncho analyze [options] <source ...> <out>

Find the imports of Python sources and write the environment they need. A source is a file
(.py, a script, or a .ipynb notebook), a directory (searched recursively, skipping .git,
__pycache__, virtualenvs, node_modules and build dirs) or '-' for stdin. <out> is a path or
'-' for stdout.

Options:
  --toplevel             only imports at module level
  --function NAME        only imports inside function NAME (def or async def)
  --pkg-mapping IMP=PKG  the module imported as IMP comes from package PKG (repeatable;
                         'IMP=pip:PKG' puts it under pip)
  --extra-pkg PKG        also add package PKG, as given (repeatable; 'pip:PKG' for pip)
  --python X.Y           target Python (default: the version of python3 found, else 3.12)
  --prefix DIR           read installed packages from the environment at DIR
                         (default: $CONDA_PREFIX and the python3 on PATH)
  --explain              also write 'imports': per imported module its kind (stdlib, local,
                         third-party), package, version, optional flag and locations
  -c, --channel URL      target channel (repeatable, in priority order; default conda-forge):
                         written into the spec, and its import map (made by poncho index)
                         names the packages of imports
  --format json|yaml     poncho JSON spec (default) or a conda environment.yml
  -h, --help             show this help

<out> is never a source: an out that is one of the sources, ends in .py/.pyi/.pyw/.ipynb,
or is an existing file that is not a spec (nor empty) is refused and left unchanged.
Local modules the sources import (found beside them, in the project root or on
$PYTHONPATH) are analysed too; --explain lists every file read.

Warnings (e.g. a module the target Python no longer has) go to stderr.
Exit codes: 0 success, 1 invalid usage, 2 missing or unreadable source.
`;

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The command line, checked: what to analyse, how, and where the spec goes. */
interface AnalyzeArgs {
  help: boolean;
  sources: string[];
  out: string;
  format: SpecFormat;
  options: Omit<AnalyzeOptions, "sources" | "stdin">;
}

/** Parses and checks the words after `analyze`. */
function parseAnalyzeArgs(args: string[]): AnalyzeArgs {
  const { options: o, positionals, rest } = parseArgs(args, [
    { name: "toplevel", type: "boolean" },
    { name: "function", type: "string" },
    { name: "pkg-mapping", type: "string", multiple: true },
    { name: "extra-pkg", type: "string", multiple: true },
    { name: "python", type: "string" },
    { name: "prefix", type: "string" },
    { name: "explain", type: "boolean" },
    { name: "format", type: "string" },
    { name: "channel", short: "c", type: "string", multiple: true },
    { name: "help", short: "h", type: "boolean" },
  ]);
  const options = {
    toplevel: o.toplevel === true,
    function: o.function as string | undefined,
    pkgMappings: o["pkg-mapping"] as string[],
    extraPkgs: o["extra-pkg"] as string[],
    python: o.python as string | undefined,
    prefix: o.prefix as string | undefined,
    explain: o.explain === true,
    channels: o.channel as string[] | undefined,
  };
  if (o.help) return { help: true, sources: [], out: "-", format: "json", options };
  const words = [...positionals, ...rest];
  if (words.length < 2) {
    throw new UsageError(
      `expected <source ...> <out>, got ${words.length} argument${
        words.length === 1 ? "" : "s"
      } (see --help)`,
    );
  }
  const format = (o.format as string | undefined) ?? "json";
  if (format !== "json" && format !== "yaml") {
    throw new UsageError(`--format ${format}: expected json or yaml`);
  }
  const sources = words.slice(0, -1);
  if (sources.filter((s) => s === "-").length > 1) {
    throw new UsageError("source '-' (stdin) given more than once");
  }
  return { help: false, sources, out: words[words.length - 1], format, options };
}

/** Writes the spec to `out` (`-`: stdout). */
async function writeOut(out: string, text: string): Promise<void> {
  if (out === "-") {
    await Deno.stdout.write(new TextEncoder().encode(text));
    return;
  }
  try {
    await writeOutputFile(out, text);
  } catch (err) {
    throw fsError(err, out, { what: "cannot write out", role: "output" });
  }
}

async function run(args: string[]): Promise<number> {
  const a = parseAnalyzeArgs(args);
  if (a.help) {
    console.log(HELP);
    return 0;
  }
  if (a.out !== "-") await checkOutPath(a.out, a.sources);
  const stdin = a.sources.includes("-") ? await readAll(Deno.stdin.readable) : undefined;
  const result = await analyze({ ...a.options, sources: a.sources, stdin });
  for (const w of result.warnings) console.error(`warning: ${errorLine(w)}`);
  await writeOut(a.out, await renderSpec(result.spec, a.format));
  return 0;
}

/**
 * Runs `poncho analyze` with `args` (the words after `analyze`): prints the
 * spec or writes it, warnings and errors to stderr, one line each.
 *
 * @returns The exit code: 0 success, 1 invalid usage, 2 missing or unreadable source.
 */
export function analyzeCommand(args: string[]): Promise<number> {
  return run(args);
}

if (import.meta.main) {
  const { main } = await import("./main.ts");
  Deno.exit(await main(["analyze", ...Deno.args]));
}
