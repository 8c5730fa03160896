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
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const options: ParsedArgs["options"] = {};
  for (const s of specs) if (s.multiple) options[s.name] = [];
  const positionals: string[] = [];
  let rest: string[] = [];
  let sawDashDash = false;

  const set = (spec: OptionSpec, value: string | boolean) => {
    if (spec.multiple) (options[spec.name] as string[]).push(value as string);
    else options[spec.name] = value;
  };

  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      sawDashDash = true;
      rest = args.slice(i + 1);
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown option --${name} (see --help)`);
      if (spec.type === "boolean") {
        if (eq >= 0) throw new UsageError(`option --${name} takes no value`);
        set(spec, true);
      } else {
        const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
        if (value === undefined) {
          throw new UsageError(`option --${name} needs a value`);
        }
        set(spec, value);
      }
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // Short options, possibly clustered booleans (-qv) or -eVALUE.
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j];
        const spec = byShort.get(letter);
        if (!spec) throw new UsageError(`unknown option -${letter} (see --help)`);
        if (spec.type === "boolean") {
          set(spec, true);
          continue;
        }
        const inline = arg.slice(j + 1);
        const value = inline.length > 0 ? inline : args[++i];
        if (value === undefined) {
          throw new UsageError(`option -${letter} needs a value`);
        }
        set(spec, value);
        break;
      }
      continue;
    }
    if (stopAtPositional) {
      rest = args.slice(i);
      break;
    }
    positionals.push(arg);
  }
  return { options, positionals, rest, sawDashDash };
}
