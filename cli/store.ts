/**
 * `poncho store list|gc|path|pack`: inspect, clean and pack the environment store.
 *
 * @module
 */

import { EXIT_USAGE, NotFoundError, UsageError } from "../lib/errors.ts";
import { type OptionSpec, parseArgs, type ParsedArgs } from "./args.ts";
import { resolveStoreRoot, type StoreLayout, storeLayout } from "../store/layout.ts";
import { type CacheReport, gc, type GcOptions, type GcResult } from "../store/gc.ts";
import { findEnv, listEnvs, type StoreEntry } from "../store/list.ts";
import { formatSize, parseSize } from "../store/size.ts";
import { bucketSizes } from "../store/cache_gc.ts";
import { archiveEnvPath } from "../lib/run.ts";
import { absolutePath } from "../lib/fs/path.ts";

const HELP = `Usage: poncho store <command> [options]

Commands:
  list [--json]                       environments: id, source, size, last used; then
                                      the size of every bucket (envs, archives, pkgs,
                                      downloads, repodata, index, locks, tmp, runtime)
  gc [--older-than DAYS] [--max-size SIZE] [--dry-run] [--json]
                                      remove what was unused for DAYS days, then the
                                      least recently used until the whole store is at
                                      most SIZE (e.g. 20G): environments, cached
                                      archives, packages, downloads, repodata and old
                                      runtimes of the single file alike. Environments in
                                      use by a running 'poncho run', caches a running
                                      build reads and runtimes started within a day or
                                      still running are never removed. Always sweeps
                                      leftovers of killed processes from tmp/ (only those
                                      no process works on), and the records and locks of
                                      what no longer exists.
                                      --dry-run removes nothing and says what would go
  path [--planned] <archive>          the store path of an archive's environment (exit 2
                                      when it is not unpacked yet; --planned prints the
                                      path it will have)
  pack <id> <output> [--json]         pack environment <id> (or a unique prefix of
                                      it, as 'list' shows) into a relocatable archive
                                      (.tar.zst, .tar.gz, .tgz, .tar) for shipping,
                                      e.g. one 'poncho run script.py' built

Options:
  --store DIR   store root (default $PONCHO_STORE, else $XDG_CACHE_HOME/poncho,
                else ~/.cache/poncho)
  -h, --help    show this help
`;

const OPTIONS: OptionSpec[] = [
  { name: "store", type: "string" },
  { name: "json", type: "boolean" },
  { name: "older-than", type: "string" },
  { name: "max-size", type: "string" },
  { name: "planned", type: "boolean" },
  { name: "dry-run", type: "boolean" },
  { name: "help", short: "h", type: "boolean" },
];

type Options = ParsedArgs["options"];
type Subcommand = (layout: StoreLayout, options: Options, positionals: string[]) => Promise<void>;

/** The options each subcommand accepts (beyond --store and --help). */
const ALLOWED: Record<string, string[]> = {
  list: ["json"],
  gc: ["older-than", "max-size", "json", "dry-run"],
  path: ["planned"],
  pack: ["json"],
};

/** Runs `poncho store` with `args`; returns the exit code. */
export async function storeCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === "-h" || sub === "--help") {
    console.log(HELP);
    return sub === undefined ? EXIT_USAGE : 0;
  }
  const { options, positionals } = parseArgs(rest, OPTIONS);
  if (options.help) {
    console.log(HELP);
    return 0;
  }
  const layout = storeLayout(resolveStoreRoot(options.store as string | undefined));
  checkOptions(sub, options);
  await SUBCOMMANDS[sub](layout, options, positionals);
  return 0;
}

/**
 * Refuses an unknown subcommand and options that do not apply to it.
 *
 * @throws {UsageError} naming the subcommand or option.
 */
function checkOptions(sub: string, options: Options): void {
  if (!ALLOWED[sub]) {
    throw new UsageError(`unknown store command '${sub}' (expected list, gc, path or pack)`);
  }
  for (const name of ["json", "older-than", "max-size", "planned", "dry-run"]) {
    if (options[name] !== undefined && !ALLOWED[sub].includes(name)) {
      throw new UsageError(`${sub}: option --${name} does not apply here`);
    }
  }
}

/** `list`: the environments, then the size of every bucket. */
async function listCommand(layout: StoreLayout, options: Options, positionals: string[]) {
  if (positionals.length) throw new UsageError(`list: unexpected '${positionals[0]}'`);
  const envs = await listEnvs(layout, (w) => console.error(`poncho store: warning: ${w}`));
  if (options.json) {
    const out = envs.map((e) => ({
      id: e.id,
      source: e.source,
      size: e.size,
      created: e.created,
      lastUsed: e.lastUsed.toISOString(),
      path: e.path,
    }));
    console.log(JSON.stringify(out, null, 2));
    return;
  }
  if (envs.length === 0) console.log(`no environments in ${layout.root}`);
  else printEnvTable(envs);
  const buckets = await bucketSizes(layout);
  const total = Object.values(buckets).reduce((a, b) => a + b, 0);
  const parts = Object.entries(buckets).map(([name, size]) => `${name} ${formatSize(size)}`);
  console.log(`store ${layout.root}: ${formatSize(total)} (${parts.join(", ")})`);
}

function printEnvTable(envs: StoreEntry[]): void {
  const widths = [16, 7, 20];
  const row = (cells: string[]) =>
    console.log(
      [...cells.slice(0, 3).map((c, i) => c.padEnd(widths[i])), cells[3]].join("  "),
    );
  row(["ID", "SIZE", "LAST USED", "SOURCE"]);
  for (const e of envs) {
    row([
      e.id.slice(0, 16),
      formatSize(e.size),
      e.lastUsed.toISOString().replace(/\.\d+Z$/, "Z"),
      e.source,
    ]);
  }
}

/**
 * The limits of `gc` from its options.
 *
 * @throws {UsageError} when --older-than or --max-size is not a number or size.
 */
function gcOptions(options: Options): GcOptions {
  const out: GcOptions = { dryRun: options["dry-run"] === true };
  if (options["older-than"] !== undefined) {
    out.olderThanDays = Number(options["older-than"]);
    if (!Number.isFinite(out.olderThanDays) || out.olderThanDays < 0) {
      throw new UsageError(`--older-than '${options["older-than"]}' is not a number of days`);
    }
  }
  if (options["max-size"] !== undefined) {
    out.maxSize = parseSize(options["max-size"] as string);
    if (out.maxSize === undefined) {
      throw new UsageError(`--max-size '${options["max-size"]}' is not a size like 500M or 20G`);
    }
  }
  return out;
}

/** `gc`: collect, then say what went. */
async function gcCommand(layout: StoreLayout, options: Options, positionals: string[]) {
  if (positionals.length) throw new UsageError(`gc: unexpected '${positionals[0]}'`);
  const result = await gc(layout, gcOptions(options));
  if (options.json) printGcJson(result);
  else printGcText(result);
}

function printGcJson(result: GcResult): void {
  const env = (e: StoreEntry) => ({ id: e.id, source: e.source, size: e.size, path: e.path });
  const cache = (c: CacheReport) => ({ ...c, lastUsed: c.lastUsed.toISOString() });
  console.log(JSON.stringify(
    {
      dryRun: result.dryRun,
      removed: result.removed.map(env),
      skipped: result.skipped.map(env),
      removedCache: result.removedCache.map(cache),
      skippedCache: result.skippedCache.map(cache),
      swept: result.swept,
      freed: result.freed,
      denied: result.denied,
    },
    null,
    2,
  ));
}

/** Why each kind of leftover was swept, for the text report. */
const SWEPT_WHY = {
  unpack: "left by a killed unpack",
  create: "left by a killed poncho create",
  gc: "left by an interrupted gc",
  owner: "temp dir of a killed process",
  lock: "lock of something that no longer exists",
  record: "record of something that no longer exists",
  stale: "no owner, older than a day",
};

function printGcText(result: GcResult): void {
  for (const e of result.swept) {
    console.log(`swept ${e.path} (${formatSize(e.size)}, ${SWEPT_WHY[e.kind]})`);
    for (const x of e.external ?? []) console.log(`swept ${x} (recorded by it)`);
  }
  const verb = result.dryRun ? "would remove" : "removed";
  for (const e of result.removed) {
    console.log(`${verb} ${e.id} (${formatSize(e.size)}, ${e.source})`);
  }
  for (const c of result.removedCache) {
    console.log(`${verb} ${c.bucket}/${c.name} (${formatSize(c.size)})`);
  }
  for (const e of result.skipped) console.log(`kept ${e.id}: in use`);
  const runtimes = result.skippedCache.filter((c) => c.bucket === "runtime").length;
  const caches = result.skippedCache.length - runtimes;
  if (caches > 0) console.log(`kept ${caches} cache items: a build is running`);
  if (runtimes > 0) console.log(`kept ${runtimes} runtimes: in use or started within a day`);
  for (const path of result.denied) {
    console.log(`kept ${path}: permission denied (another user's? their own gc removes it)`);
  }
  console.log(`${result.dryRun ? "would free" : "freed"} ${formatSize(result.freed)}`);
}

/** `pack`: one environment into an archive. */
async function packCommand(layout: StoreLayout, options: Options, positionals: string[]) {
  if (positionals.length !== 2) throw new UsageError("usage: poncho store pack <id> <output>");
  const [want, output] = positionals;
  const { id } = await findEnv(layout, want);
  const { packStoreEnv } = await import("../lib/env/store_pack.ts");
  const r = await packStoreEnv(layout, id, absolutePath(output));
  if (options.json) {
    console.log(JSON.stringify({ id, output: absolutePath(output), bytes: r.bytes }));
  } else console.log(`packed ${id} into ${output} (${formatSize(r.bytes)})`);
}

/** `path`: where an archive's environment is (or, with --planned, will be). */
async function pathCommand(layout: StoreLayout, options: Options, positionals: string[]) {
  if (positionals.length !== 1) {
    throw new UsageError("path: expected one <archive> (usage: poncho store path <archive>)");
  }
  const [archive] = positionals;
  const env = await archiveEnvPath(layout, archive);
  if (!options.planned && !env.ready) {
    throw new NotFoundError(
      `the environment of ${archive} is not unpacked in ${layout.root} yet (it will be ` +
        `${env.path}): run 'poncho run -e ${archive}' once, or give --planned`,
      { path: env.path },
    );
  }
  console.log(env.path);
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  list: listCommand,
  gc: gcCommand,
  pack: packCommand,
  path: pathCommand,
};
