/**
 * What `create` prints on stderr while it works, all prefixed
 * `poncho create: `: details (only with `--verbose`), main steps (with
 * `--verbose`, or on a terminal unless `--quiet`), and notices the user must
 * see (warnings, packages' messages; silenced only by `--quiet`).
 *
 * @module
 */

import type { CreateOptions } from "./types.ts";

/** Prints one line. */
export type Reporter = (line: string) => void;

const silent: Reporter = () => {};
const toStderr: Reporter = (l) => console.error(`poncho create: ${l}`);

/** Reporter for details: lines on stderr with `verbose`, else nothing. */
export function reporter(opts: CreateOptions): Reporter {
  return opts.verbose && !opts.quiet ? toStderr : silent;
}

/** Reporter for the main steps: shown with `verbose`, or on a terminal unless `quiet`. */
export function stepper(opts: CreateOptions): Reporter {
  const show = !opts.quiet && (opts.verbose || Deno.stderr.isTerminal());
  return show ? toStderr : silent;
}

/** Reporter for notices (warnings, packages' messages): shown unless `quiet`. */
export function notifier(opts: CreateOptions): Reporter {
  return opts.quiet ? silent : toStderr;
}
