/**
 * Packing an installed prefix into a relocatable archive: the manifest
 * first, then every directory, file and symlink in sorted order, owners
 * normalised, mtimes kept (Python validates `.pyc` files against them).
 *
 * Files linked from conda packages with a prefix placeholder are packed
 * from the package cache's pristine copy, so they still hold the package's
 * own (long) placeholder: a binary can later be relocated to any path up to
 * that length. Every other file that contains the build prefix (pip
 * installs, entry points, generated scripts) is recorded with the build
 * prefix as its placeholder, in text or binary mode. Unpacking relocates from
 * these records without scanning.
 *
 * Work is shared between this thread and pack workers (`pack_worker.ts`).
 * A `.tar.zst` is made in one pass (`pack_frames.ts`): zstd frames of 4 MiB
 * of tar each, every one read from disk, scanned for the build prefix
 * (`pack_scan.ts`) and compressed where it is built
 * (`lib/archive/tar_frames.ts`); the manifest's frame, made last from the
 * scans, is written first. A `.tar.gz` or `.tar` scans the files first, then
 * writes. The same prefix and level give the same bytes whatever the number
 * of workers. The archive is written to a temp file beside the output and
 * renamed into place, so a failure never leaves a corrupt archive.
 *
 * @module
 */

import { dirname, join, relative } from "node:path";
import { compress, compressionFromPath, writeFileChunks } from "../archive/compress.ts";
import { type TarWriteEntry, writeTar } from "../archive/tar_writer.ts";
import { type WorkerPool, yieldToEventLoop } from "../archive/worker_pool.ts";
import { ZSTD_FRAME_SIZE, ZstdWorkers } from "../archive/zstd_compress.ts";
import { fsError, PonchoError } from "../errors.ts";
import { replaceFile } from "../fs/atomic.ts";
import { type EnvManifest, MANIFEST_PATH, type RelocationRecord } from "./manifest.ts";
import { PACK_POOL, writeZstdPack } from "./pack_frames.ts";
import {
  type FrameScans,
  PACK_HANDLERS,
  type ScanJob,
  scanJob,
  type ScanReply,
} from "./pack_scan.ts";
import { indexOfBytes, isBinary } from "./prefix.ts";
import { bytesSha256 } from "../sha256.ts";
import { moduleUrl } from "../lazy.ts";

/** The pack workers' module: scanning and zstd frames. */
const PACK_WORKER = moduleUrl("./pack_worker.ts", import.meta.url);

/** A file whose archived body comes from a pristine package-cache copy. */
export interface PristineFile {
  /** Absolute path of the package-cache file (holding the placeholder). */
  source: string;
  /** The placeholder it holds. */
  placeholder: string;
  /** How it is rewritten. */
  mode: "text" | "binary";
}

/** Options of {@link packPrefix}. */
export interface PackOptions {
  /** The installed environment. */
  prefix: string;
  /** The archive to write (`.tar.zst`, `.tar.gz`, `.tgz` or `.tar`). */
  output: string;
  /** The manifest, without `relocations` (computed here) and `buildPrefix` (= prefix). */
  manifest: Omit<EnvManifest, "relocations" | "buildPrefix">;
  /** Files to pack from the package cache, by path relative to the prefix. */
  pristine?: Map<string, PristineFile>;
  /** zstd or gzip level. */
  level?: number;
  /** Directory for the temp file (default: beside the output; must be on its filesystem). */
  tmpDir?: string;
  /**
   * Workers that scan files and build zstd frames beside this thread
   * (default: one less than the cores, 1 to 8; 0, or files of at most one
   * frame: none). The archive's bytes do not depend on it.
   */
  threads?: number;
}

/** What {@link packPrefix} wrote. */
export interface PackResult {
  /** The manifest as written (with relocations). */
  manifest: EnvManifest;
  /** Number of archive members, manifest included. */
  members: number;
  /** Size of the archive in bytes. */
  bytes: number;
}

/** Paths inside `.poncho/` that belong to one unpacked copy, never to an archive. */
const LOCAL_STATE = new Set([MANIFEST_PATH, ".poncho/ready.json"]);

interface Walked {
  rel: string;
  kind: "file" | "directory" | "symlink";
  abs: string;
  /** Size of a regular file, else 0. */
  size: number;
  /** Permission bits. */
  mode: number;
  /** Modification time in seconds (with fractions), 0 when unknown. */
  mtime: number;
}

/**
 * Lists a prefix in sorted order (parents before children). Sockets, FIFOs,
 * devices refused. `seen` is called with each entry as the walk finds it.
 */
export function walkPrefix(prefix: string, seen?: (w: Walked) => void): Walked[] {
  const out: Walked[] = [];
  walkInto(prefix, "", out, seen);
  return out;
}

function walkInto(prefix: string, relDir: string, out: Walked[], seen?: (w: Walked) => void) {
  const absDir = relDir ? join(prefix, relDir) : prefix;
  const names = [...Deno.readDirSync(absDir)].map((e) => e.name).sort();
  for (const name of names) {
    const rel = relDir ? `${relDir}/${name}` : name;
    const abs = join(prefix, rel);
    const st = Deno.lstatSync(abs);
    if (!st.isSymlink && !st.isDirectory && !st.isFile) {
      throw new PonchoError(`cannot pack ${abs}: not a file, directory or symlink`);
    }
    const w: Walked = {
      rel,
      abs,
      kind: st.isSymlink ? "symlink" : st.isDirectory ? "directory" : "file",
      size: st.isFile ? st.size : 0,
      mode: (st.mode ?? 0o644) & 0o7777,
      mtime: st.mtime ? st.mtime.getTime() / 1000 : 0,
    };
    if (!LOCAL_STATE.has(rel)) {
      out.push(w);
      seen?.(w);
    }
    if (w.kind === "directory") walkInto(prefix, rel, out, seen);
  }
}

/**
 * The relocation record of a file of `prefix` that holds the prefix, or
 * `null` (also for `.pyc` files: they name their source only for tracebacks).
 */
export function relocationOf(
  rel: string,
  data: Uint8Array,
  prefix: string,
  needle: Uint8Array = new TextEncoder().encode(prefix),
): RelocationRecord | null {
  if (rel.endsWith(".pyc") || indexOfBytes(data, needle) < 0) return null;
  return { path: rel, placeholder: prefix, mode: isBinary(data) ? "binary" : "text" };
}

/**
 * The manifest of an environment installed where it lives (no archive): every
 * file holding the prefix is recorded with the prefix as its placeholder, as
 * it is on disk. Files linked with a placeholder (`placeholders`, from
 * conda-meta) are recorded without reading them, and `unchanged` files
 * (hardlinked from the package cache as they are) are never read either.
 * Also returns the total size of the regular files.
 */
export function prefixManifest(
  prefix: string,
  manifest: Omit<EnvManifest, "relocations" | "buildPrefix">,
  placeholders: ReadonlyMap<string, { mode: "text" | "binary" }>,
  unchanged: ReadonlySet<string>,
): { manifest: EnvManifest; size: number } {
  const needle = new TextEncoder().encode(prefix);
  const relocations: RelocationRecord[] = [];
  let size = 0;
  for (const w of walkPrefix(prefix)) {
    size += w.size;
    if (w.kind !== "file" || unchanged.has(w.rel)) continue;
    const p = placeholders.get(w.rel);
    if (p) {
      relocations.push({ path: w.rel, placeholder: prefix, mode: p.mode });
      continue;
    }
    const rec = relocationOf(w.rel, Deno.readFileSync(w.abs), prefix, needle);
    if (rec) relocations.push(rec);
  }
  return { manifest: { ...manifest, buildPrefix: prefix, relocations }, size };
}

/**
 * Packs `opts.prefix` into `opts.output`. When its files hold more than one
 * zstd frame, workers start during the walk (as soon as that is known, so
 * they load meanwhile). A `.tar.zst` is made in one pass over the files
 * (`pack_frames.ts`); a `.tar.gz` or `.tar` scans them first, then writes.
 *
 * @throws {PonchoError} when the output's extension is not an archive format,
 *   or the prefix holds something that cannot be packed.
 */
export async function packPrefix(opts: PackOptions): Promise<PackResult> {
  const compression = compressionFromPath(opts.output);
  if (compression === "bz2") {
    throw new PonchoError(
      `output ${opts.output}: .tar.bz2 is not written; use .tar.zst or .tar.gz`,
    );
  }
  const { walked, workers } = walkStartingWorkers(opts.prefix, opts.threads);
  using _ = workers;
  const pristine = opts.pristine ?? new Map();
  if (compression === "zst") return await packZstd(opts, walked, pristine, workers);
  const withDigests = compression === "none";
  const toScan = walked.filter((w) => w.kind === "file" && !pristine.has(w.rel));
  const needle = new TextEncoder().encode(opts.prefix);
  const found = await scanFiles(toScan, needle, withDigests, workers);
  const entries = membersOf(opts.prefix, walked, pristine, (w) => found.get(w.rel)!.size);
  const manifest = manifestOf(opts, walked, pristine, (rel) => found.get(rel)!, withDigests);
  const all = [manifestEntry(manifest), ...entries];
  const level = opts.level;
  const chunks = compress(writeTar(all, OWNERS), compression, { level });
  const bytes = await writeArchive(opts, (tmp) => writeFileChunks(tmp, chunks));
  return { manifest, members: all.length, bytes };
}

/**
 * Walks the prefix; once its files are known to hold more than one zstd
 * frame, starts the pack workers (starting one costs tens of milliseconds:
 * a smaller prefix gets none), so they load while the walk goes on.
 */
function walkStartingWorkers(
  prefix: string,
  threads: number | undefined,
): { walked: Walked[]; workers: ZstdWorkers } {
  let workers: ZstdWorkers | undefined;
  let bytes = 0;
  try {
    const walked = walkPrefix(prefix, (w) => {
      bytes += w.size;
      if (!workers && bytes > ZSTD_FRAME_SIZE) {
        workers = new ZstdWorkers(threads, PACK_WORKER, PACK_HANDLERS, PACK_POOL);
      }
    });
    return { walked, workers: workers ?? new ZstdWorkers(0, PACK_WORKER, PACK_HANDLERS) };
  } catch (err) {
    workers?.close();
    throw err;
  }
}

/** A `.tar.zst` in one pass over the files: frames first, the manifest's last, written first. */
async function packZstd(
  opts: PackOptions,
  walked: Walked[],
  pristine: ReadonlyMap<string, PristineFile>,
  workers: ZstdWorkers,
): Promise<PackResult> {
  const entries = membersOf(opts.prefix, walked, pristine, (w) => w.size);
  // As relocationOf: .pyc files name their source only for tracebacks, so they are not scanned.
  const scan = new Set(
    walked.filter((w) => w.kind === "file" && !pristine.has(w.rel) && !w.rel.endsWith(".pyc"))
      .map((w) => w.rel),
  );
  let manifest: EnvManifest | undefined;
  const first = (scans: FrameScans) => {
    const none = { hit: false, binary: false };
    manifest = manifestOf(opts, walked, pristine, (rel) => scans.found(rel) ?? none, false);
    return manifestEntry(manifest);
  };
  const needle = new TextEncoder().encode(opts.prefix);
  const level = opts.level ?? 3;
  const input = { entries, scan, needle, options: OWNERS, level, workers, first };
  const bytes = await writeArchive(opts, (tmp) => writeZstdPack(tmp, input));
  return { manifest: manifest!, members: entries.length + 1, bytes };
}

/** Owners as every archive has them. */
const OWNERS = { uid: 0, gid: 0, uname: "", gname: "" };

/**
 * The archive's members after the manifest, in walk order (the `.poncho`
 * directory left out: it must not precede the manifest). Files from the
 * package cache are packed from their pristine copy; `sizeOf` gives the
 * size of the others.
 */
function membersOf(
  prefix: string,
  walked: Walked[],
  pristine: ReadonlyMap<string, PristineFile>,
  sizeOf: (w: Walked) => number,
): TarWriteEntry[] {
  const out: TarWriteEntry[] = [];
  for (const w of walked) {
    const base = { path: w.rel, mode: w.mode, mtime: w.mtime };
    if (w.kind === "directory") {
      if (w.rel !== ".poncho") out.push({ ...base, type: "directory" });
    } else if (w.kind === "symlink") {
      out.push({ ...base, type: "symlink", linkname: packedLink(prefix, w.abs) });
    } else if (pristine.has(w.rel)) {
      out.push({ ...base, type: "file", file: pristine.get(w.rel)!.source });
    } else out.push({ ...base, type: "file", file: w.abs, size: sizeOf(w) });
  }
  return out;
}

/** A scanned file: whether it holds the prefix, whether it is binary, its digest (plain tar). */
interface Hit {
  hit: boolean;
  binary: boolean;
  sha256?: string;
}

/**
 * The manifest: a relocation record for every file from the package cache
 * (its placeholder) and every scanned file holding the prefix (but `.pyc`
 * files), in walk order; with `withDigests`, the digest of every other file.
 */
function manifestOf(
  opts: PackOptions,
  walked: Walked[],
  pristine: ReadonlyMap<string, PristineFile>,
  found: (rel: string) => Hit,
  withDigests: boolean,
): EnvManifest {
  const relocations: RelocationRecord[] = [];
  const digests: Record<string, string> = {};
  for (const w of walked) {
    if (w.kind !== "file") continue;
    const p = pristine.get(w.rel);
    if (p) {
      relocations.push({ path: w.rel, placeholder: p.placeholder, mode: p.mode });
      continue;
    }
    const f = found(w.rel);
    // As relocationOf: .pyc files name their source only for tracebacks.
    if (f.hit && !w.rel.endsWith(".pyc")) {
      relocations.push({
        path: w.rel,
        placeholder: opts.prefix,
        mode: f.binary ? "binary" : "text",
      });
    } else if (withDigests) digests[w.rel] = f.sha256!;
  }
  return {
    ...opts.manifest,
    buildPrefix: opts.prefix,
    relocations,
    ...(withDigests ? { digests } : {}),
  };
}

/** One scanned file. */
interface Found extends Hit {
  size: number;
}

/** Most bytes (by the walk's sizes) and files in one scan job. */
const SCAN_BATCH_BYTES = 4 << 20;
const SCAN_BATCH_FILES = 512;

/**
 * Scans files for the prefix in batches on the pool and this thread (a
 * `.tar.gz` or `.tar`: its manifest comes first, so before anything is
 * written; bodies are read again when the archive is). A batch that fails
 * in a worker is scanned again in this thread, so its error is the genuine
 * one (a file removed meanwhile, a permission denied).
 */
async function scanFiles(
  files: Walked[],
  needle: Uint8Array,
  digests: boolean,
  pool: WorkerPool,
): Promise<Map<string, Found>> {
  const batches: Walked[][] = [];
  let bytes = Infinity;
  for (const w of files) {
    if (bytes >= SCAN_BATCH_BYTES || batches[batches.length - 1].length >= SCAN_BATCH_FILES) {
      batches.push([]);
      bytes = 0;
    }
    batches[batches.length - 1].push(w);
    bytes += w.size;
  }
  const jobs = batches.map((batch): ScanJob => ({
    type: "scan",
    paths: batch.map((w) => w.abs),
    sizes: batch.map((w) => w.size),
    needle,
  }));
  // A plain tar's digests are computed in this thread (the workers load no hashing code).
  if (digests) return foundOf(batches, jobs.map((job) => scanJob(job, bytesSha256).reply));
  const pending = Promise.all(jobs.map(async (job) => {
    const o = await pool.run<ScanReply>(job);
    return "error" in o ? scanJob(job).reply : o.reply;
  }));
  // This thread scans too, from the newest batch back, taking those no worker has started; between
  // two, the workers' replies are handled, so that the jobs the pool holds back (PACK_POOL gives a
  // worker 32 at most) go out to them instead of all falling to this thread.
  for (let more = true; more;) {
    more = pool.runOneHere(true) || pool.stealOne();
    if (more) await yieldToEventLoop();
  }
  return foundOf(batches, await pending);
}

/** The scan replies by file. */
function foundOf(batches: Walked[][], replies: ScanReply[]): Map<string, Found> {
  const found = new Map<string, Found>();
  batches.forEach((batch, b) => {
    const r = replies[b];
    batch.forEach((w, i) => {
      found.set(w.rel, {
        size: r.sizes[i],
        hit: r.hits[i],
        binary: r.binary[i],
        sha256: r.digests?.[i],
      });
    });
  });
  return found;
}

/** A symlink's target as packed: an absolute link into the prefix is made relative. */
function packedLink(prefix: string, abs: string): string {
  const target = Deno.readLinkSync(abs);
  // An absolute link into the prefix would dangle once relocated.
  if (target === prefix || target.startsWith(prefix + "/")) {
    return relative(dirname(abs), target) || ".";
  }
  return target;
}

/** The manifest as the archive's first member. */
function manifestEntry(manifest: EnvManifest): TarWriteEntry {
  return {
    path: MANIFEST_PATH,
    type: "file",
    mode: 0o644,
    mtime: Math.trunc(Date.parse(manifest.created) / 1000) || 0,
    data: new TextEncoder().encode(JSON.stringify(manifest, null, 1) + "\n"),
  };
}

/**
 * Writes the archive (`fill` makes it at the path it is given) to a temp
 * file beside the output (or in `tmpDir`) and renames it into place (`lib/fs/atomic.ts`: the temp file is
 * removed on failure); the error names the output.
 */
async function writeArchive(
  opts: Pick<PackOptions, "output" | "tmpDir">,
  fill: (tmp: string) => Promise<number>,
): Promise<number> {
  try {
    return await replaceFile(opts.output, fill, { tmpDir: opts.tmpDir });
  } catch (err) {
    throw fsError(err, opts.output, { what: "cannot write the archive" });
  }
}
