/**
 * A small, strict command-line parser shared by the subcommands.
 *
 * Options are declared up front; unknown options are a {@link UsageError}
 * naming the option. Long options accept `--name value` and `--name=value`;
 * short options `-n value`. Parsing of options stops at `--` or, when
 * `stopAtPositional` is set, at the first word that is not an option.
 *
 * @module
 */

import { UsageError } from "../lib/errors.ts";

/** Declaration of one option. */
export interface OptionSpec {
  /** Long name without dashes, e.g. `pkg-mapping`. */
  name: string;
  /** Short letter without dash, e.g. `e`. */
  short?: string;
  /** `boolean` flags take no value; `string` options take one. */
  type: "boolean" | "string";
  /** Whether a string option may be repeated (values collected in order). */
  multiple?: boolean;
}

/** The result of parsing. */
export interface ParsedArgs {
  /** Option values by long name: boolean, string, or string[] when `multiple`. */
  options: Record<string, boolean | string | string[] | undefined>;
  /** Positional words before `--` (or before the first positional when stopping). */
  positionals: string[];
  /** Words after `--`, or from the first positional on when `stopAtPositional`. */
  rest: string[];
  /** Whether a literal `--` was seen. */
  sawDashDash: boolean;
}

/** The parser's state while it walks the words. */
interface Cursor {
  /** All words. */
  args: string[];
  /** The index of the current word (advanced past an option's value). */
  i: number;
  byLong: Map<string, OptionSpec>;
  byShort: Map<string, OptionSpec>;
  options: ParsedArgs["options"];
}

function setOption(cur: Cursor, spec: OptionSpec, value: string | boolean): void {
  if (spec.multiple) (cur.options[spec.name] as string[]).push(value as string);
  else cur.options[spec.name] = value;
}

/** Parses the long option `arg` (`--name`, `--name=value`, `--name value`). */
function parseLong(cur: Cursor, arg: string): void {
  const eq = arg.indexOf("=");
  const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
  const spec = cur.byLong.get(name);
  if (!spec) throw new UsageError(`unknown option --${name} (see --help)`);
  if (spec.type === "boolean") {
    if (eq >= 0) throw new UsageError(`option --${name} takes no value`);
    setOption(cur, spec, true);
    return;
  }
  const value = eq >= 0 ? arg.slice(eq + 1) : cur.args[++cur.i];
  if (value === undefined) throw new UsageError(`option --${name} needs a value`);
  setOption(cur, spec, value);
}

/** Parses the short options `arg`: clustered booleans (`-qv`), `-e VALUE` or `-eVALUE`. */
function parseShort(cur: Cursor, arg: string): void {
  for (let j = 1; j < arg.length; j++) {
    const letter = arg[j];
    const spec = cur.byShort.get(letter);
    if (!spec) throw new UsageError(`unknown option -${letter} (see --help)`);
    if (spec.type === "boolean") {
      setOption(cur, spec, true);
      continue;
    }
    const inline = arg.slice(j + 1);
    const value = inline.length > 0 ? inline : cur.args[++cur.i];
    if (value === undefined) throw new UsageError(`option -${letter} needs a value`);
    setOption(cur, spec, value);
    return;
  }
}

/**
 * Parses `args` against `specs`. Messages do not name the command: the
 * dispatcher in `cli/main.ts` prefixes `poncho <command>:`.
 *
 * @param stopAtPositional Stop option parsing at the first non-option word.
 * @throws {UsageError} on unknown options or missing values.
 */
export function parseArgs(
  args: string[],
  specs: OptionSpec[],
  stopAtPositional = false,
): ParsedArgs {
  const cur: Cursor = {
    args,
    i: 0,
    byLong: new Map(specs.map((s) => [s.name, s])),
    byShort: new Map(specs.filter((s) => s.short).map((s) => [s.short!, s])),
    options: {},
  };
  for (const s of specs) if (s.multiple) cur.options[s.name] = [];
  const positionals: string[] = [];
  for (; cur.i < args.length; cur.i++) {
    const arg = args[cur.i];
    if (arg === "--") {
      return { options: cur.options, positionals, rest: args.slice(cur.i + 1), sawDashDash: true };
    }
    if (arg.startsWith("--")) parseLong(cur, arg);
    else if (arg.startsWith("-") && arg.length > 1) parseShort(cur, arg);
    else if (stopAtPositional) {
      return { options: cur.options, positionals, rest: args.slice(cur.i), sawDashDash: false };
    } else positionals.push(arg);
  }
  return { options: cur.options, positionals, rest: [], sawDashDash: false };
}
