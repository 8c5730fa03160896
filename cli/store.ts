/**
 * `poncho store list|gc|path|pack`: inspect, clean and pack the environment store.
 *
 * @module
 */

import { NotFoundError, UsageError } from "../lib/errors.ts";
import { type OptionSpec, parseArgs } from "./args.ts";
import { resolveStoreRoot, storeLayout } from "../store/layout.ts";
import {
  type CacheReport,
  formatSize,
  gc,
  listEnvs,
  parseSize,
  type StoreEntry,
} from "../store/gc.ts";
import { bucketSizes } from "../store/cache_gc.ts";
import { storeSlot } from "../store/envs.ts";
import { readMarker } from "../store/marker.ts";
import { archiveId } from "../lib/run.ts";
import { absolutePath } from "../lib/fs/path.ts";

const HELP = `Usage: poncho store <command> [options]

Commands:
  list [--json]                       environments: id, source, size, last used; then
                                      the size of every bucket (envs, archives, pkgs,
                                      downloads, repodata, index, locks, tmp)
  gc [--older-than DAYS] [--max-size SIZE] [--dry-run] [--json]
                                      remove what was unused for DAYS days, then the
                                      least recently used until the whole store is at
                                      most SIZE (e.g. 20G): environments, cached
                                      archives, packages, downloads and repodata alike.
                                      Environments in use by a running 'poncho run' and
                                      caches a running build reads are never removed.
                                      Always sweeps leftovers of killed processes from
                                      tmp/ (only those no process works on).
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

/** Runs `poncho store` with `args`; returns the exit code. */
export async function storeCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === "-h" || sub === "--help") {
    console.log(HELP);
    return sub === undefined ? 1 : 0;
  }
  const { options, positionals } = parseArgs(rest, OPTIONS);
  if (options.help) {
    console.log(HELP);
    return 0;
  }
  const layout = storeLayout(resolveStoreRoot(options.store as string | undefined));
  const allowed: Record<string, string[]> = {
    list: ["json"],
    gc: ["older-than", "max-size", "json", "dry-run"],
    path: ["planned"],
    pack: ["json"],
  };
  if (!allowed[sub]) {
    throw new UsageError(`unknown store command '${sub}' (expected list, gc, path or pack)`);
  }
  for (const name of ["json", "older-than", "max-size", "planned", "dry-run"]) {
    if (options[name] !== undefined && !allowed[sub].includes(name)) {
      throw new UsageError(`${sub}: option --${name} does not apply here`);
    }
  }

  if (sub === "list") {
    if (positionals.length) {
      throw new UsageError(`list: unexpected '${positionals[0]}'`);
    }
    const envs = await listEnvs(layout);
    const buckets = await bucketSizes(layout);
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
    } else if (envs.length === 0) {
      console.log(`no environments in ${layout.root}`);
    } else {
      const rows = envs.map((e) => [
        e.id.slice(0, 16),
        formatSize(e.size),
        e.lastUsed.toISOString().replace(/\.\d+Z$/, "Z"),
        e.source,
      ]);
      const widths = [16, 7, 20];
      console.log(
        ["ID".padEnd(widths[0]), "SIZE".padEnd(widths[1]), "LAST USED".padEnd(widths[2]), "SOURCE"]
          .join("  "),
      );
      for (const r of rows) {
        console.log(
          [r[0].padEnd(widths[0]), r[1].padEnd(widths[1]), r[2].padEnd(widths[2]), r[3]].join("  "),
        );
      }
    }
    if (!options.json) {
      const total = Object.values(buckets).reduce((a, b) => a + b, 0);
      const parts = Object.entries(buckets).map(([name, size]) => `${name} ${formatSize(size)}`);
      console.log(`store ${layout.root}: ${formatSize(total)} (${parts.join(", ")})`);
    }
    return 0;
  }

  if (sub === "gc") {
    if (positionals.length) throw new UsageError(`gc: unexpected '${positionals[0]}'`);
    let olderThanDays: number | undefined;
    let maxSize: number | undefined;
    if (options["older-than"] !== undefined) {
      olderThanDays = Number(options["older-than"]);
      if (!Number.isFinite(olderThanDays) || olderThanDays < 0) {
        throw new UsageError(`--older-than '${options["older-than"]}' is not a number of days`);
      }
    }
    if (options["max-size"] !== undefined) {
      maxSize = parseSize(options["max-size"] as string);
      if (maxSize === undefined) {
        throw new UsageError(`--max-size '${options["max-size"]}' is not a size like 500M or 20G`);
      }
    }
    const dryRun = options["dry-run"] === true;
    const result = await gc(layout, { olderThanDays, maxSize, dryRun });
    if (options.json) {
      const env = (e: StoreEntry) => ({ id: e.id, source: e.source, size: e.size, path: e.path });
      const cache = (c: CacheReport) => ({ ...c, lastUsed: c.lastUsed.toISOString() });
      console.log(JSON.stringify(
        {
          dryRun,
          removed: result.removed.map(env),
          skipped: result.skipped.map(env),
          removedCache: result.removedCache.map(cache),
          skippedCache: result.skippedCache.map(cache),
          swept: result.swept,
          freed: result.freed,
        },
        null,
        2,
      ));
      return 0;
    }
    const why = {
      unpack: "left by a killed unpack",
      create: "left by a killed poncho create",
      gc: "left by an interrupted gc",
      owner: "temp dir of a killed process",
      lock: "lock of something that no longer exists",
      stale: "no owner, older than a day",
    };
    for (const e of result.swept) {
      console.log(`swept ${e.path} (${formatSize(e.size)}, ${why[e.kind]})`);
      for (const x of e.external ?? []) console.log(`swept ${x} (recorded by it)`);
    }
    const verb = dryRun ? "would remove" : "removed";
    for (const e of result.removed) {
      console.log(`${verb} ${e.id} (${formatSize(e.size)}, ${e.source})`);
    }
    for (const c of result.removedCache) {
      console.log(`${verb} ${c.bucket}/${c.name} (${formatSize(c.size)})`);
    }
    for (const e of result.skipped) console.log(`kept ${e.id}: in use`);
    if (result.skippedCache.length > 0) {
      console.log(`kept ${result.skippedCache.length} cache items: a build is running`);
    }
    console.log(`${dryRun ? "would free" : "freed"} ${formatSize(result.freed)}`);
    return 0;
  }

  if (sub === "pack") {
    if (positionals.length !== 2) throw new UsageError("usage: poncho store pack <id> <output>");
    const [want, output] = positionals;
    const ids = (await listEnvs(layout)).map((e) => e.id).filter((id) => id.startsWith(want));
    if (ids.length !== 1) {
      throw ids.length === 0
        ? new NotFoundError(`store environment ${want} does not exist (see poncho store list)`)
        : new UsageError(`store environment ${want} is ambiguous (${ids.length} match); give more`);
    }
    const { packStoreEnv } = await import("../lib/env/store_pack.ts");
    const r = await packStoreEnv(layout, ids[0], absolutePath(output));
    if (options.json) {
      console.log(JSON.stringify({ id: ids[0], output: absolutePath(output), bytes: r.bytes }));
    } else console.log(`packed ${ids[0]} into ${output} (${formatSize(r.bytes)})`);
    return 0;
  }

  // path
  if (positionals.length !== 1) {
    throw new UsageError("path: expected one <archive> (usage: poncho store path <archive>)");
  }
  const source = absolutePath(positionals[0]);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(source);
  } catch {
    throw new NotFoundError(`archive ${positionals[0]} does not exist`);
  }
  if (info.isDirectory) throw new UsageError(`${positionals[0]} is a directory; give an archive`);
  const slot = storeSlot(layout, await archiveId(layout, source, info));
  if (!options.planned && !readMarker(slot.path, slot.id)) {
    throw new NotFoundError(
      `the environment of ${positionals[0]} is not unpacked in ${layout.root} yet (it will be ` +
        `${slot.path}): run 'poncho run -e ${positionals[0]}' once, or give --planned`,
      { path: slot.path },
    );
  }
  console.log(slot.path);
  return 0;
}
