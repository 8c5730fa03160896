/**
 * CCTools' first-generation Python packaging tools as drop-in names of the
 * `poncho` binary (argv0 dispatch in `cli/main.ts`; `poncho dropin` writes
 * launchers for them too):
 *
 * | name                     | first-generation interface                        | here                                          |
 * | ------------------------ | ------------------------------------------------- | --------------------------------------------- |
 * | `python_package_analyze` | `<script> <json-out>`                             | writes `{"python": "X.Y.Z", "modules": [...]}` |
 * | `python_package_create`  | `<deps.json> <env-name>`                          | `poncho create deps.json <env-name>.tar.gz`   |
 * | `python_package_run`     | `<env-name> "<command string>"`                   | `poncho run -e <env> -- /bin/sh -c "<string>"` |
 * | `python_package_run`     | `-e ENV [--unpack-to DIR] cmd ...` (Work Queue's) | `poncho run -e ENV ... -- cmd ...`            |
 *
 * `python_package_create` reads the old format and every spec `poncho create`
 * reads, and passes other options (`-c URL`, `--store`, `--offline`, `-q`)
 * through. `python_package_run` resolves `<env-name>` as `<env-name>.tar.gz`,
 * else `<env-name>` itself (archive or directory). In the `-e` form,
 * `--unpack-to DIR` is honoured unless `PONCHO_STORE` is set: then the store
 * is used, so the per-task sandbox directory Work Queue's `PythonTask` passes
 * does not cost one unpack per task.
 *
 * Exit codes are those of the manuals: 1 invalid usage, 2 missing input
 * (script, dependency file, environment), 3 extraction failed, 4 activation
 * failed; a command's own exit code otherwise.
 *
 * This module only translates arguments; the work is `lib/legacy/` and the
 * `analyze`, `create` and `run` commands.
 *
 * @module
 */

import { fsError, NotFoundError, UsageError } from "../lib/errors.ts";
import { lazyImporter } from "../lib/lazy.ts";
import { isAbsent } from "../lib/fs/probe.ts";

/** First-generation command names and the poncho subcommands behind them. */
export const LEGACY_COMMANDS: Readonly<Record<string, string>> = {
  python_package_analyze: "analyze",
  python_package_create: "create",
  python_package_run: "run",
};

const HELP: Record<string, string> = {
  python_package_analyze:
    `Usage: python_package_analyze [options] <python-script> <json-output-file>

Writes the script's top-level third-party modules and the local python3's version as
{"python": "X.Y.Z", "modules": [...]} ('-' writes to stdout).

Options:
  -h, --help    show this help

Exit codes: 0 success, 1 invalid command format, 2 invalid path to the script.
`,
  python_package_create:
    `Usage: python_package_create [options] <dependency-file> <environment-name>

Builds the environment a dependency file describes (python_package_analyze's
{"python": ..., "modules": [...]}, or any spec poncho create reads) and writes
<environment-name>.tar.gz in the current directory. Options of 'poncho create'
(-c URL, --store DIR, --offline, --force, -q, -v) are passed on.

Options:
  -h, --help    show this help

Exit codes: 0 success, 1 invalid command format, 2 invalid path to the dependency file,
3 build failed.
`,
  python_package_run: `Usage: python_package_run [options] <environment-name> <command-string>
       python_package_run [options] -e <env> [--unpack-to DIR] [--] command [args...]

Runs <command-string> with /bin/sh -c inside the environment <environment-name>.tar.gz
(else <environment-name>, an archive or directory), unpacked once into Poncho's store.
The -e form is poncho_package_run's (Work Queue's PythonTask uses it); there
--unpack-to DIR is honoured unless PONCHO_STORE is set, which selects the store.
PYTHON_PACKAGE_RUN_DEBUG=yes in the environment means -d.

Options:
  -d, --debug               print what happens to stderr
  -w, --wait-for-lock SECS  wait at most SECS for another unpack (default 300)
      --store DIR           the store (default: $PONCHO_STORE, $XDG_CACHE_HOME/poncho,
                            ~/.cache/poncho)
  -h, --help                show this help

Exit codes: the command's own, else 1 invalid command format, 2 environment tarball
does not exist, 3 extraction failed, 4 activation failed.
`,
};

type Handler = (args: string[]) => Promise<number>;

/** Imports a command's module when it runs (see `lib/lazy.ts` for why). */
const load = lazyImporter(import.meta.url);

const wantsHelp = (args: string[]) => args.includes("-h") || args.includes("--help");

async function analyzeLegacyCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) {
    console.log(HELP.python_package_analyze);
    return 0;
  }
  const bad = args.find((a) => a.startsWith("-") && a !== "-");
  if (bad !== undefined) throw new UsageError(`unknown option '${bad}' (see --help)`);
  if (args.length !== 2) {
    throw new UsageError(
      `expected <python-script> <json-output-file>, got ${args.length} argument(s) (see --help)`,
    );
  }
  const [script, out] = args;
  if (script === "-") throw new UsageError("the script must be a file ('-' is not accepted)");
  const { analyzeLegacy } = await import("../lib/legacy/analyze.ts");
  const { renderLegacyDeps } = await import("../lib/legacy/format.ts");
  const text = renderLegacyDeps(await analyzeLegacy(script));
  if (out === "-") {
    await Deno.stdout.write(new TextEncoder().encode(text));
    return 0;
  }
  const { writeOutputFile } = await import("../lib/fs/atomic.ts");
  try {
    await writeOutputFile(out, text);
  } catch (err) {
    // A missing directory is the user's to fix (exit 1); a full disk or a denied write is not.
    throw fsError(err, out, { what: "cannot write the json-output-file", role: "output" });
  }
  return 0;
}

/** `python_package_create` arguments as `poncho create` arguments. */
export function legacyCreateArgs(args: string[]): string[] | undefined {
  if (wantsHelp(args)) return undefined;
  const [deps, name] = args.slice(-2);
  if (args.length < 2 || deps.startsWith("-") || name.startsWith("-")) {
    throw new UsageError("expected <dependency-file> <environment-name> last (see --help)");
  }
  if (name === "" || name.endsWith("/")) {
    throw new UsageError(`environment name '${name}' must name a file (see --help)`);
  }
  return [...args.slice(0, -2), deps, `${name}.tar.gz`];
}

async function createLegacyCommand(args: string[]): Promise<number> {
  const translated = legacyCreateArgs(args);
  if (!translated) {
    console.log(HELP.python_package_create);
    return 0;
  }
  const { createCommand } = await load<typeof import("./create.ts")>("./create.ts");
  return await createCommand(translated);
}

const RUN_VALUE_OPTIONS = new Set(["-w", "--wait-for-lock", "--store", "-u", "--unpack-to"]);

function isEnvOption(a: string): boolean {
  return a === "-e" || a === "--environment" || a.startsWith("--environment=");
}

/** Removes `-u DIR` / `--unpack-to DIR` / `--unpack-to=DIR` from the options before `--`. */
function dropUnpackTo(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") return [...out, ...args.slice(i)];
    if (a === "-u" || a === "--unpack-to") i++;
    else if (!a.startsWith("--unpack-to=")) out.push(a);
  }
  return out;
}

/**
 * `python_package_run` arguments as `poncho run` arguments; `undefined` for
 * `--help`. `exists` tells whether a path exists (for `<env-name>[.tar.gz]`).
 *
 * @throws {UsageError} on a bad command format.
 * @throws {NotFoundError} when neither `<env-name>.tar.gz` nor `<env-name>` exists.
 */
export async function legacyRunArgs(
  args: string[],
  exists: (path: string) => Promise<boolean>,
  env: (name: string) => string | undefined = Deno.env.get,
): Promise<string[] | undefined> {
  // Leading options, up to the first word that is not one.
  let i = 0;
  const opts: string[] = [];
  for (; i < args.length && args[i].startsWith("-") && args[i] !== "--"; i++) {
    const a = args[i];
    if (a === "-h" || a === "--help" || a.startsWith("--help-env")) return undefined;
    opts.push(a);
    if ((RUN_VALUE_OPTIONS.has(a) || a === "-e" || a === "--environment") && i + 1 < args.length) {
      opts.push(args[++i]);
    }
  }
  // CCTools' python_package_run reads its debug switch from the environment too.
  if (env("PYTHON_PACKAGE_RUN_DEBUG") === "yes" && !opts.includes("-d")) opts.unshift("-d");
  if (opts.some(isEnvOption)) {
    const { cctoolsArgs } = await load<typeof import("./dropin.ts")>("./dropin.ts");
    const translated = cctoolsArgs("poncho_package_run", [...opts, ...args.slice(i)]);
    return env("PONCHO_STORE") ? dropUnpackTo(translated) : translated;
  }
  if (opts.some((a) => a === "-u" || a.startsWith("--unpack-to"))) {
    throw new UsageError("--unpack-to goes with -e ENV (see --help)");
  }
  const words = args[i] === "--" ? args.slice(i + 1) : args.slice(i);
  if (words.length !== 2) {
    throw new UsageError(
      `expected <environment-name> <command-string>, got ${words.length} argument(s) (see --help)`,
    );
  }
  const [name, command] = words;
  let environment: string | undefined;
  for (const candidate of [`${name}.tar.gz`, name]) {
    if (await exists(candidate)) {
      environment = candidate;
      break;
    }
  }
  if (environment === undefined) {
    throw new NotFoundError(
      `environment '${name}': neither ${name}.tar.gz nor ${name} exists (make it with python_package_create)`,
    );
  }
  return [...opts, "-e", environment, "--", "/bin/sh", "-c", command];
}

async function runLegacyCommand(args: string[]): Promise<number> {
  // Only a missing candidate is skipped; one that cannot be read (EACCES) is reported.
  const translated = await legacyRunArgs(args, (path) =>
    Deno.stat(path).then(() => true, (err) => {
      if (isAbsent(err)) {
        return false;
      }
      throw err;
    }));
  if (!translated) {
    console.log(HELP.python_package_run);
    return 0;
  }
  const { runCommand } = await load<typeof import("./run.ts")>("./run.ts");
  return await runCommand(translated);
}

/** The handler of a first-generation command name (see {@link LEGACY_COMMANDS}). */
export function legacyCommand(name: string): Handler {
  switch (LEGACY_COMMANDS[name]) {
    case "analyze":
      return analyzeLegacyCommand;
    case "create":
      return createLegacyCommand;
    case "run":
      return runLegacyCommand;
    default:
      throw new TypeError(`legacyCommand: '${name}' is not a first-generation command`);
  }
}
