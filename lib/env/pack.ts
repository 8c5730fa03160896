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
 * The archive is written to a temp file beside the output and renamed into
 * place, so a failure never leaves a corrupt archive.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join, relative } from "node:path";
import { compress, compressionFromPath, writeFileChunks } from "../archive/compress.ts";
import { type TarWriteEntry, writeTar } from "../archive/tar_writer.ts";
import { fsError, PonchoError } from "../errors.ts";
import { replaceFile } from "../fs/atomic.ts";
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
 * Packs `opts.prefix` into `opts.output`.
 *
 * @throws {PonchoError} when the output's extension is not an archive format,
 *   or the prefix holds something that cannot be packed.
 */
export async function packPrefix(opts: PackOptions): Promise<PackResult> {
  const { prefix, output } = opts;
  const compression = compressionFromPath(output);
  if (compression === "bz2") {
    throw new PonchoError(`output ${output}: .tar.bz2 is not written; use .tar.zst or .tar.gz`);
  }
  const needle = new TextEncoder().encode(prefix);
  const pristine = opts.pristine ?? new Map<string, PristineFile>();
  const walked = walkPrefix(prefix);
  const relocations: RelocationRecord[] = [];
  const entries: TarWriteEntry[] = [];
  // A plain tar has no checksum of its own: record one per file (see EnvManifest.digests).
  const digests: Record<string, string> | undefined = compression === "none" ? {} : undefined;
  for (const w of walked) {
    const st = Deno.lstatSync(w.abs);
    const base = {
      path: w.rel,
      mode: (st.mode ?? 0o644) & 0o7777,
      mtime: st.mtime ? st.mtime.getTime() / 1000 : 0,
    };
    if (w.kind === "directory") entries.push({ ...base, type: "directory" });
    else if (w.kind === "symlink") {
      let target = Deno.readLinkSync(w.abs);
      // An absolute link into the prefix would dangle once relocated: make it relative.
      if (target === prefix || target.startsWith(prefix + "/")) {
        target = relative(dirname(w.abs), target) || ".";
      }
      entries.push({ ...base, type: "symlink", linkname: target });
    } else {
      const p = pristine.get(w.rel);
      if (p) {
        relocations.push({ path: w.rel, placeholder: p.placeholder, mode: p.mode });
        entries.push({ ...base, type: "file", file: p.source });
        continue;
      }
      // Scan now (the manifest comes first); the body is streamed from disk later.
      const data = Deno.readFileSync(w.abs);
      const rec = relocationOf(w.rel, data, prefix, needle);
      if (rec) relocations.push(rec);
      else if (digests) digests[w.rel] = createHash("sha256").update(data).digest("hex");
      entries.push({ ...base, type: "file", file: w.abs, size: data.length });
    }
  }
  const manifest: EnvManifest = {
    ...opts.manifest,
    buildPrefix: prefix,
    relocations,
    ...(digests ? { digests } : {}),
  };
  const manifestEntry: TarWriteEntry = {
    path: MANIFEST_PATH,
    type: "file",
    mode: 0o644,
    mtime: Math.trunc(Date.parse(manifest.created) / 1000) || 0,
    data: new TextEncoder().encode(JSON.stringify(manifest, null, 1) + "\n"),
  };
  // The manifest's directory entry must not precede it: it is the first member.
  const all = [
    manifestEntry,
    ...entries.filter((e) => e.path !== ".poncho" || e.type !== "directory"),
  ];
  try {
    const tar = writeTar(all, { uid: 0, gid: 0, uname: "", gname: "" });
    const bytes = await replaceFile(
      output,
      (tmp) => writeFileChunks(tmp, compress(tar, compression, { level: opts.level })),
      { tmpDir: opts.tmpDir },
    );
    return { manifest, members: all.length, bytes };
  } catch (err) {
    throw fsError(err, output, { what: "cannot write the archive" });
  }
}
