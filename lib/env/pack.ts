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
 * A `.tar.zst` is written as frames of 4 MiB of tar each, compressed in
 * parallel workers (`lib/archive/zstd_compress.ts`): the same prefix and
 * level give the same bytes whatever the number of workers. The archive is
 * written to a temp file beside the output and renamed into place, so a
 * failure never leaves a corrupt archive.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { basename, dirname, join, relative } from "node:path";
import { compress, compressionFromPath, writeFileChunks } from "../archive/compress.ts";
import { type TarWriteEntry, writeTar } from "../archive/tar_writer.ts";
import { ZSTD_FRAME_SIZE, ZstdWorkers } from "../archive/zstd_compress.ts";
import { fsError, PonchoError } from "../errors.ts";
import { removeIfExists } from "../../store/remove.ts";
import { type EnvManifest, MANIFEST_PATH, type RelocationRecord } from "./manifest.ts";
import { indexOfBytes, isBinary } from "./prefix.ts";

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
   * zstd compression workers (default: the cores, at most 8; 0: none). The
   * archive's bytes do not depend on it.
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
      if (st.isSymlink) out.push({ rel, kind: "symlink", abs, size: 0 });
      else if (st.isDirectory) {
        out.push({ rel, kind: "directory", abs, size: 0 });
        visit(rel);
      } else if (st.isFile) out.push({ rel, kind: "file", abs, size: st.size });
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
 * Packs `opts.prefix` into `opts.output`. For `.tar.zst` the compression
 * workers start first, so they load while the prefix is walked and scanned.
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
  using workers = compression === "zst" ? new ZstdWorkers(opts.threads) : undefined;
  const scanned = scanPrefix(opts.prefix, opts.pristine ?? new Map(), compression === "none");
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
  const tar = writeTar(all, { uid: 0, gid: 0, uname: "", gname: "", chunkSize: ZSTD_FRAME_SIZE });
  const bytes = await writeArchive(
    opts,
    compress(tar, compression, { level: opts.level, workers }),
  );
  return { manifest, members: all.length, bytes };
}

/** What {@link scanPrefix} found: the entries to write and the manifest's records. */
interface Scanned {
  entries: TarWriteEntry[];
  relocations: RelocationRecord[];
  /** sha256 of every file without a relocation record (plain tar only). */
  digests?: Record<string, string>;
}

/**
 * Lists the prefix as tar entries and scans every file that is not packed
 * from the package cache for the prefix (the manifest comes first, so this
 * happens before anything is written; bodies are streamed from disk later).
 */
function scanPrefix(
  prefix: string,
  pristine: ReadonlyMap<string, PristineFile>,
  withDigests: boolean,
): Scanned {
  const needle = new TextEncoder().encode(prefix);
  const reader = new ScanBuffer();
  const out: Scanned = { entries: [], relocations: [], ...(withDigests ? { digests: {} } : {}) };
  for (const w of walkPrefix(prefix)) {
    const st = Deno.lstatSync(w.abs);
    const base = {
      path: w.rel,
      mode: (st.mode ?? 0o644) & 0o7777,
      mtime: st.mtime ? st.mtime.getTime() / 1000 : 0,
    };
    if (w.kind === "directory") out.entries.push({ ...base, type: "directory" });
    else if (w.kind === "symlink") {
      out.entries.push({ ...base, type: "symlink", linkname: packedLink(prefix, w.abs) });
    } else {
      const p = pristine.get(w.rel);
      if (p) {
        out.relocations.push({ path: w.rel, placeholder: p.placeholder, mode: p.mode });
        out.entries.push({ ...base, type: "file", file: p.source });
        continue;
      }
      const data = reader.read(w.abs, w.size);
      const rec = relocationOf(w.rel, data, prefix, needle);
      if (rec) out.relocations.push(rec);
      else if (out.digests) out.digests[w.rel] = createHash("sha256").update(data).digest("hex");
      out.entries.push({ ...base, type: "file", file: w.abs, size: data.length });
    }
  }
  return out;
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

/**
 * Reads whole files into one reused buffer (grown as needed): scanning every
 * file of a prefix then allocates nothing per file. A result is valid until
 * the next read.
 */
class ScanBuffer {
  #buf = new Uint8Array(1 << 20);

  /** The bytes of `path`, expected to be about `size` long (read to its end anyway). */
  read(path: string, size: number): Uint8Array {
    if (size + 1 > this.#buf.length) {
      this.#buf = new Uint8Array(Math.max(size + 1, 2 * this.#buf.length));
    }
    using f = Deno.openSync(path, { read: true });
    let filled = 0;
    while (true) {
      if (filled === this.#buf.length) {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
      const n = f.readSync(this.#buf.subarray(filled));
      if (n === null) return this.#buf.subarray(0, filled);
      filled += n;
    }
  }
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
 * `tmpDir`) and renames it into place; on failure the temp file is removed
 * and the error names the output.
 */
async function writeArchive(
  opts: Pick<PackOptions, "output" | "tmpDir">,
  chunks: AsyncIterable<Uint8Array>,
): Promise<number> {
  const tmpName = `.${basename(opts.output)}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const tmp = join(opts.tmpDir ?? dirname(opts.output), tmpName);
  try {
    const bytes = await writeFileChunks(tmp, chunks);
    await Deno.rename(tmp, opts.output);
    return bytes;
  } catch (err) {
    // Best effort: the write's own error is the one to report, not a failed cleanup.
    await removeIfExists(tmp).catch(() => {});
    throw fsError(err, opts.output, { what: "cannot write the archive" });
  }
}
