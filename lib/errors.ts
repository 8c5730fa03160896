/**
 * Errors that Poncho reports to users. Every error has a **kind** (the family
 * of failure: callers branch on `err.kind`, never on message text), the
 * process **exit code** the CLI maps it to, and, where it concerns one, the
 * **path** or **URL** it is about.
 *
 * | kind           | class               | exit | for example                                            |
 * | -------------- | ------------------- | ---- | ------------------------------------------------------ |
 * | `usage`        | {@linkcode UsageError}       | 1    | bad option, argument or spec field             |
 * | `not-found`    | {@linkcode NotFoundError}    | 2    | a named input (source, spec, environment) is missing |
 * | `permission`   | {@linkcode PermissionError}  | 2/3  | 2 reading a named input, 3 writing the store or an output (also read-only filesystems) |
 * | `no-space`     | {@linkcode NoSpaceError}     | 3    | the disk (or quota) is full                    |
 * | `network`      | {@linkcode NetworkError}     | 3    | unreachable host, timeout, HTTP error          |
 * | `corrupt`      | {@linkcode CorruptError}     | 3    | an archive, package or repodata that is damaged |
 * | `lock-timeout` | {@linkcode LockTimeoutError} | 3    | a lock not obtained within `--wait-for-lock`   |
 * | `build`        | {@linkcode BuildError}       | 3    | solving, linking, pip, relocation failed       |
 * | `activation`   | {@linkcode ActivationError}  | 4    | the command could not be started               |
 *
 * Anything else that reaches the CLI is a bug (exit 70). {@linkcode fsError}
 * turns the operating system's errors (ENOSPC, EROFS, EACCES, ENOENT,
 * EISDIR, ENOTDIR, ...) into these kinds with the path named.
 *
 * @module
 */

/** Exit code: invalid usage (options, arguments, spec fields). */
export const EXIT_USAGE = 1;
/** Exit code: a named input (source, spec, environment) is missing or unreadable. */
export const EXIT_NOT_FOUND = 2;
/** Exit code: building, extracting, relocating or locking failed. */
export const EXIT_FAILED = 3;
/** Exit code: the environment could not be activated or the command not started. */
export const EXIT_ACTIVATION = 4;
/** Exit code: a bug in Poncho (an error that is not a {@linkcode PonchoError}). */
export const EXIT_BUG = 70;

/** The family of a failure; each maps to one exit code (see the module documentation). */
export type ErrorKind =
  | "usage"
  | "not-found"
  | "permission"
  | "no-space"
  | "network"
  | "corrupt"
  | "lock-timeout"
  | "build"
  | "activation";

/** The exit code of each kind (`permission` on a named input uses {@linkcode EXIT_NOT_FOUND}). */
export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = {
  usage: EXIT_USAGE,
  "not-found": EXIT_NOT_FOUND,
  permission: EXIT_FAILED,
  "no-space": EXIT_FAILED,
  network: EXIT_FAILED,
  corrupt: EXIT_FAILED,
  "lock-timeout": EXIT_FAILED,
  build: EXIT_FAILED,
  activation: EXIT_ACTIVATION,
};

/** Options of every Poncho error: the standard `cause` plus what it concerns. */
export interface PonchoErrorOptions extends ErrorOptions {
  /** The file or directory the error concerns. */
  path?: string;
  /** The URL the error concerns. */
  url?: string;
  /** The kind, when it is not the one the exit code implies (set by the subclasses). */
  kind?: ErrorKind;
}

const KIND_OF_CODE: Record<number, ErrorKind> = {
  [EXIT_USAGE]: "usage",
  [EXIT_NOT_FOUND]: "not-found",
  [EXIT_ACTIVATION]: "activation",
};

/** An error meant for the user: a one-line message, a kind and an exit code. */
export class PonchoError extends Error {
  /** The process exit code the CLI uses for this error. */
  readonly exitCode: number;
  /** The failure family; branch on this, never on the message. */
  readonly kind: ErrorKind;
  /** The file or directory this error concerns, when there is one. */
  readonly path?: string;
  /** The URL this error concerns, when there is one. */
  readonly url?: string;
  /**
   * Creates an error with a message and an exit code. Prefer the subclasses
   * (one per kind); this form infers the kind from the code (3 is `build`).
   *
   * @param message One line naming the file, field or option and what to do.
   * @param exitCode The exit code (see the module documentation).
   * @param options `cause`, and the `path` or `url` concerned.
   */
  constructor(message: string, exitCode: number = EXIT_FAILED, options?: PonchoErrorOptions) {
    super(message, options);
    this.name = "PonchoError";
    this.exitCode = exitCode;
    this.kind = options?.kind ?? KIND_OF_CODE[exitCode] ?? "build";
    if (options?.path !== undefined) this.path = options.path;
    if (options?.url !== undefined) this.url = options.url;
  }
}

/** Invalid usage: a bad option, argument or spec field (exit 1). */
export class UsageError extends PonchoError {
  /**
   * Creates a usage error (exit 1).
   *
   * @param message One line naming what is wrong and what to do.
   * @param options `cause`, and the `path` or `url` concerned.
   */
  constructor(message: string, options?: PonchoErrorOptions) {
    super(message, EXIT_USAGE, { ...options, kind: "usage" });
    this.name = "UsageError";
  }
}

/** A missing or unreadable input (exit 2). */
export class NotFoundError extends PonchoError {
  /**
   * Creates a not-found error (exit 2).
   *
   * @param message One line naming the missing input.
   * @param options `cause`, and the `path` or `url` concerned.
   */
  constructor(message: string, options?: PonchoErrorOptions) {
    super(message, EXIT_NOT_FOUND, { ...options, kind: "not-found" });
    this.name = "NotFoundError";
  }
}

/** Options of {@linkcode PermissionError}. */
export interface PermissionErrorOptions extends PonchoErrorOptions {
  /** The path is a named input being read (exit 2) rather than a place written (exit 3). */
  input?: boolean;
}

/** Permission denied or a read-only filesystem (exit 2 for a named input, else 3). */
export class PermissionError extends PonchoError {
  /**
   * Creates a permission error.
   *
   * @param message One line naming the path and what to do.
   * @param options `cause`, `path`, and `input` (a named input was being read).
   */
  constructor(message: string, options?: PermissionErrorOptions) {
    super(message, options?.input ? EXIT_NOT_FOUND : EXIT_FAILED, {
      ...options,
      kind: "permission",
    });
    this.name = "PermissionError";
  }
}

/** The disk or the quota is full (exit 3). */
export class NoSpaceError extends PonchoError {
  /**
   * Creates a no-space error (exit 3).
   *
   * @param message One line naming the path being written.
   * @param options `cause`, and the `path` concerned.
   */
  constructor(message: string, options?: PonchoErrorOptions) {
    super(message, EXIT_FAILED, { ...options, kind: "no-space" });
    this.name = "NoSpaceError";
  }
}

/** A host that cannot be reached, a timeout or an HTTP error (exit 3). */
export class NetworkError extends PonchoError {
  /** Whether trying again may help (timeouts, resets, 5xx, 429). */
  readonly transient: boolean;
  /**
   * Creates a network error (exit 3).
   *
   * @param message One line naming the URL.
   * @param options `cause`, the `url`, and whether the failure is `transient`.
   */
  constructor(message: string, options?: PonchoErrorOptions & { transient?: boolean }) {
    super(message, EXIT_FAILED, { ...options, kind: "network" });
    this.name = "NetworkError";
    this.transient = options?.transient ?? false;
  }
}

/** A damaged input: archive, package, repodata, index record (exit 3). */
export class CorruptError extends PonchoError {
  /**
   * Creates a corrupt-input error (exit 3).
   *
   * @param message One line naming the damaged file and what to do.
   * @param options `cause`, and the `path` or `url` concerned.
   */
  constructor(message: string, options?: PonchoErrorOptions) {
    super(message, EXIT_FAILED, { ...options, kind: "corrupt" });
    this.name = "CorruptError";
  }
}

/** A lock that was not obtained in time (exit 3). */
export class LockTimeoutError extends PonchoError {
  /**
   * Creates a lock-timeout error (exit 3).
   *
   * @param message One line naming the lock, its holder and the option to change.
   * @param options `cause`, and the lock's `path`.
   */
  constructor(message: string, options?: PonchoErrorOptions) {
    super(message, EXIT_FAILED, { ...options, kind: "lock-timeout" });
    this.name = "LockTimeoutError";
  }
}

/** Building, linking, relocation or a tool (pip, git) failed (exit 3). */
export class BuildError extends PonchoError {
  /**
   * Creates a build error (exit 3).
   *
   * @param message One line naming what failed and what to do.
   * @param options `cause`, and the `path` or `url` concerned.
   */
  constructor(message: string, options?: PonchoErrorOptions) {
    super(message, EXIT_FAILED, { ...options, kind: "build" });
    this.name = "BuildError";
  }
}

/** The environment could not be activated or the command not started (exit 4). */
export class ActivationError extends PonchoError {
  /**
   * Creates an activation error (exit 4).
   *
   * @param message One line naming the command or script and what to do.
   * @param options `cause`, and the `path` concerned.
   */
  constructor(message: string, options?: PonchoErrorOptions) {
    super(message, EXIT_ACTIVATION, { ...options, kind: "activation" });
    this.name = "ActivationError";
  }
}

/** The errno name (`ENOSPC`, `EACCES`, ...) of an operating-system error, if it has one. */
export function errnoOf(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) return code;
  if (err instanceof Deno.errors.NotFound) return "ENOENT";
  if (err instanceof Deno.errors.PermissionDenied) return "EACCES";
  if (err instanceof Deno.errors.IsADirectory) return "EISDIR";
  if (err instanceof Deno.errors.NotADirectory) return "ENOTDIR";
  if (err instanceof Deno.errors.AlreadyExists) return "EEXIST";
  // Deno names some errors only in the message: "No space left on device (os error 28)".
  const m = /\(os error (\d+)\)/.exec(err.message);
  if (m) return OS_ERRNO[Number(m[1])];
  return undefined;
}

/**
 * Whether `err` says this user may not read or change a path (EACCES,
 * EPERM), itself or as the cause of the {@linkcode PonchoError} it was
 * mapped to: in a shared store, what another user owns.
 */
export function isDenied(err: unknown): boolean {
  const cause = err instanceof PonchoError ? (err as { cause?: unknown }).cause : undefined;
  const errno = errnoOf(err) ?? errnoOf(cause);
  return errno === "EACCES" || errno === "EPERM";
}

/** Linux errno numbers of the errors {@linkcode fsError} maps. */
const OS_ERRNO: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  13: "EACCES",
  17: "EEXIST",
  20: "ENOTDIR",
  21: "EISDIR",
  28: "ENOSPC",
  30: "EROFS",
  36: "ENAMETOOLONG",
  40: "ELOOP",
  122: "EDQUOT",
};

/** What {@linkcode fsError} is told about the failed operation. */
export interface FsErrorContext {
  /** What was being done, e.g. `"cannot write the output"` (default `"cannot access"`). */
  what?: string;
  /**
   * What the path is to the command: a named `input` it reads (missing ->
   * `not-found`, exit 2; denied -> exit 2), an `output` the user named
   * (missing directory -> `usage`, exit 1; denied or read-only -> exit 3), or
   * a place in the `store` (the default: missing -> `build`, exit 3).
   */
  role?: "input" | "output" | "store";
}

/**
 * Maps an operating-system error to a {@linkcode PonchoError} of the right
 * kind naming `path`: ENOSPC/EDQUOT -> `no-space`, EROFS/EACCES/EPERM ->
 * `permission`, ENOENT/ENOTDIR/EISDIR/ENAMETOOLONG/ELOOP -> `not-found`
 * (exit 2) for an input, `usage` (exit 1) for an output the user named, or
 * `build` (exit 3) in the store (see {@linkcode FsErrorContext.role}). A
 * {@linkcode PonchoError} is returned unchanged; an error that is not an
 * operating-system error too (it is a bug).
 *
 * @param err What was thrown.
 * @param path The file or directory concerned (named in the message).
 * @param ctx What was being done, and whether `path` is a named input.
 */
export function fsError(err: unknown, path?: string, ctx: FsErrorContext = {}): unknown {
  if (err instanceof PonchoError) return err;
  const errno = errnoOf(err);
  if (!errno) return err;
  const what = ctx.what ?? "cannot access";
  const where = path === undefined ? "" : ` ${path}`;
  const opts = { cause: err, path };
  switch (errno) {
    case "ENOSPC":
    case "EDQUOT":
      return new NoSpaceError(
        `${what}${where}: no space left on device; free space (poncho store gc --max-size) or use another directory`,
        opts,
      );
    case "EROFS":
      return new PermissionError(
        `${what}${where}: read-only filesystem; choose a writable location`,
        { ...opts, input: ctx.role === "input" },
      );
    case "EACCES":
    case "EPERM":
      return new PermissionError(
        `${what}${where}: permission denied; check its owner and mode`,
        { ...opts, input: ctx.role === "input" },
      );
    case "ENOENT":
    case "ENOTDIR":
    case "EISDIR":
    case "ENAMETOOLONG":
    case "ELOOP": {
      const why = {
        ENOENT: "no such file or directory",
        ENOTDIR: "a component of the path is not a directory",
        EISDIR: "is a directory",
        ENAMETOOLONG: "name too long",
        ELOOP: "too many levels of symbolic links",
      }[errno];
      const message = `${what}${where}: ${why}`;
      if (ctx.role === "input") return new NotFoundError(message, opts);
      if (ctx.role === "output") return new UsageError(message, opts);
      return new BuildError(message, opts);
    }
    default:
      return new BuildError(`${what}${where}: ${errorLine(err)}`, opts);
  }
}

/**
 * Maps an error that reached the top level to a {@linkcode PonchoError}, or
 * returns undefined for a bug. Operating-system errors that no caller mapped
 * become their kind (Deno's message names the path: `open '/x'`).
 */
export function userError(err: unknown): PonchoError | undefined {
  if (err instanceof PonchoError) return err;
  const errno = errnoOf(err);
  if (!errno) return undefined;
  // Deno's message: "No space left on device (os error 28): writefile '/x'"; keep the operation.
  const line = errorLine(err);
  const op = /\(os error \d+\):\s*(.+)$/.exec(line)?.[1] ?? line;
  const mapped = fsError(err, undefined, { what: op });
  return mapped instanceof PonchoError ? mapped : undefined;
}

/** Renders any thrown value as one line of text for stderr. */
export function errorLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, " ").trim();
}

/** How many characters of a multi-line explanation {@linkcode explanationLines} keeps. */
export const MAX_EXPLANATION = 4000;

/**
 * Cuts a long multi-line explanation (the solver's) to at most `max`
 * characters and 40 lines, each line to 300 characters, ending with a line
 * that counts what was cut.
 */
export function explanationLines(lines: string[], max = MAX_EXPLANATION): string[] {
  const out: string[] = [];
  let used = 0;
  let i = 0;
  for (; i < lines.length && out.length < 40; i++) {
    let line = lines[i];
    if (line.length > 300) line = `${line.slice(0, 300)}... (${line.length - 300} more characters)`;
    if (used + line.length > max) break;
    out.push(line);
    used += line.length;
  }
  if (i < lines.length) {
    const rest = lines.slice(i);
    const chars = rest.reduce((n, l) => n + l.length, 0);
    out.push(`... ${rest.length} more lines (${chars} characters) cut; PONCHO_DEBUG=1 shows all`);
  }
  return out;
}
