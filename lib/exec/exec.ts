/**
 * Runs a command inside an activated environment and waits for it: stdio
 * inherited, SIGINT/SIGTERM/SIGHUP/SIGQUIT forwarded to the command, and
 * the command's exit status returned (128+N when it died of signal N).
 *
 * Deno has no `exec(2)`: by default Poncho stays as the command's parent
 * for its whole life. A caller with nothing left to do after the command
 * asks for {@link ExecOptions.replace}: the command then takes Poncho's
 * place through libc (`replace.ts`), and its own death is the caller's to
 * see; without FFI the command runs as a child as before.
 *
 * @module
 */

import { ActivationError, errnoOf } from "../errors.ts";
import { activationEnv, sourcingProgram } from "./activate.ts";
import { replaceProcess } from "./replace.ts";
import { compactCurrentRuntime } from "../dist/self.ts";

/** The signals forwarded to the command. */
export const FORWARDED_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

/** Linux signal numbers, for the 128+N exit status. */
const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

/** The exit status of a process that died of `signal`: 128+N (N its Linux number). */
export function signalExitCode(signal: Deno.Signal): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 0);
}

/** What to run. */
export interface ExecOptions {
  /** Absolute path of the environment. */
  prefix: string;
  /** The command and its arguments (`argv[0]` is looked up in the activated `PATH`). */
  argv: readonly string[];
  /** Activation scripts to source with `/bin/sh` first (absolute paths). */
  activateScripts?: readonly string[];
  /** The environment to activate on top of (default: this process's). */
  baseEnv?: Record<string, string>;
  /** Working directory (default: the current one). */
  cwd?: string;
  /**
   * Variables kept although activation normally removes them (automatic runs
   * keep `PYTHONPATH`: the local modules found on it were analysed as the
   * script's own).
   */
  keepVars?: readonly string[];
  /**
   * Replace this process with the command (`execve`) where libc is at hand,
   * instead of starting it as a child and waiting: for callers with nothing
   * left to do after it (no temp dir to remove; the locks the command must
   * hold are on descriptors it inherits). Ignored with `cwd`.
   */
  replace?: boolean;
}

function isExecutableFile(path: string): boolean {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (err) {
    // As execvp does: a PATH entry that is missing, not a directory or not searchable
    // (ENOENT, ENOTDIR, EACCES, ELOOP...) has no such command; the search goes on.
    if (errnoOf(err) === undefined) throw err;
    return false;
  }
  return info.isFile && ((info.mode ?? 0o755) & 0o111) !== 0;
}

/**
 * Finds `command` the way `execvp` would in `path` (a `PATH` value).
 * A command containing `/` is taken as a path.
 *
 * @returns The path to execute, or `undefined` if there is none.
 */
export function resolveCommand(command: string, path: string): string | undefined {
  if (command.includes("/")) return isExecutableFile(command) ? command : undefined;
  if (command === "") return undefined;
  for (const dir of path.split(":")) {
    const candidate = `${dir || "."}/${command}`;
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** The activated environment of `prefix`, keeping `options.keepVars` from the base. */
function commandEnv(options: ExecOptions): Record<string, string> {
  const env = activationEnv(options.prefix, options.baseEnv);
  for (const name of options.keepVars ?? []) {
    const value = options.baseEnv ? options.baseEnv[name] : Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * Listens for {@link FORWARDED_SIGNALS} (before the command is spawned, so
 * that a signal arriving in between is not lost: it is kept and sent once
 * the child is attached) and forwards them to the child.
 */
function signalForwarder(): { attach(child: Deno.ChildProcess): void; close(): void } {
  let child: Deno.ChildProcess | undefined;
  const pending: Deno.Signal[] = [];
  const forward = FORWARDED_SIGNALS.map((signal) => {
    const handler = () => {
      if (!child) {
        pending.push(signal);
        return;
      }
      try {
        child.kill(signal);
      } catch (err) {
        // It exited just now (Deno: "already terminated"; ESRCH): nothing to forward to.
        if (!(err instanceof TypeError) && errnoOf(err) === undefined) throw err;
      }
    };
    Deno.addSignalListener(signal, handler);
    return { signal, handler };
  });
  return {
    attach(c) {
      child = c;
      for (const signal of pending) c.kill(signal);
    },
    close() {
      for (const { signal, handler } of forward) Deno.removeSignalListener(signal, handler);
    },
  };
}

/**
 * Runs `argv` activated in `prefix` and returns its exit status.
 *
 * With `replace` (and FFI), returns only if the command could not take this
 * process's place; it is then started as a child.
 *
 * @throws {PonchoError} exit 4 when the command cannot be started (not found,
 *   not executable) — a one-line message naming it.
 */
export async function execInEnv(options: ExecOptions): Promise<number> {
  const { prefix, argv } = options;
  if (argv.length === 0) throw new ActivationError("no command given to run");
  const env = commandEnv(options);
  const resolved = resolveCommand(argv[0], env.PATH);
  if (resolved === undefined) {
    throw new ActivationError(
      `cannot start '${argv[0]}': not found (or not executable) in ${prefix}/bin or PATH`,
      { path: prefix },
    );
  }
  const scripts = options.activateScripts ?? [];
  const [program, args] = scripts.length === 0
    ? [resolved, argv.slice(1)]
    : ["/bin/sh", ["-c", sourcingProgram(scripts), "poncho-activate", resolved, ...argv.slice(1)]];
  if (options.replace && options.cwd === undefined) {
    await compactCurrentRuntime(); // nothing of Poncho runs after the command: do it now
    replaceProcess(program, args, env);
  }
  const signals = signalForwarder();
  try {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(program, {
        args,
        env,
        clearEnv: true,
        cwd: options.cwd,
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
    } catch (err) {
      throw new ActivationError(
        `cannot start '${argv[0]}' (${resolved}): ${(err as Error).message}`,
        { cause: err, path: resolved },
      );
    }
    signals.attach(child);
    const status = await child.status;
    if (status.signal) return signalExitCode(status.signal);
    return status.code;
  } finally {
    signals.close();
  }
}
