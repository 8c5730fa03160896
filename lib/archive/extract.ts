/**
 * The one extractor: everything Poncho unpacks (environment archives and
 * directories being copied, the inner tars of `.conda` packages, `.tar.bz2`
 * packages, `http:` tarball sources) is written by {@link extractMembers}.
 *
 * ## Safety model
 *
 * The root must be an existing, empty directory (a fresh temp dir the caller
 * renames into place, or removes on failure), and nothing but this extractor
 * writes into it meanwhile. Then:
 *
 * 1. **Paths**: every member path is normalised (`safeRelativePath`): no
 *    absolute paths, no `..` component, no NUL byte. It names a place under
 *    the root by text alone.
 * 2. **No write through a link, ever**: symlinks are created only at the very
 *    end, after every member of every source has been written, and a member
 *    whose parent path holds a symlink member (made by this archive, or by an
 *    earlier tar of the same package: all sources of one call share one state)
 *    is refused. Parent directories are created one component at a time with
 *    `mkdir`; one that already exists is `lstat`ed and must be a real
 *    directory. Files are created with `O_CREAT|O_EXCL`, which never follows
 *    a link. So every parent of every member is a real directory, and a
 *    member's lexical location is its real location.
 * 3. **Symlink targets**: not empty, not absolute; once all members are known,
 *    each target is resolved from the link's (real) location through all the
 *    other links (`linkEscapes`: `d/x -> ..` then `y -> d/x/..` escapes) and
 *    must stay inside the root. A later member at a link's path replaces it; a
 *    link may not replace a directory.
 * 4. **Hardlinks** only to a regular file this extraction wrote before them
 *    (inside the root by 1 and 2).
 * 5. **Devices, FIFOs and sockets** are refused.
 * 6. Callers add their own rules with `check` (e.g. names reserved for
 *    Poncho), and write their own files in `beforeModes`, where
 *    `assertNoLinkInParents` (paths.ts) keeps them from following a link.
 *
 * A refusal is one line, `<archive>: refusing member <path>: <rule>` (exit
 * 3), thrown before the offending member touches the disk.
 *
 * ## Speed and modes
 *
 * File bodies go from the decompressor's buffers straight to `write` (no
 * copy); file system calls are synchronous (cheap; the decompressor keeps its
 * buffer filled meanwhile). Per file: one open, one write per chunk, one
 * futimens (unless `mtimes: false`), one close; a chmod only where the umask
 * or setuid/setgid/sticky bits need one, so modes are exact. Directory modes
 * and mtimes are applied at the end, deepest first, so read-only directories
 * can still be filled.
 *
 * @module
 */

import { PonchoError } from "../errors.ts";
import {
  checkSymlinkTarget,
  linkEscapes,
  pathProblem,
  refusal,
  safeRelativePath,
  showPath,
} from "./paths.ts";
import { readTar, type TarEntryType } from "./tar_reader.ts";
import { writeAllSync } from "../fs/io.ts";

/**
 * Version of the extractor's output and rules; a package cache entry made by
 * another version is re-extracted (see `lib/conda/extract.ts`).
 */
export const EXTRACTOR_FORMAT = 2;

/** One member to write: a tar entry, or a file of a directory being copied. */
export interface Member {
  /** Path as stored (checked before use). */
  path: string;
  /** What it is. */
  type: TarEntryType;
  /** Permission bits (`& 0o7777` is used). */
  mode: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** Body size (files). */
  size: number;
  /** Symlink target or hardlink source. */
  linkname: string;
  /** Streams the body (files). */
  chunks(): AsyncIterable<Uint8Array>;
  /** The whole body (files). */
  bytes(): Promise<Uint8Array>;
  /**
   * The next piece of the body when it is at hand, without a promise (tar
   * entries); `chunks()` and `bytes()` then return the rest.
   */
  nextBuffered?(): Uint8Array | undefined;
  /** Body bytes not read yet, when known (tar entries). */
  readonly remaining?: number;
}

/** A named sequence of members (an archive, or one tar of a package). */
export interface ExtractSource {
  /** Names the source in refusals (a path, `pkg.conda:info-x.tar.zst`, a URL). */
  name: string;
  /** Its members, in order. */
  members: AsyncIterable<Member>;
}

/** Options of {@link extractMembers}. */
export interface ExtractOptions {
  /** Set file mtimes from the members (default true; keeps `.pyc` files valid). */
  mtimes?: boolean;
  /** Called for every member with its normal path; throw (a refusal) to stop. */
  check?: (rel: string, member: Member, source: string) => void;
  /**
   * Called for every regular file: return bytes to write instead of the body
   * (e.g. relocated), or `undefined` to stream the body as is. `first` is
   * true for the first member of the source.
   */
  body?: (
    rel: string,
    member: Member,
    first: boolean,
  ) => Uint8Array | Promise<Uint8Array> | undefined;
  /** Runs after all members and links are written, before directory modes are applied. */
  beforeModes?: () => void | Promise<void>;
}

/** What {@link extractMembers} wrote. */
export interface ExtractStats {
  /** Regular files written. */
  files: number;
  /** Directories created from entries. */
  directories: number;
  /** Symlinks created. */
  symlinks: number;
  /** Hardlinks created. */
  hardlinks: number;
  /** File bytes written. */
  bytes: number;
}

/** Writes a file member's body to `f`: pieces at hand without a promise each, the rest awaited. */
async function writeBody(f: Deno.FsFile, m: Member): Promise<void> {
  let piece: Uint8Array | undefined;
  if (m.nextBuffered) {
    while ((piece = m.nextBuffered()) !== undefined) writeAllSync(f, piece);
  }
  if (m.remaining === undefined || m.remaining > 0) {
    for await (const chunk of m.chunks()) writeAllSync(f, chunk);
  }
}

/** The state of one {@link extractMembers} call, shared by all its sources. */
class Extraction {
  readonly base: string;
  readonly setTimes: boolean;
  readonly umask = Deno.umask() & 0o777;
  readonly stats: ExtractStats = { files: 0, directories: 0, symlinks: 0, hardlinks: 0, bytes: 0 };
  /** Real directories under the root (each parent of them is one too). */
  readonly dirs = new Set<string>([""]);
  /** Directories from entries: absolute path, mode, mtime (applied at the end). */
  readonly dirModes: [string, number, number][] = [];
  /** Symlinks to create at the end: path -> target, and the source that made each. */
  readonly links = new Map<string, string>();
  readonly linkSource = new Map<string, string>();
  /** Regular files this extraction wrote (hardlink sources). */
  readonly files = new Set<string>();
  /** The source being written (names it in refusals). */
  name = "archive";

  constructor(root: string, readonly options: ExtractOptions) {
    this.base = root.endsWith("/") ? root : `${root}/`;
    this.setTimes = options.mtimes ?? true;
  }

  /** Makes the directory `dir` and its parents for `member`, refusing links and files in the way. */
  ensureDir(dir: string, member: string): void {
    if (this.dirs.has(dir)) return;
    const missing: string[] = [];
    for (let p = dir; !this.dirs.has(p); p = p.slice(0, Math.max(0, p.lastIndexOf("/")))) {
      if (this.links.has(p)) {
        throw refusal(
          this.name,
          member,
          `lies under symlink ${p} (nothing is written through a link)`,
        );
      }
      if (this.files.has(p)) throw refusal(this.name, member, `lies under file ${p}`);
      missing.push(p);
    }
    for (let i = missing.length - 1; i >= 0; i--) {
      const p = missing[i];
      try {
        Deno.mkdirSync(this.base + p);
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
        if (!Deno.lstatSync(this.base + p).isDirectory) {
          throw refusal(this.name, member, `${p} exists and is not a real directory`);
        }
      }
      this.dirs.add(p);
    }
  }

  ensureParent(rel: string): void {
    const slash = rel.lastIndexOf("/");
    this.ensureDir(slash < 0 ? "" : rel.slice(0, slash), rel);
  }

  /** Removes an earlier member at `rel` (later members win, as in tar); never a directory. */
  replace(rel: string): void {
    if (this.dirs.has(rel)) throw refusal(this.name, rel, "replaces a directory");
    if (this.files.delete(rel)) Deno.removeSync(this.base + rel);
    if (this.links.delete(rel)) this.linkSource.delete(rel);
  }

  /** One member: checked, then written (links only recorded; they are made at the end). */
  async member(m: Member, first: boolean): Promise<void> {
    const rel = safeRelativePath(m.path, this.name);
    this.options.check?.(rel, m, this.name);
    if (rel === "") return; // the root directory itself
    switch (m.type) {
      case "file":
        return await this.file(rel, m, first);
      case "directory":
        return this.directory(rel, m);
      case "symlink":
        return this.symlink(rel, m);
      case "hardlink":
        return this.hardlink(rel, m);
      default:
        throw refusal(this.name, rel, `is a ${m.type} (devices, FIFOs and sockets are refused)`);
    }
  }

  /** A regular file: one open (`O_EXCL`), its writes, one futimens, one close; chmod if needed. */
  async file(rel: string, m: Member, first: boolean): Promise<void> {
    this.ensureParent(rel);
    this.replace(rel);
    const full = this.base + rel;
    const mode = m.mode & 0o7777;
    const replaced = this.options.body?.(rel, m, first);
    const f = Deno.openSync(full, { write: true, createNew: true, mode: mode & 0o777 });
    try {
      if (replaced !== undefined) {
        writeAllSync(f, replaced instanceof Uint8Array ? replaced : await replaced);
      } else await writeBody(f, m);
      if (this.setTimes) f.utimeSync(m.mtime, m.mtime);
    } finally {
      f.close();
    }
    if ((mode & 0o7000) !== 0 || (mode & this.umask) !== 0) Deno.chmodSync(full, mode);
    this.files.add(rel);
    this.stats.files++;
    this.stats.bytes += m.size;
  }

  directory(rel: string, m: Member): void {
    if (!this.dirs.has(rel)) {
      this.replace(rel);
      this.ensureDir(rel, rel);
    }
    this.dirModes.push([this.base + rel, m.mode & 0o7777, m.mtime]);
    this.stats.directories++;
  }

  symlink(rel: string, m: Member): void {
    checkSymlinkTarget(rel, m.linkname, this.name);
    this.ensureParent(rel);
    this.replace(rel);
    this.links.set(rel, m.linkname);
    this.linkSource.set(rel, this.name);
  }

  hardlink(rel: string, m: Member): void {
    const problem = pathProblem(m.linkname);
    if (problem) throw refusal(this.name, rel, `hardlink to ${showPath(m.linkname)}: ${problem}`);
    const target = safeRelativePath(m.linkname, this.name);
    if (!this.files.has(target)) {
      throw refusal(
        this.name,
        rel,
        `hardlink to ${m.linkname}, which is not a file extracted before it`,
      );
    }
    this.ensureParent(rel);
    this.replace(rel);
    Deno.linkSync(this.base + target, this.base + rel);
    this.files.add(rel);
    this.stats.hardlinks++;
  }

  /** Links last: nothing was written through them, and every target stays inside. */
  makeLinks(): void {
    for (const [rel, target] of this.links) {
      if (linkEscapes(rel, target, this.links)) {
        throw refusal(
          this.linkSource.get(rel)!,
          rel,
          `symlink -> ${target} points outside the root`,
        );
      }
    }
    for (const [rel, target] of this.links) {
      Deno.symlinkSync(target, this.base + rel);
      this.stats.symlinks++;
    }
  }

  /** Directory modes last (deepest first), so read-only directories were writable until now. */
  applyDirModes(): void {
    this.dirModes.sort((a, b) => (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0));
    for (const [abs, mode, mtime] of this.dirModes) {
      Deno.chmodSync(abs, mode);
      if (!this.setTimes) continue;
      try {
        Deno.utimeSync(abs, mtime, mtime);
      } catch (err) {
        // A directory's mtime is cosmetic (nothing checks it); some file systems refuse to set it.
        if (!(err instanceof Deno.errors.PermissionDenied)) throw err;
      }
    }
  }
}

/**
 * Writes every member of `sources` (in order, sharing one state) under
 * `root`, an existing empty directory, under the safety model of the module
 * documentation.
 *
 * @throws {PonchoError} (exit 3) naming the source, member and rule for a
 *   refused member; I/O errors are passed on. On any error the caller removes
 *   `root`.
 */
export async function extractMembers(
  sources: Iterable<ExtractSource>,
  root: string,
  options: ExtractOptions = {},
): Promise<ExtractStats> {
  for (const _ of Deno.readDirSync(root)) {
    throw new PonchoError(`cannot extract into ${root}: the directory is not empty`);
  }
  const x = new Extraction(root, options);
  for (const source of sources) {
    x.name = source.name;
    let first = true;
    for await (const m of source.members) {
      await x.member(m, first);
      first = false;
    }
  }
  x.makeLinks();
  await options.beforeModes?.();
  x.applyDirModes();
  return x.stats;
}

/** Options of {@link extractTar}. */
export interface ExtractTarOptions extends ExtractOptions {
  /** Names the archive in error messages. */
  name?: string;
}

/**
 * Writes every entry of one tar stream under `dest` (an existing empty
 * directory), refusing members that would land outside it (see the module
 * documentation for the safety model).
 *
 * @example Unpack a gzipped tar; a member climbing out of the root is refused
 * ```ts
 * import assert from "node:assert/strict";
 * import { compress, decompress, extractTar } from "./mod.ts";
 * import { writeTar } from "./tar_writer.ts";
 * const data = new TextEncoder().encode("hi\n");
 * const tgz = (path: string) =>
 *   decompress(compress(writeTar([{ path, type: "file", data }]), "gz"), "gz", "x.tar.gz");
 * const dest = await Deno.makeTempDir();
 * const stats = await extractTar(tgz("bin/hello.txt"), dest, { name: "x.tar.gz" });
 * assert.equal(stats.files, 1);
 * assert.equal(await Deno.readTextFile(`${dest}/bin/hello.txt`), "hi\n");
 * const other = await Deno.makeTempDir();
 * await assert.rejects(extractTar(tgz("../evil"), other, { name: "x.tar.gz" }), /refusing member/);
 * await Deno.remove(dest, { recursive: true });
 * await Deno.remove(other, { recursive: true });
 * ```
 */
export function extractTar(
  source: AsyncIterable<Uint8Array>,
  dest: string,
  options: ExtractTarOptions = {},
): Promise<ExtractStats> {
  const name = options.name ?? "archive";
  return extractMembers([{ name, members: readTar(source, { name }) }], dest, options);
}
