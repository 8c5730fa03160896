/**
 * The `poncho` command line: dispatches to the subcommands, each imported
 * lazily so that the warm `poncho run` path loads only what it needs.
 *
 * The binary also answers to CCTools' names: invoked (or symlinked) as
 * `poncho_package_analyze`, `poncho_package_create` or `poncho_package_run`
 * it behaves as the matching subcommand; as `python_package_analyze`,
 * `python_package_create` or `python_package_run` (the first generation) it
 * speaks their older interface (`cli/legacy.ts`).
 *
 * @module
 */

import { errorLine, EXIT_BUG, EXIT_USAGE, explanationLines, userError } from "../lib/errors.ts";
import { compactCurrentRuntime, currentLauncher, takeLauncherEnv } from "../lib/dist/self.ts";
import { VERSION } from "../lib/version.ts";
import { lazyImporter } from "../lib/lazy.ts";

const HELP = `poncho ${VERSION}: run Python code anywhere with exactly the environment it needs

Usage:
  poncho analyze [options] <source ...> <out>   Python sources -> environment spec
  poncho create [options] <spec> <output>       spec -> relocatable environment archive
  poncho run [options] -e <env> [--] cmd ...    run a command inside an environment
  poncho run [options] script.py [args ...]     ... in the environment the script needs
  poncho store list|gc|path|pack                inspect, clean and pack the environment store
  poncho dropin <bin-dir>                       write CCTools' poncho_package_* launchers
  poncho index <dir>                            conda packages -> channel (repodata, import map)

Options:
  -h, --help      show this help (also: poncho <command> --help)
  --version       print the version

Exit codes: 0 success, 1 invalid usage, 2 missing or unreadable input,
3 build/extraction/relocation failed (lock timeouts too), 4 activation failed,
70 internal error (a bug: please report it with PONCHO_DEBUG=1 output).
`;

type Handler = (args: string[]) => Promise<number>;

/** Imports a subcommand's module when it runs (see `lib/lazy.ts` for why). */
const load = lazyImporter(import.meta.url);

const COMMANDS: Record<string, () => Promise<Handler>> = {
  analyze: async () => (await load<typeof import("./analyze.ts")>("./analyze.ts")).analyzeCommand,
  create: async () => (await load<typeof import("./create.ts")>("./create.ts")).createCommand,
  run: async () => (await load<typeof import("./run.ts")>("./run.ts")).runCommand,
  store: async () => (await load<typeof import("./store.ts")>("./store.ts")).storeCommand,
  dropin: async () => (await load<typeof import("./dropin.ts")>("./dropin.ts")).dropinCommand,
  index: async () => (await load<typeof import("./index.ts")>("./index.ts")).indexCommand,
};

/** CCTools' first-generation names (`python_package_*`), handled by `cli/legacy.ts`. */
const LEGACY = new Set(["python_package_analyze", "python_package_create", "python_package_run"]);
for (const name of LEGACY) {
  COMMANDS[name] = async () =>
    (await load<typeof import("./legacy.ts")>("./legacy.ts")).legacyCommand(name);
}

const ALIASES: Record<string, string> = {
  poncho_package_analyze: "analyze",
  poncho_package_create: "create",
  poncho_package_run: "run",
};

/**
 * Runs the CLI with `args` and returns the exit code. `argv0` is the name the
 * process was started under (it may be one of CCTools' names); a CCTools name
 * is also accepted as the first argument (`poncho poncho_package_run ...`,
 * what the launchers of `cli/dropin.ts` run). Either way the arguments go
 * through the CCTools compatibility layer of `cli/dropin.ts`.
 */
export async function main(args: string[], argv0?: string): Promise<number> {
  const self = (argv0 ?? "").split("/").pop()?.replace(/\.(ts|js)$/, "") ?? "";
  if (ALIASES[self] || LEGACY.has(self)) args = [self, ...args];
  if (args[0] !== undefined && ALIASES[args[0]]) {
    const { cctoolsArgs } = await load<typeof import("./dropin.ts")>("./dropin.ts");
    args = [ALIASES[args[0]], ...cctoolsArgs(args[0], args.slice(1))];
  }
  const [cmd, ...rest] = args;
  if (cmd === undefined || cmd === "-h" || cmd === "--help" || cmd === "help") {
    console.log(HELP);
    return cmd === undefined ? EXIT_USAGE : 0;
  }
  if (cmd === "--version" || cmd === "-V") {
    console.log(`poncho ${VERSION}`);
    const single = currentLauncher();
    if (single) console.log(`payload sha256:${single.payload} (runtime ${single.runtime})`);
    return 0;
  }
  const loadHandler = COMMANDS[cmd];
  if (!loadHandler) {
    console.error(
      `poncho: unknown command '${cmd}' (expected analyze, create, run, store, index or dropin; see --help)`,
    );
    return EXIT_USAGE;
  }
  try {
    const code = await (await loadHandler())(rest);
    await compactCurrentRuntime();
    return code;
  } catch (err) {
    return reportError(`poncho ${cmd}`, err);
  }
}

/**
 * The one error printer: writes `err` to stderr under `prefix` and returns
 * its exit code. A {@linkcode PonchoError} (or an operating-system error,
 * mapped to its kind by {@linkcode userError}) is one line; a multi-line
 * explanation (the solver's) follows, indented and cut to a readable length.
 * Anything else is a bug: exit 70, with the stack only under `PONCHO_DEBUG`.
 */
export function reportError(prefix: string, err: unknown): number {
  const debug = Boolean(Deno.env.get("PONCHO_DEBUG"));
  const known = userError(err);
  if (known) {
    const [head, ...detail] = known.message.trim().split("\n");
    const line = errorLine(head);
    console.error(
      `${prefix}: ${
        debug || line.length <= 2000
          ? line
          : `${line.slice(0, 2000)}... (${line.length - 2000} more characters cut)`
      }`,
    );
    const lines = detail.map((l) => l.trimEnd()).filter((l) => l.trim());
    for (const line of debug ? lines : explanationLines(lines)) console.error(`  ${line}`);
    if (debug) console.error(known);
    return known.exitCode;
  }
  console.error(`${prefix}: internal error: ${errorLine(err)}`);
  if (debug) console.error(err);
  return EXIT_BUG;
}

/**
 * The name this process was started under, or undefined under `deno run`.
 * `Deno.execPath()` resolves symlinks, so a compiled binary symlinked as
 * `poncho_package_run` needs the real argv[0] (only node:process has it).
 */
async function invokedAs(): Promise<string | undefined> {
  const exe = Deno.execPath();
  if (exe.endsWith("/deno")) return undefined;
  const argv0 = (await load<{ default: { argv0: string } }>("node:process")).default.argv0;
  const name = argv0.split("/").pop() ?? "";
  return ALIASES[name] || LEGACY.has(name) ? argv0 : exe;
}

if (import.meta.main) {
  takeLauncherEnv();
  // `deno task poncho` runs in the project directory; go back to where the user typed it, so that
  // relative paths mean what they expect.
  const taskCwd = Deno.env.get("PONCHO_TASK_CWD");
  if (taskCwd) {
    Deno.chdir(taskCwd);
    Deno.env.delete("PONCHO_TASK_CWD");
  }
  Deno.exit(await main(Deno.args, await invokedAs()));
}
