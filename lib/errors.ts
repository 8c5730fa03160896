/**
 * Errors that Poncho reports to users, each carrying the process exit code
 * that the CLI maps it to.
 *
 * Exit codes (documented in the README):
 * - 0 success
 * - 1 invalid usage (bad option, bad spec field, bad argument)
 * - 2 missing or unreadable input (source file, spec, environment)
 * - 3 extraction, relocation, build or lock failure
 * - 4 activation failed (the command could not be started)
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

/** An error meant for the user: a one-line message and an exit code. */
export class PonchoError extends Error {
  /** The process exit code the CLI uses for this error. */
  readonly exitCode: number;
  /**
   * Creates an error with a message and an exit code.
   *
   * @param message One line naming the file, field or option and what to do.
   * @param exitCode The exit code (see the module documentation).
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, exitCode: number = EXIT_FAILED, options?: ErrorOptions) {
    super(message, options);
    this.name = "PonchoError";
    this.exitCode = exitCode;
  }
}

/** Invalid usage: a bad option, argument or spec field (exit 1). */
export class UsageError extends PonchoError {
  /**
   * Creates a usage error (exit 1).
   *
   * @param message One line naming what is wrong and what to do.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, EXIT_USAGE, options);
    this.name = "UsageError";
  }
}

/** A missing or unreadable input (exit 2). */
export class NotFoundError extends PonchoError {
  /**
   * Creates a not-found error (exit 2).
   *
   * @param message One line naming the missing input.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, EXIT_NOT_FOUND, options);
    this.name = "NotFoundError";
  }
}

/** Renders any thrown value as one line of text for stderr. */
export function errorLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, " ").trim();
}
