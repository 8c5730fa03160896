/**
 * `poncho create [options] <spec> <output>`: argument parsing and printing
 * for {@link createEnvironment}.
 *
 * @module
 */

import { type OptionSpec, parseArgs } from "./args.ts";
import type { CreateOptions, CreateResult } from "../lib/create.ts";
import { UsageError } from "../lib/errors.ts";
import { resolveStoreRoot } from "../store/layout.ts";

const HELP = `Usage: poncho create [options] <spec> <output>
       poncho create --dry-run [--json] <spec>

Build a relocatable environment archive from a spec (poncho JSON, legacy JSON, JSONC or a conda
environment.yml; '-' reads stdin). The output's extension picks the format: .tar.zst
(recommended), .tar.gz or .tgz. The same spec (channels, packages, platform) is built once and
cached in the store; later creates copy the cached archive.

Options:
  -c, --channel URL     add a channel before the spec's own (repeatable; https://, http://,
                        file:// or a name such as conda-forge)
  --platform NAME       target platform (default: this machine, e.g. linux-64)
  --prefix DIR          install into DIR instead of writing an archive (like conda create -p)
  --offline             use only cached repodata and packages
  --force               rebuild even if the store has this spec's archive
  --dry-run             only solve: print the packages that would be installed (name, version,
                        build, channel, size); fetch nothing, write no output
  --conda-exe PATH      let an existing conda, mamba or micromamba solve and install, then pack
  --no-link-scripts     do not run packages' post-link scripts (they run by default, as with
                        conda; use this for untrusted channels)
  -w, --wait-for-lock SECS  wait at most SECS for another process's build of the same spec
                        (default 21600; the holder's pid, host and start are shown)
  --store DIR           the store (default: $PONCHO_STORE, $XDG_CACHE_HOME/poncho, ~/.cache/poncho)
  --json                print a machine-readable summary on stdout
  -q, --quiet           print nothing but errors
  -v, --verbose         print each step, and which repodata form (sharded or monolithic) each
                        channel subdir used
  -h, --help            show this help

Exit codes: 0 success, 1 invalid usage or spec, 2 spec not found, 3 build failed.
`;

const fmtSize = (n?: number) =>
  n === undefined
    ? "?"
    : n >= 1 << 20
    ? `${(n / (1 << 20)).toFixed(1)} MiB`
    : `${Math.ceil(n / 1024)} KiB`;

/** Prints a dry run's packages as a table on stdout, with the total download size. */
function printPlan(
  packages: { name: string; version: string; build: string; channel: string; size?: number }[],
): void {
  const rows = packages.map((p) => [p.name, p.version, p.build, p.channel, fmtSize(p.size)]);
  const head = ["name", "version", "build", "channel", "size"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  const total = packages.reduce((n, p) => n + (p.size ?? 0), 0);
  console.log(`${packages.length} packages, ${fmtSize(total)} to download`);
}

const OPTIONS: OptionSpec[] = [
  { name: "channel", short: "c", type: "string", multiple: true },
  { name: "platform", type: "string" },
  { name: "prefix", type: "string" },
  { name: "offline", type: "boolean" },
  { name: "force", type: "boolean" },
  { name: "no-link-scripts", type: "boolean" },
  { name: "dry-run", type: "boolean" },
  { name: "conda-exe", type: "string" },
  { name: "conda-executable", type: "string" },
  { name: "store", type: "string" },
  { name: "wait-for-lock", short: "w", type: "string" },
  { name: "json", type: "boolean" },
  { name: "quiet", short: "q", type: "boolean" },
  { name: "verbose", short: "v", type: "boolean" },
  { name: "help", short: "h", type: "boolean" },
];

/** Checks the number of positional arguments for the mode (`--dry-run`, `--prefix`, archive). */
function checkPositionals(positionals: string[], prefix?: string, dryRun?: boolean): void {
  const want = prefix || dryRun ? 1 : 2;
  if (dryRun && positionals.length !== 1) {
    throw new UsageError(
      `--dry-run takes only <spec> (it writes no output), got ${positionals.length} arguments`,
    );
  }
  if (positionals.length !== want) {
    throw new UsageError(
      prefix
        ? `expected <spec> with --prefix, got ${positionals.length} arguments (see --help)`
        : `expected <spec> <output>, got ${positionals.length} argument(s) (see --help)`,
    );
  }
}

/** `-w/--wait-for-lock SECS` in milliseconds (undefined when not given). */
function waitForLockMs(text: string | undefined): number | undefined {
  const wait = text === undefined ? undefined : Number(text);
  if (wait !== undefined && (text!.trim() === "" || !Number.isFinite(wait) || wait < 0)) {
    throw new UsageError(`-w/--wait-for-lock '${text}' is not a number of seconds`);
  }
  return wait === undefined ? undefined : wait * 1000;
}

/** A parsed `poncho create` command line. */
interface CreateArgs {
  /** The spec file (`-` for stdin). */
  specPath: string;
  /** The create's options, but the spec. */
  options: Omit<CreateOptions, "spec">;
  /** `--json`. */
  json: boolean;
  /** `-q/--quiet`. */
  quiet: boolean;
}

/** Parses the command line; undefined for `--help`. */
function parseCreateArgs(args: string[]): CreateArgs | undefined {
  const { options: o, positionals } = parseArgs(args, OPTIONS);
  if (o.help) return undefined;
  if (o.quiet && o.verbose) throw new UsageError("-q/--quiet and -v/--verbose exclude each other");
  const prefix = o.prefix as string | undefined;
  const dryRun = Boolean(o["dry-run"]);
  checkPositionals(positionals, prefix, dryRun);
  const [specPath, output] = positionals;
  const waitMs = waitForLockMs(o["wait-for-lock"] as string | undefined);
  const options = {
    specSource: specPath,
    output,
    prefix,
    channels: o.channel as string[],
    platform: o.platform as string | undefined,
    offline: Boolean(o.offline),
    force: Boolean(o.force),
    noLinkScripts: Boolean(o["no-link-scripts"]),
    condaExe: (o["conda-exe"] ?? o["conda-executable"]) as string | undefined,
    store: resolveStoreRoot(o.store as string | undefined),
    quiet: Boolean(o.quiet) || Boolean(o.json),
    verbose: Boolean(o.verbose),
    waitForLockMs: waitMs,
    dryRun,
  };
  return { specPath, options, json: Boolean(o.json), quiet: Boolean(o.quiet) };
}

/** Prints what the create did: JSON on stdout, a dry run's table, or one line on stderr. */
function printResult(result: CreateResult, { json, quiet, options }: CreateArgs): void {
  if (options.dryRun && !json) {
    if (!quiet) printPlan(result.packages);
    return;
  }
  if (json) {
    console.log(JSON.stringify(result, null, 2));
  } else if (!quiet) {
    const where = result.output ?? result.prefix;
    const how = result.cached ? "reused cached build" : `built ${result.packages.length} packages`;
    console.error(`poncho create: ${where} (${how}, spec ${result.specHash.slice(0, 12)})`);
  }
}

/** Runs `poncho create` with `args`; returns the exit code. */
export async function createCommand(args: string[]): Promise<number> {
  const parsed = parseCreateArgs(args);
  if (!parsed) {
    console.log(HELP);
    return 0;
  }
  const { readSpec } = await import("../lib/envspec/parse.ts");
  const { createEnvironment } = await import("../lib/create.ts");
  const spec = await readSpec(parsed.specPath);
  const result = await createEnvironment({ spec, ...parsed.options });
  printResult(result, parsed);
  return 0;
}
