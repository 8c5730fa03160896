/**
 * The fast path for unpacking a tar stream into a directory.
 *
 * File bodies go from the decompressor's buffers straight to `write` (no copy,
 * no per-byte work); file system calls are synchronous because they are cheap
 * and the decompressor keeps its own buffer filled meanwhile. Per file: one
 * open, one write per chunk, one futimens (unless `mtimes: false`), one close.
 *
 * Safety: paths are normalised with `safeRelativePath` (absolute paths and
 * `..` refused), symlink targets must stay inside (`checkSymlinkTarget`)
 * unless `allowEscapingSymlinks` is set, nothing is written through a symlink
 * created by the same archive, hardlinks must point at an earlier file of the
 * same archive, and devices and FIFOs are refused. Modes are applied exactly
 * (umask ignored, setuid/setgid/sticky kept) with a chmod where the open mode
 * would lose bits; directory modes are applied at the end, deepest first, so
 * read-only directories can still be filled.
 *
 * The destination directory must exist; extract into a fresh temp directory
 * and rename it into place so a failure leaves nothing half-written behind.
 *
 * @module
 */

import process from "node:process";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import { checkSymlinkTarget, safeRelativePath } from "./paths.ts";
import { readTar, type TarHeader } from "./tar.ts";

/** Options of {@link extractTar}. */
export interface ExtractOptions {
  /** Names the archive in error messages. */
  name?: string;
  /** Set file mtimes from the archive (default true; keeps `.pyc` files valid). */
  mtimes?: boolean;
  /** Allow absolute symlink targets and targets outside the root (default false). */
  allowEscapingSymlinks?: boolean;
  /** Called for every entry before it is written; return false to skip it. */
  filter?: (header: TarHeader, relPath: string) => boolean | void;
}

/** What {@link extractTar} wrote. */
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

function writeAll(f: Deno.FsFile, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += f.writeSync(data.subarray(off));
}

/** Writes every entry of a tar stream under `dest` (an existing directory). */
export async function extractTar(
  source: AsyncIterable<Uint8Array>,
  dest: string,
  options: ExtractOptions = {},
): Promise<ExtractStats> {
  const name = options.name ?? "archive";
  // Member paths are normal (safeRelativePath), so they are appended to the normalised root.
  const root = join(dest, "/");
  const under = (rel: string) => root + rel;
  const setTimes = options.mtimes ?? true;
  const umask = process.umask();
  const stats: ExtractStats = { files: 0, directories: 0, symlinks: 0, hardlinks: 0, bytes: 0 };
  const dirs = new Set<string>([""]);
  const dirModes = new Map<string, number>();
  const symlinks = new Set<string>();
  const files = new Set<string>();

  const ensureParent = (rel: string) => {
    const slash = rel.lastIndexOf("/");
    const parent = slash < 0 ? "" : rel.slice(0, slash);
    if (dirs.has(parent)) return;
    // Refuse to go through a symlink this archive created (it could point anywhere).
    let p = parent;
    while (p !== "") {
      if (symlinks.has(p)) {
        throw new PonchoError(`${name}: member ${rel} lies under symlink ${p}; refusing`);
      }
      if (files.has(p)) throw new PonchoError(`${name}: member ${rel} lies under file ${p}`);
      const s = p.lastIndexOf("/");
      p = s < 0 ? "" : p.slice(0, s);
    }
    Deno.mkdirSync(under(parent), { recursive: true });
    for (
      let q = parent;
      q !== "" && !dirs.has(q);
      q = q.slice(0, Math.max(0, q.lastIndexOf("/")))
    ) {
      dirs.add(q);
    }
  };
  /** Removes an earlier entry at the same path (later entries win, as in tar). */
  const clear = (rel: string, full: string) => {
    if (files.has(rel) || symlinks.has(rel)) {
      Deno.removeSync(full);
      files.delete(rel);
      symlinks.delete(rel);
    } else if (dirs.has(rel)) {
      throw new PonchoError(`${name}: member ${rel} replaces a directory; refusing`);
    }
  };

  for await (const entry of readTar(source, { name })) {
    const rel = safeRelativePath(entry.path, name);
    if (options.filter && options.filter(entry, rel) === false) continue;
    if (rel === "") continue; // the root directory itself
    const full = under(rel);
    switch (entry.type) {
      case "directory": {
        if (symlinks.has(rel) || files.has(rel)) clear(rel, full);
        ensureParent(rel);
        if (!dirs.has(rel)) {
          Deno.mkdirSync(full, { recursive: true });
          dirs.add(rel);
        }
        dirModes.set(rel, entry.mode);
        stats.directories++;
        break;
      }
      case "file": {
        ensureParent(rel);
        clear(rel, full);
        const mode = entry.mode & 0o7777;
        const f = Deno.openSync(full, { write: true, createNew: true, mode: mode & 0o777 });
        try {
          // Pieces at hand are written without a promise each; the rest is awaited.
          let piece: Uint8Array | undefined;
          while ((piece = entry.nextBuffered()) !== undefined) writeAll(f, piece);
          if (entry.remaining > 0) { for await (const chunk of entry.chunks()) writeAll(f, chunk); }
          if (setTimes) f.utimeSync(entry.mtime, entry.mtime);
        } finally {
          f.close();
        }
        if ((mode & 0o7000) !== 0 || (mode & umask & 0o777) !== 0) Deno.chmodSync(full, mode);
        files.add(rel);
        stats.files++;
        stats.bytes += entry.size;
        break;
      }
      case "symlink": {
        if (!options.allowEscapingSymlinks) checkSymlinkTarget(rel, entry.linkname, name);
        ensureParent(rel);
        clear(rel, full);
        Deno.symlinkSync(entry.linkname, full);
        symlinks.add(rel);
        stats.symlinks++;
        break;
      }
      case "hardlink": {
        const target = safeRelativePath(entry.linkname, name);
        if (!files.has(target)) {
          throw new PonchoError(
            `${name}: hardlink ${rel} -> ${entry.linkname} does not point to an earlier file`,
          );
        }
        ensureParent(rel);
        clear(rel, full);
        Deno.linkSync(under(target), full);
        files.add(rel);
        stats.hardlinks++;
        break;
      }
      default:
        throw new PonchoError(
          `${name}: member ${rel} is a ${entry.type}; archives may not contain devices or FIFOs`,
        );
    }
  }
  const deepestFirst = [...dirModes].sort((a, b) => b[0].length - a[0].length);
  for (const [rel, mode] of deepestFirst) Deno.chmodSync(under(rel), mode & 0o7777);
  return stats;
}
