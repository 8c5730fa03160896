/**
 * `poncho index DIR`: turns a directory of conda packages into a channel,
 * like conda-index. For every subdir folder (`linux-64/`, `noarch/`, ...;
 * `noarch/` is always written) it writes, each file atomically:
 *
 * - `repodata.json`: `info`, `packages` (`.tar.bz2`), `packages.conda`,
 *   `removed`, `repodata_version: 1`; each record is the package's
 *   `info/index.json` plus the archive's `size`, `sha256` and `md5`;
 * - `repodata.json.zst`, the same bytes zstd-compressed;
 * - `import-map.json`, the modules every package provides (`import_map.ts`);
 * - CEP-16 sharded repodata: `repodata_shards.msgpack.zst` and one shard per
 *   package name under `shards/` (`shards_out.ts`, encoded by
 *   `lib/conda/shards.ts`, the module Poncho's own reader uses).
 *
 * Incremental: `<subdir>/.cache/poncho-index.json` keeps each archive's
 * size, mtime, record and modules, and an archive whose size and mtime did
 * not change is not read again. A package that cannot be read (corrupt, no
 * `info/index.json`, built for another subdir) is reported in one line
 * naming the file, and the rest are indexed.
 *
 * @module
 */

import { join } from "node:path";
import zlib from "node:zlib";
import { errorLine, fsError, NotFoundError } from "../errors.ts";
import { isAbsent, statOrNull } from "../fs/probe.ts";
import { writeFileAtomic } from "../fs/atomic.ts";
import { packageModules } from "./modules.ts";
import { readPackageMeta } from "./read.ts";
import { buildImportMap, IMPORT_MAP_FILE } from "./import_map.ts";
import { writeShards } from "./shards_out.ts";

const CACHE_VERSION = 1;
const CACHE_FILE = join(".cache", "poncho-index.json");

/** One package as the cache keeps it. */
interface CachedPackage {
  size: number;
  mtime: number;
  record: Record<string, unknown>;
  modules: string[];
}

/** What {@link indexChannel} did in one subdir. */
export interface SubdirSummary {
  /** The subdir name. */
  subdir: string;
  /** Packages in its repodata. */
  packages: number;
  /** Packages read this time (new or changed). */
  read: number;
  /** Packages taken from the cache unchanged. */
  reused: number;
}

/** The result of {@link indexChannel}. */
export interface IndexResult {
  /** Per subdir, sorted by name. */
  subdirs: SubdirSummary[];
  /** One line per package that could not be indexed, naming its file. */
  problems: string[];
}

/** Options of {@link indexChannel}. */
export interface IndexOptions {
  /** Called after each package with the subdir and file name (progress). */
  onPackage?: (subdir: string, file: string) => void;
}

const isPackageFile = (name: string) => name.endsWith(".conda") || name.endsWith(".tar.bz2");

async function readCache(subdirPath: string): Promise<Map<string, CachedPackage>> {
  const file = join(subdirPath, CACHE_FILE);
  try {
    const doc = JSON.parse(await Deno.readTextFile(file));
    if (doc?.version === CACHE_VERSION && doc.packages && typeof doc.packages === "object") {
      return new Map(Object.entries(doc.packages as Record<string, CachedPackage>));
    }
  } catch (err) {
    // No cache yet, or a damaged one (it is only a cache): every package is read again.
    // One that is there but cannot be read is an error: it could not be rewritten either.
    if (!isAbsent(err) && !(err instanceof SyntaxError)) {
      throw fsError(err, file, { what: "cannot read the index cache", role: "input" });
    }
  }
  return new Map();
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

/** What indexing one subdir's packages gives: the cache entries and the counts. */
interface SubdirPackages {
  next: Map<string, CachedPackage>;
  read: number;
  reused: number;
}

/**
 * One package: its cache entry when the archive's size and mtime did not
 * change, else its record and modules read from the archive; null (with a
 * problem) when it is built for another subdir.
 */
async function indexPackage(
  file: string,
  where: string,
  subdir: string,
  hit: CachedPackage | undefined,
  problems: string[],
): Promise<{ pkg: CachedPackage; reused: boolean } | null> {
  const st = await Deno.stat(file);
  const mtime = st.mtime?.getTime() ?? 0;
  if (hit && hit.size === st.size && hit.mtime === mtime) return { pkg: hit, reused: true };
  const meta = await readPackageMeta(file);
  const built = meta.index.subdir;
  if (typeof built === "string" && built !== subdir) {
    problems.push(`${where}: built for ${built}, not ${subdir}; move it to ${built}/, skipped`);
    return null;
  }
  const sitePackagesPath = typeof meta.index.python_site_packages_path === "string"
    ? meta.index.python_site_packages_path
    : undefined;
  const record = sortKeys({ ...meta.index, md5: meta.md5, sha256: meta.sha256, size: meta.size });
  const modules = packageModules({ paths: meta.paths, pth: meta.pth, sitePackagesPath });
  return { pkg: { size: st.size, mtime, record, modules }, reused: false };
}

/** Indexes every package file of a subdir; one that cannot be read is a problem, skipped. */
async function indexPackages(
  dir: string,
  subdir: string,
  files: string[],
  options: IndexOptions,
  problems: string[],
): Promise<SubdirPackages> {
  const path = join(dir, subdir);
  const cache = await readCache(path);
  const out: SubdirPackages = { next: new Map(), read: 0, reused: 0 };
  for (const fn of files.sort()) {
    const file = join(path, fn);
    try {
      const r = await indexPackage(file, join(dir, subdir, fn), subdir, cache.get(fn), problems);
      if (r) {
        out.next.set(fn, r.pkg);
        if (r.reused) out.reused++;
        else out.read++;
      }
    } catch (err) {
      // Reported, not swallowed: the line names the file and why it is left out.
      problems.push(
        `${join(dir, subdir, fn)}: ${errorLine(err).replace(`${file}: `, "")}; skipped`,
      );
    } finally {
      options.onPackage?.(subdir, fn);
    }
  }
  return out;
}

/** Writes a subdir's repodata (plain and zstd), import map, shards and cache. */
async function writeSubdir(
  path: string,
  subdir: string,
  next: Map<string, CachedPackage>,
): Promise<void> {
  const packages: Record<string, unknown> = {};
  const condaPackages: Record<string, unknown> = {};
  for (const [fn, p] of next) (fn.endsWith(".conda") ? condaPackages : packages)[fn] = p.record;
  const repodata = {
    info: { subdir },
    packages,
    "packages.conda": condaPackages,
    removed: [],
    repodata_version: 1,
  };
  const bytes = new TextEncoder().encode(JSON.stringify(repodata, null, 1) + "\n");
  const importMap = buildImportMap(
    subdir,
    [...next.values()].map((p) => ({ name: String(p.record.name), modules: p.modules })),
  );
  await Deno.mkdir(join(path, ".cache"), { recursive: true });
  await writeFileAtomic(join(path, "repodata.json"), bytes);
  await writeFileAtomic(join(path, "repodata.json.zst"), zlib.zstdCompressSync(bytes));
  await writeFileAtomic(join(path, IMPORT_MAP_FILE), JSON.stringify(importMap, null, 1) + "\n");
  await writeShards(
    path,
    subdir,
    packages as Record<string, Record<string, unknown>>,
    condaPackages as Record<string, Record<string, unknown>>,
  );
  await writeFileAtomic(
    join(path, CACHE_FILE),
    JSON.stringify({ version: CACHE_VERSION, packages: Object.fromEntries(next) }),
  );
}

async function indexSubdir(
  dir: string,
  subdir: string,
  files: string[],
  options: IndexOptions,
  problems: string[],
): Promise<SubdirSummary> {
  const { next, read, reused } = await indexPackages(dir, subdir, files, options, problems);
  await writeSubdir(join(dir, subdir), subdir, next);
  return { subdir, packages: next.size, read, reused };
}

/**
 * Indexes the channel directory `dir` (see the module documentation).
 *
 * @throws {NotFoundError} when `dir` is not a readable directory.
 */
export async function indexChannel(dir: string, options: IndexOptions = {}): Promise<IndexResult> {
  const st = await statOrNull(dir);
  if (!st?.isDirectory) throw new NotFoundError(`${dir}: no such channel directory`);
  const problems: string[] = [];
  const subdirs = new Map<string, string[]>([["noarch", []]]);
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && isPackageFile(e.name)) {
      problems.push(
        `${join(dir, e.name)}: not in a subdir folder; move it to ${dir}/<subdir>/, skipped`,
      );
      continue;
    }
    if (!e.isDirectory || e.name.startsWith(".")) continue;
    const files: string[] = [];
    for await (const f of Deno.readDir(join(dir, e.name))) {
      if (!isPackageFile(f.name) || f.name.startsWith(".")) continue;
      // a symlink counts when it points at a file (mirrors often link packages in)
      const file = f.isFile ||
        (f.isSymlink && (await statOrNull(join(dir, e.name, f.name)))?.isFile); // dangling: no
      if (file) files.push(f.name);
    }
    if (files.length > 0 || e.name === "noarch") subdirs.set(e.name, files);
  }
  const out: SubdirSummary[] = [];
  for (const subdir of [...subdirs.keys()].sort()) {
    await Deno.mkdir(join(dir, subdir), { recursive: true });
    out.push(await indexSubdir(dir, subdir, subdirs.get(subdir)!, options, problems));
  }
  return { subdirs: out, problems };
}
