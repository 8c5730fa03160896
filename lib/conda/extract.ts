/**
 * Extracting conda packages (`.conda` and `.tar.bz2`) into directories, and
 * into the store's content-addressed package cache.
 *
 * A package is extracted into a temp directory beside the destination and
 * renamed into place, so the destination either does not exist or is
 * complete; on any error the temp directory is removed. All of a package's
 * tars (a `.conda`'s `pkg-*` then `info-*`) go through one call of the one
 * extractor (`lib/archive/extract.ts`) and share its state, so a link made by
 * the pkg tar is never written through by the info tar, and a link target is
 * resolved through the links of both.
 *
 * A package cache entry `pkgs/<sha256>/` is trusted only when it carries the
 * completion marker {@link CACHE_MARKER}, written last: after the whole entry
 * is flushed to disk (`syncfs`), the marker (naming the archive's sha256 and
 * {@link EXTRACTOR_FORMAT}) is written and fsynced, then the entry renamed
 * into place. An entry without a valid marker (partial, foreign, made by an
 * older extractor, or not a directory) is discarded and re-extracted under
 * the package's lock.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { BuildError, CorruptError, fsError, NotFoundError, UsageError } from "../errors.ts";
import { publishDir } from "../fs/atomic.ts";
import { isAbsent, statOrNull, statOrNullSync } from "../fs/probe.ts";
import { bz2Decompress } from "../archive/bz2.ts";
import { readFileChunks } from "../archive/compress.ts";
import { extractMembers, EXTRACTOR_FORMAT, type ExtractSource } from "../archive/extract.ts";
import { refusal } from "../archive/paths.ts";
import { readTar } from "../archive/tar.ts";
import { readZipDirectory, readZipMember } from "../archive/zip.ts";
import { zstdDecompress } from "../archive/zstd.ts";
import type { StoreLayout } from "../../store/layout.ts";
import { withLock } from "../../store/lock.ts";
import { deleteTree, discardTree } from "../../store/remove.ts";
import { ownerTmp } from "../../store/owner.ts";
import { touchUsed } from "../../store/cache_gc.ts";

export { EXTRACTOR_FORMAT };

/** The completion marker of a package cache entry, relative to the entry. */
export const CACHE_MARKER = ".poncho-extracted.json";

/** What {@link CACHE_MARKER} holds. */
export interface CacheMarker {
  /** sha256 of the package archive the entry was extracted from. */
  sha256: string;
  /** The extractor's {@link EXTRACTOR_FORMAT} that wrote it. */
  format: number;
}

/** The two conda package formats. */
export type PackageFormat = "conda" | "tar.bz2";

/** The package format from the file name; a {@link UsageError} otherwise. */
export function packageFormat(path: string): PackageFormat {
  if (path.endsWith(".conda")) return "conda";
  if (path.endsWith(".tar.bz2")) return "tar.bz2";
  throw new UsageError(`${path}: not a conda package; expected a .conda or .tar.bz2 file`);
}

/**
 * Writes the package's contents into the existing, empty directory `dir`;
 * `label` (default: the path) names it in refusals, e.g. its URL.
 */
async function extractInto(archivePath: string, dir: string, label = archivePath): Promise<void> {
  const check = (rel: string, _m: unknown, source: string) => {
    if (rel === CACHE_MARKER) throw refusal(source, rel, "the name is reserved for poncho");
  };
  const tarSource = (name: string, data: AsyncIterable<Uint8Array>): ExtractSource => ({
    name,
    members: readTar(data, { name }),
  });
  if (packageFormat(archivePath) === "tar.bz2") {
    const data = bz2Decompress(readFileChunks(archivePath), label);
    await extractMembers([tarSource(label, data)], dir, { check });
    return;
  }
  const members = await readZipDirectory(archivePath);
  // By base name: some re-zipped packages nest the members in a folder (rattler reads them).
  const tars = members.filter((m) => /^(pkg|info)-.*\.tar\.zst$/.test(basename(m.name)));
  const isPkg = (m: { name: string }) => basename(m.name).startsWith("pkg-");
  if (!tars.some((m) => !isPkg(m))) {
    throw new CorruptError(`${archivePath}: no info-*.tar.zst member; not a valid .conda package`, {
      path: archivePath,
    });
  }
  // info last, so a package's own files cannot replace its metadata.
  tars.sort((a, b) => (isPkg(a) ? 0 : 1) - (isPkg(b) ? 0 : 1));
  // One call, so both tars share one state; each is decompressed only when its turn comes.
  const sources = tars.map((m) => {
    const name = `${label}:${m.name}`;
    return tarSource(name, zstdDecompress(readZipMember(archivePath, m), name));
  });
  await extractMembers(sources, dir, { check });
}

/**
 * Flushes everything written under `dir` to disk: `syncfs` of its file
 * system (`sync -f`), falling back to a global `sync`.
 */
async function syncFileSystem(dir: string): Promise<void> {
  let cause: unknown;
  for (const args of [["-f", dir], []]) {
    try {
      const out = await new Deno.Command("sync", { args, stdout: "null", stderr: "null" }).output();
      if (out.success) return;
    } catch (err) {
      // No sync(1) on PATH: the global form cannot run either, so say so below.
      if (!(err instanceof Deno.errors.NotFound)) {
        throw fsError(err, "sync", { what: "cannot run" });
      }
      cause = err;
    }
  }
  throw new BuildError(
    `cannot flush ${dir} to disk: ${cause ? "no sync command on PATH" : "sync failed"}`,
    { cause, path: dir },
  );
}

/** Writes `data` to `path` (a new file) and fsyncs it. */
async function writeDurably(path: string, data: string): Promise<void> {
  const f = await Deno.open(path, { write: true, createNew: true, mode: 0o644 });
  try {
    await f.write(new TextEncoder().encode(data));
    await f.sync();
  } finally {
    f.close();
  }
}

/**
 * Extracts a `.conda` or `.tar.bz2` package into `destDir`, which must not
 * exist. Atomic: built in a temp directory beside it, then renamed; nothing is
 * left behind on error. With `marker`, the entry is flushed to disk and the
 * completion marker written (and fsynced) last, before the rename. `label`
 * names the package in refusals (default: `archivePath`).
 */
export async function extractPackage(
  archivePath: string,
  destDir: string,
  marker?: CacheMarker,
  label?: string,
  tmpDir?: string,
): Promise<void> {
  if (!await statOrNull(archivePath, { role: "store", what: "cannot read the package archive" })) {
    throw new NotFoundError(`package archive ${archivePath} does not exist`, { path: archivePath });
  }
  const parent = dirname(destDir);
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await Deno.makeTempDir({
    dir: tmpDir ?? parent,
    prefix: `.${basename(destDir)}.tmp-`,
  });
  try {
    await extractInto(archivePath, tmp, label);
    if (marker) {
      await syncFileSystem(tmp);
      await writeDurably(join(tmp, CACHE_MARKER), JSON.stringify(marker) + "\n");
    }
    await Deno.chmod(tmp, 0o755);
    await publishDir(tmp, destDir, { durable: marker !== undefined });
  } catch (err) {
    // Best effort: the extraction's own error is what counts; a temp dir left behind is
    // swept by `store gc` (it lies in the owner's tmp or beside the destination).
    await deleteTree(tmp).catch(() => {});
    if (err instanceof Deno.errors.AlreadyExists) {
      throw new BuildError(`cannot extract ${archivePath}: ${destDir} already exists`, {
        cause: err,
        path: destDir,
      });
    }
    throw fsError(err, destDir, { what: `cannot extract ${basename(archivePath)} into` });
  }
}

/** How long {@link extractPackageToCache} waits for another process extracting the same package. */
export const PACKAGE_LOCK_TIMEOUT_MS = 30 * 60 * 1000;

/**
 * Whether `dir` is a complete cache entry for `sha256`: a real directory
 * whose {@link CACHE_MARKER} names this sha256 and {@link EXTRACTOR_FORMAT}.
 */
export function isCompleteEntry(dir: string, sha256: string): boolean {
  const what = "cannot read the package cache entry";
  if (!statOrNullSync(dir, { follow: false, role: "store", what })?.isDirectory) return false;
  const path = join(dir, CACHE_MARKER);
  if (!statOrNullSync(path, { follow: false, role: "store", what })?.isFile) return false;
  let m: Partial<CacheMarker> | null;
  try {
    m = JSON.parse(Deno.readTextFileSync(path));
  } catch (err) {
    // A marker cut short or garbled (a crash while writing it) marks an incomplete entry:
    // it is discarded and extracted again. Failing to read it is an error, not "incomplete".
    if (err instanceof SyntaxError || isAbsent(err)) return false;
    throw fsError(err, path, { what });
  }
  return m?.sha256 === sha256 && m?.format === EXTRACTOR_FORMAT;
}

/**
 * Extracts a package into the store's cache at `layout.pkgs/<sha256>` unless
 * a complete entry (see {@link isCompleteEntry}) is already there, under an
 * exclusive lock (`layout.locks/pkg-<sha256>.lock`) so concurrent processes
 * extract it once; an incomplete, foreign or older-format entry is discarded
 * and re-extracted. Returns the directory. The caller has verified that
 * `archivePath` has this sha256. `label` names the package in refusals (its
 * URL; default: `archivePath`).
 */
export async function extractPackageToCache(
  layout: StoreLayout,
  archivePath: string,
  sha256: string,
  label?: string,
): Promise<string> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new UsageError(`package sha256 ${sha256} is not 64 lowercase hex digits`);
  }
  const dest = join(layout.pkgs, sha256);
  if (isCompleteEntry(dest, sha256)) return (await touchUsed(dest), dest); // last use, for gc
  await withLock(
    join(layout.locks, `pkg-${sha256}.lock`),
    async () => {
      if (isCompleteEntry(dest, sha256)) return;
      const tmp = ownerTmp(layout); // same filesystem; swept by gc if this process dies
      const trash = join(tmp, `.${sha256}.stale-${crypto.randomUUID().slice(0, 8)}`);
      await discardTree(dest, trash);
      await extractPackage(archivePath, dest, { sha256, format: EXTRACTOR_FORMAT }, label, tmp);
    },
    {
      exclusive: true,
      timeoutMs: PACKAGE_LOCK_TIMEOUT_MS,
      what: `package ${basename(archivePath)}`,
    },
  );
  return dest;
}
