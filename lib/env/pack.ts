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
 * Work is shared between this thread and pack workers (`pack_worker.ts`):
 * first the scan for the build prefix (`pack_scan.ts`), then a `.tar.zst`'s
 * zstd frames of 4 MiB of tar each, every one read from disk and compressed
 * where it is built (`lib/archive/tar_frames.ts`). The same prefix and level
 * give the same bytes whatever the number of workers. The archive is
 * written to a temp file beside the output and renamed into place, so a
 * failure never leaves a corrupt archive.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join, relative } from "node:path";
import {
  compress,
  type Compression,
  compressionFromPath,
  writeFileChunks,
} from "../archive/compress.ts";
import { type TarWriteEntry, writeTar } from "../archive/tar_writer.ts";
import { type WorkerPool, yieldToEventLoop } from "../archive/worker_pool.ts";
import {
  framesInOrder,
  type FrameTask,
  ZSTD_FRAME_SIZE,
  ZstdWorkers,
} from "../archive/zstd_compress.ts";
import { planTarFrames } from "../archive/tar_frames.ts";
import { fsError, PonchoError } from "../errors.ts";
import { replaceFile } from "../fs/atomic.ts";
import { type EnvManifest, MANIFEST_PATH, type RelocationRecord } from "./manifest.ts";
import { PACK_HANDLERS, type ScanJob, scanJob, type ScanReply } from "./pack_scan.ts";
import { indexOfBytes, isBinary } from "./prefix.ts";

/** The pack workers' module: scanning and zstd frames. */
const PACK_WORKER = new URL("./pack_worker.ts", import.meta.url);

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

/** Lists a prefix in sorted order (parents before children). Sockets, FIFOs, devices refused. */
export function walkPrefix(prefix: string): Walked[] {
  const out: Walked[] = [];
  const visit = (relDir: string) => {
    const absDir = relDir ? join(prefix, relDir) : prefix;
    const names = [...Deno.readDirSync(absDir)].map((e) => e.name).sort();
    for (const name of names) {
      const rel = relDir ? `${relDir}/${name}` : name;
      const abs = join(prefix, rel);
      const st = Deno.lstatSync(abs);
      const meta = {
        rel,
        abs,
        mode: (st.mode ?? 0o644) & 0o7777,
        mtime: st.mtime ? st.mtime.getTime() / 1000 : 0,
      };
      if (st.isSymlink) out.push({ ...meta, kind: "symlink", size: 0 });
      else if (st.isDirectory) {
        out.push({ ...meta, kind: "directory", size: 0 });
        visit(rel);
      } else if (st.isFile) out.push({ ...meta, kind: "file", size: st.size });
      else throw new PonchoError(`cannot pack ${abs}: not a file, directory or symlink`);
    }
  };
  visit("");
  return out.filter((w) => !LOCAL_STATE.has(w.rel));
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
 * zstd frame, workers start once the prefix is walked, scan the files for
 * the prefix, then compress the `.tar.zst` frames.
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
  const walked = walkPrefix(opts.prefix);
  // Workers only pay off beyond one frame of files (starting one costs tens of milliseconds).
  const bytes = walked.reduce((n, w) => n + w.size, 0);
  const threads = bytes > ZSTD_FRAME_SIZE ? opts.threads : 0;
  using workers = new ZstdWorkers(threads, PACK_WORKER, PACK_HANDLERS);
  const pristine = opts.pristine ?? new Map();
  const scanned = await scanPrefix(opts.prefix, walked, pristine, compression === "none", workers);
  const manifest: EnvManifest = {
    ...opts.manifest,
    buildPrefix: opts.prefix,
    relocations: scanned.relocations,
    ...(scanned.digests ? { digests: scanned.digests } : {}),
  };
  // The manifest's directory entry must not precede it: it is the first member.
  const all = [
    manifestEntry(manifest),
    ...scanned.entries.filter((e) => e.path !== ".poncho" || e.type !== "directory"),
  ];
  const written = await writeArchive(opts, archiveBytes(all, compression, opts.level, workers));
  return { manifest, members: all.length, bytes: written };
}

/** Owners as every archive has them. */
const OWNERS = { uid: 0, gid: 0, uname: "", gname: "" };

/**
 * The archive's bytes: for zstd, frames of the tar stream that the workers
 * (and this thread) read from disk and compress (`tar_frames.ts`); else the
 * tar stream through the compressor.
 */
function archiveBytes(
  entries: TarWriteEntry[],
  compression: Compression,
  level: number | undefined,
  workers: ZstdWorkers,
): AsyncIterable<Uint8Array> {
  if (compression !== "zst") return compress(writeTar(entries, OWNERS), compression, { level });
  // The manifest (the first entry) in a frame of its own, stored: the archive's identity is
  // read without starting a decoder (`readArchiveFirstMember`, `lib/archive/open.ts`).
  const frames = planTarFrames(entries, OWNERS, ZSTD_FRAME_SIZE, level ?? 3, true);
  const failed = (e: Error) => new PonchoError(e.message);
  async function* tasks(): AsyncGenerator<FrameTask> {
    for await (const job of frames) yield (here) => workers.frame(job, [], here, failed);
  }
  return framesInOrder(tasks(), () => workers);
}

/** What {@link scanPrefix} found: the entries to write and the manifest's records. */
interface Scanned {
  entries: TarWriteEntry[];
  relocations: RelocationRecord[];
  /** sha256 of every file without a relocation record (plain tar only). */
  digests?: Record<string, string>;
}

/** Most bytes (by the walk's sizes) and files in one scan job. */
const SCAN_BATCH_BYTES = 4 << 20;
const SCAN_BATCH_FILES = 512;

/**
 * Lists the prefix as tar entries and scans every file that is not packed
 * from the package cache for the prefix, in batches spread over the pool's
 * workers and this thread (the manifest comes first, so this happens before
 * anything is written; bodies are read again when the archive is).
 */
async function scanPrefix(
  prefix: string,
  walked: Walked[],
  pristine: ReadonlyMap<string, PristineFile>,
  withDigests: boolean,
  pool: WorkerPool,
): Promise<Scanned> {
  const toScan = walked.filter((w) => w.kind === "file" && !pristine.has(w.rel));
  const found = await scanFiles(toScan, new TextEncoder().encode(prefix), withDigests, pool);
  const out: Scanned = { entries: [], relocations: [], ...(withDigests ? { digests: {} } : {}) };
  for (const w of walked) {
    const base = { path: w.rel, mode: w.mode, mtime: w.mtime };
    if (w.kind === "directory") out.entries.push({ ...base, type: "directory" });
    else if (w.kind === "symlink") {
      out.entries.push({ ...base, type: "symlink", linkname: packedLink(prefix, w.abs) });
    } else if (pristine.has(w.rel)) {
      const p = pristine.get(w.rel)!;
      out.relocations.push({ path: w.rel, placeholder: p.placeholder, mode: p.mode });
      out.entries.push({ ...base, type: "file", file: p.source });
    } else {
      const f = found.get(w.rel)!;
      // As relocationOf: .pyc files name their source only for tracebacks.
      if (f.hit && !w.rel.endsWith(".pyc")) {
        out.relocations.push({
          path: w.rel,
          placeholder: prefix,
          mode: f.binary ? "binary" : "text",
        });
      } else if (out.digests) out.digests[w.rel] = f.sha256!;
      out.entries.push({ ...base, type: "file", file: w.abs, size: f.size });
    }
  }
  return out;
}

/** One scanned file. */
interface Found {
  size: number;
  hit: boolean;
  binary: boolean;
  sha256?: string;
}

/**
 * Scans files in batches on the pool; a batch that fails in a worker is
 * scanned again in this thread, so its error is the genuine one (a file
 * removed meanwhile, a permission denied).
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
  if (digests) return foundOf(batches, jobs.map((job) => scanJob(job, sha256Hex).reply));
  const pending = Promise.all(jobs.map(async (job) => {
    const o = await pool.run<ScanReply>(job);
    return "error" in o ? scanJob(job).reply : o.reply;
  }));
  // This thread scans too, taking batches no worker has taken yet; between two, the workers'
  // replies are handled (so they get more).
  while (pool.runOneHere()) await yieldToEventLoop();
  return foundOf(batches, await pending);
}

function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
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
 * Writes the archive's bytes to a temp file beside the output (or in
 * `tmpDir`) and renames it into place (`lib/fs/atomic.ts`: the temp file is
 * removed on failure); the error names the output.
 */
async function writeArchive(
  opts: Pick<PackOptions, "output" | "tmpDir">,
  chunks: AsyncIterable<Uint8Array>,
): Promise<number> {
  try {
    return await replaceFile(opts.output, (tmp) => writeFileChunks(tmp, chunks), {
      tmpDir: opts.tmpDir,
    });
  } catch (err) {
    throw fsError(err, opts.output, { what: "cannot write the archive" });
  }
}
