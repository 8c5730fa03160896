/**
 * Drop-in replacements for CCTools' `poncho_package_analyze`,
 * `poncho_package_create` and `poncho_package_run`.
 *
 * Two ways to get them:
 * - the `poncho` binary and the single file `dist/poncho` answer to those
 *   names when invoked (or symlinked) as them (argv0 dispatch in
 *   `cli/main.ts` and `lib/dist/launcher.sh`); `poncho dropin DIR` run from
 *   the single file writes such symlinks to it;
 * - {@link writeLaunchers} writes three small POSIX sh scripts that exec
 *   `poncho <cctools-name> "$@"`, for installs where poncho is not a single
 *   binary (e.g. `deno run -A cli/main.ts`).
 *
 * Either way the arguments go through {@link cctoolsArgs}, which accepts the
 * CCTools options that Poncho's own commands do not have:
 *
 * | command | CCTools option                 | here                                     |
 * | ------- | ------------------------------ | ---------------------------------------- |
 * | run     | `-k, --keep-alive`             | ignored: environments stay in the store |
 * | run     | `-r, --remove-locking`         | ignored: unpacking is always locked      |
 * | run     | `-n, --no-command`, no command | unpack only (runs `true`)                |
 * | run     | `--help-env-creation`          | `--help`                                 |
 * | create  | `--no-micromamba`              | ignored: poncho never needs micromamba   |
 * | create  | `--ignore-editable-packages`   | ignored: no editable-package check       |
 *
 * Everything else (`-e/--environment`, `-u/--unpack-to`, `-w/--wait-for-lock`,
 * `-d/--debug`, a command without `--`; `<spec> <output>` and
 * `--conda-executable`; `--toplevel`, `--function`, `--pkg-mapping`,
 * `--extra-pkg`, `-` for stdin/stdout) is the same in both.
 *
 * @module
 */

import { currentLauncher } from "../lib/dist/self.ts";
import { linkNames } from "../lib/dist/install.ts";
import { UsageError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs/atomic.ts";
import { LEGACY_COMMANDS } from "./legacy.ts";
import { moduleUrl } from "../lib/lazy.ts";

/** CCTools command names and the poncho subcommands they map to. */
export const DROPIN_COMMANDS: Readonly<Record<string, string>> = {
  poncho_package_analyze: "analyze",
  poncho_package_create: "create",
  poncho_package_run: "run",
};

/** Every name the binary answers to: both CCTools generations (see `cli/legacy.ts`). */
export const DROPIN_NAMES: readonly string[] = [
  ...Object.keys(DROPIN_COMMANDS),
  ...Object.keys(LEGACY_COMMANDS),
];

/** `poncho run` options that take a value (so the next word is not the command). */
const RUN_VALUE_OPTIONS = new Set([
  "-e",
  "--environment",
  "-u",
  "--unpack-to",
  "-w",
  "--wait-for-lock",
  "--store",
]);

function runArgs(args: string[]): string[] {
  const out: string[] = [];
  let noCommand = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === "--") break;
    if (!a.startsWith("-") || a === "-") break; // the command starts here
    if (a === "-k" || a === "--keep-alive" || a === "-r" || a === "--remove-locking") continue;
    if (a === "-n" || a === "--no-command") {
      noCommand = true;
      continue;
    }
    if (a.startsWith("--help-env")) {
      out.push("--help");
      continue;
    }
    out.push(a);
    if (RUN_VALUE_OPTIONS.has(a) && i + 1 < args.length) out.push(args[++i]);
  }
  const command = args[i] === "--" ? args.slice(i + 1) : args.slice(i);
  if (out.includes("-h") || out.includes("--help")) return out;
  // CCTools unpacks and exits when there is no command (or -n): run `true` in the env.
  return [...out, "--", ...(noCommand || command.length === 0 ? ["true"] : command)];
}

/**
 * Translates the arguments of a CCTools command (`name`, e.g.
 * `poncho_package_run`) into arguments for the matching poncho subcommand
 * (without the subcommand itself). See the module documentation.
 */
export function cctoolsArgs(name: string, args: string[]): string[] {
  switch (DROPIN_COMMANDS[name]) {
    case "run":
      return runArgs(args);
    case "create": {
      const dashDash = args.indexOf("--");
      const opts = dashDash < 0 ? args : args.slice(0, dashDash);
      const kept = opts.filter((a) =>
        a !== "--no-micromamba" && a !== "--ignore-editable-packages"
      );
      return dashDash < 0 ? kept : [...kept, ...args.slice(dashDash)];
    }
    default:
      return [...args];
  }
}

/** Quotes one word for POSIX sh. */
export function shQuote(word: string): string {
  return /^[A-Za-z0-9_\/.,:=+@%-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Writes the launchers `poncho_package_analyze`, `poncho_package_create` and
 * `poncho_package_run` (and the first generation's `python_package_*`, see
 * `cli/legacy.ts`) into `binDir` (created if needed): POSIX sh scripts
 * that run `exec <ponchoCommand...> <name> "$@"`.
 *
 * @param ponchoCommand How to start poncho, e.g. `["/usr/local/bin/poncho"]`
 *   or `[Deno.execPath(), "run", "-A", "/src/poncho/cli/main.ts"]`.
 * @returns The paths written.
 */
export async function writeLaunchers(binDir: string, ponchoCommand: string[]): Promise<string[]> {
  if (ponchoCommand.length === 0) throw new TypeError("writeLaunchers: empty ponchoCommand");
  await Deno.mkdir(binDir, { recursive: true });
  const written: string[] = [];
  for (const [name, sub] of Object.entries({ ...DROPIN_COMMANDS, ...LEGACY_COMMANDS })) {
    const path = `${binDir}/${name}`;
    const text = [
      "#!/bin/sh",
      `# ${name}: CCTools-compatible name for 'poncho ${sub}' (written by poncho).`,
      `exec ${ponchoCommand.map(shQuote).join(" ")} ${name} "$@"`,
      "",
    ].join("\n");
    await writeFileAtomic(path, text, { mode: 0o755 });
    written.push(path);
  }
  return written;
}

const DROPIN_HELP = `Usage: poncho dropin <bin-dir>

Writes poncho_package_analyze, poncho_package_create and poncho_package_run,
and the first generation's python_package_analyze, python_package_create and
python_package_run, into <bin-dir> (created if needed): symlinks to the single
file when run from it (dist/poncho), else launchers that run this poncho. Put
<bin-dir> first on PATH and existing CCTools workflows (Work Queue, TaskVine,
Makeflow) use Poncho unchanged.
`;

/** The command that runs this Poncho: the compiled binary, or Deno with `cli/main.ts`. */
export function selfCommand(): string[] {
  const exe = Deno.execPath();
  if (!/\/deno$/.test(exe)) return [exe];
  return [exe, "run", "-A", "--quiet", moduleUrl("./main.ts", import.meta.url).pathname];
}

/** `poncho dropin <bin-dir>`: writes the CCTools launchers; returns the exit code. */
export async function dropinCommand(args: string[]): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    console.log(DROPIN_HELP);
    return 0;
  }
  if (args.length !== 1 || args[0].startsWith("-")) {
    throw new UsageError(`expected one argument, the directory for the launchers (see --help)`);
  }
  await Deno.mkdir(args[0], { recursive: true });
  const single = currentLauncher();
  const written = single
    ? await linkNames(args[0], single.path, DROPIN_NAMES)
    : await writeLaunchers(args[0], selfCommand());
  for (const path of written) console.log(path);
  return 0;
}
