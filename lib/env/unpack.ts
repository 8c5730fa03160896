/**
 * Unpacking an environment (a tar archive, or a directory to copy) into an
 * empty temp dir, relocated for its final path, safely.
 *
 * Safety: every member path is checked before anything is written (no
 * absolute paths, no `..`); devices and FIFOs are refused; symlinks are
 * created only at the end, after all files, so no member is ever written
 * through a link from the archive, and each link's target is resolved
 * through the archive's other links and must stay inside the environment;
 * a hardlink must point at a regular file extracted before it. All writes go
 * under the temp dir, which the caller removes on failure. Modes (setuid
 * included) and symlinks are kept; file mtimes are kept (Python's `.pyc`
 * checks depend on them).
 *
 * Relocation is applied to each file's bytes as it is written, from the
 * manifest's records (the archive's first member); archives made by
 * conda-pack (with `bin/conda-unpack` and no manifest) are relocated by
 * their own script after the rename (see `relocate.ts`).
 *
 * @module
 */

import process from "node:process";
import { EXIT_FAILED, EXIT_NOT_FOUND, PonchoError } from "../errors.ts";
import { readTar } from "../archive/tar.ts";
import type { TarEntryType } from "../archive/tar_header.ts";
import { openDecompressed, readFileChunks, readFirstTarMember } from "../archive/compress.ts";
import { checkSymlinkTarget, safeRelativePath } from "../archive/paths.ts";
import { type EnvManifest, MANIFEST_PATH } from "./manifest.ts";
import { CONDA_UNPACK, relocateBytes, relocationMap, runCondaUnpack } from "./relocate.ts";
import { findActivateScripts } from "../exec/activate.ts";
import { writeRunInEnv } from "../exec/run_in_env.ts";

/** One member to unpack: a tar entry, or a file of a directory being copied. */
export interface Member {
  /** Path as stored (checked before use). */
  path: string;
  /** What it is. */
  type: TarEntryType;
  /** Permission bits (`& 0o7777`). */
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
}

/** What {@link unpackMembers} produced. */
export interface UnpackResult {
  /** The manifest, when the first member was one. */
  manifest?: EnvManifest;
  /** Whether the environment carries conda-pack's `bin/conda-unpack`. */
  condaPack: boolean;
  /** Total bytes of regular files. */
  size: number;
  /** Activation scripts, as absolute paths at the final prefix. */
  activateScripts: string[];
  /** For conda-pack archives: runs `conda-unpack` at the final path. */
  finish?: (prefix: string) => Promise<void>;
}

/** Parses and checks a manifest's bytes; `name` names the source in errors. */
export function parseManifest(data: Uint8Array, name: string): EnvManifest {
  let m: EnvManifest;
  try {
    m = JSON.parse(new TextDecoder().decode(data));
  } catch (err) {
    throw new PonchoError(
      `${name}: ${MANIFEST_PATH} is not valid JSON (${(err as Error).message})`,
      EXIT_FAILED,
    );
  }
  if (typeof m !== "object" || m === null || typeof m.id !== "string" || m.id === "") {
    throw new PonchoError(`${name}: ${MANIFEST_PATH} has no "id"; re-create the archive`);
  }
  if (!Array.isArray(m.relocations)) {
    throw new PonchoError(`${name}: ${MANIFEST_PATH} has no "relocations" list`);
  }
  return m;
}

/**
 * Reads the manifest of an archive (its first member) without decompressing
 * the rest. Returns `undefined` when the first member is not the manifest.
 */
export async function readArchiveManifest(path: string): Promise<EnvManifest | undefined> {
  const first = await readFirstTarMember(path, 64 << 20);
  if (!first || safeRelativePath(first.header.path, path) !== MANIFEST_PATH) return undefined;
  return parseManifest(first.data, path);
}

/** Reads the manifest of an environment directory, if it has one. */
export async function readDirManifest(dir: string): Promise<EnvManifest | undefined> {
  let data: Uint8Array;
  try {
    data = await Deno.readFile(`${dir}/${MANIFEST_PATH}`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  return parseManifest(data, dir);
}

/** Hex sha256 of a whole file, streamed (the identity of an archive without a manifest). */
export async function fileDigest(path: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  for await (const chunk of readFileChunks(path)) hash.update(chunk);
  return hash.digest("hex");
}

/** The members of a tar archive (any supported compression, chosen by name). */
export function archiveMembers(path: string): AsyncIterable<Member> {
  return readTar(openDecompressed(path), { name: path });
}

/**
 * The members of a directory tree, manifest first, as an archive of it
 * would hold them (hardlinked files are copied; the state marker of a ready
 * environment is left out).
 */
export async function* directoryMembers(dir: string): AsyncGenerator<Member> {
  const fileMember = (rel: string, info: Deno.FileInfo): Member => ({
    path: rel,
    type: "file",
    mode: (info.mode ?? 0o644) & 0o7777,
    mtime: (info.mtime?.getTime() ?? 0) / 1000,
    size: info.size,
    linkname: "",
    chunks: () => readFileChunks(`${dir}/${rel}`),
    bytes: () => Deno.readFile(`${dir}/${rel}`),
  });
  try {
    const info = await Deno.lstat(`${dir}/${MANIFEST_PATH}`);
    if (info.isFile) yield fileMember(MANIFEST_PATH, info);
  } catch { /* no manifest */ }
  const walk = async function* (rel: string): AsyncGenerator<Member> {
    const abs = rel ? `${dir}/${rel}` : dir;
    const names: string[] = [];
    for await (const e of Deno.readDir(abs)) names.push(e.name);
    names.sort();
    for (const name of names) {
      const child = rel ? `${rel}/${name}` : name;
      if (child === MANIFEST_PATH) continue;
      // The source's own state marker describes the source, not the copy.
      if (child === ".poncho/ready.json") continue;
      const info = await Deno.lstat(`${dir}/${child}`);
      const mode = (info.mode ?? 0o755) & 0o7777;
      const mtime = (info.mtime?.getTime() ?? 0) / 1000;
      const none = () => (async function* () {})();
      const empty = () => Promise.resolve(new Uint8Array(0));
      if (info.isSymlink) {
        const linkname = await Deno.readLink(`${dir}/${child}`);
        yield {
          path: child,
          type: "symlink",
          mode,
          mtime,
          size: 0,
          linkname,
          chunks: none,
          bytes: empty,
        };
      } else if (info.isDirectory) {
        yield {
          path: child,
          type: "directory",
          mode,
          mtime,
          size: 0,
          linkname: "",
          chunks: none,
          bytes: empty,
        };
        yield* walk(child);
      } else if (info.isFile) {
        yield fileMember(child, info);
      } else {
        const type: TarEntryType = info.isFifo
          ? "fifo"
          : info.isCharDevice
          ? "chardev"
          : "blockdev";
        yield { path: child, type, mode, mtime, size: 0, linkname: "", chunks: none, bytes: empty };
      }
    }
  };
  yield* walk("");
}

/**
 * Whether the symlink at `linkPath` -> `target` escapes the root, resolving
 * through the other links of the archive (`links`: path -> target), so
 * chains like `d/x -> ..` plus `y -> d/x/..` are caught.
 */
export function linkEscapes(linkPath: string, target: string, links: Map<string, string>): boolean {
  if (target.startsWith("/")) return true;
  const stack = linkPath.split("/").slice(0, -1);
  const pending = target.split("/");
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (stack.length === 0) return true;
      stack.pop();
      continue;
    }
    stack.push(part);
    const next = links.get(stack.join("/"));
    if (next !== undefined) {
      if (++hops > 64 || next.startsWith("/")) return true; // a loop, or absolute
      stack.pop();
      pending.unshift(...next.split("/"));
    }
  }
  return false;
}

function writeAll(file: Deno.FsFile, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += file.writeSync(data.subarray(off));
}

/**
 * Writes `members` into `root` (an empty directory), relocated for
 * `prefix`, then writes `bin/run_in_env`. `name` names the source in errors.
 *
 * @throws {PonchoError} (exit 3) for unsafe members, failed relocation or I/O errors.
 */
export async function unpackMembers(
  members: AsyncIterable<Member>,
  root: string,
  prefix: string,
  name: string,
): Promise<UnpackResult> {
  const links = new Map<string, string>();
  const files = new Set<string>();
  const dirModes: [string, number, number][] = [];
  const madeDirs = new Set<string>([""]);
  const umask = process.umask() & 0o777;
  let manifest: EnvManifest | undefined;
  let records = relocationMap(undefined);
  let size = 0;
  let first = true;
  let condaPack = false;

  const ensureParent = (rel: string) => {
    const slash = rel.lastIndexOf("/");
    const parent = slash < 0 ? "" : rel.slice(0, slash);
    if (madeDirs.has(parent)) return;
    Deno.mkdirSync(`${root}/${parent}`, { recursive: true, mode: 0o700 });
    for (let p = parent; p && !madeDirs.has(p); p = p.slice(0, Math.max(0, p.lastIndexOf("/")))) {
      madeDirs.add(p);
    }
  };

  try {
    for await (const m of members) {
      const rel = safeRelativePath(m.path, name);
      const isFirst = first;
      first = false;
      if (rel === "") continue; // the root directory entry
      if (rel === ".poncho/ready.json" || (rel === ".poncho" && m.type !== "directory")) {
        throw new PonchoError(`${name}: member ${rel} is reserved for poncho; refusing to extract`);
      }
      if (m.type === "chardev" || m.type === "blockdev" || m.type === "fifo") {
        throw new PonchoError(`${name}: member ${rel} is a device or FIFO; refusing to extract`);
      }
      if (links.has(rel)) links.delete(rel); // a later member replaces an earlier link
      const abs = `${root}/${rel}`;
      switch (m.type) {
        case "directory": {
          ensureParent(rel);
          if (!madeDirs.has(rel)) {
            Deno.mkdirSync(abs, { recursive: true, mode: 0o700 });
            madeDirs.add(rel);
          }
          dirModes.push([abs, m.mode & 0o7777, m.mtime]);
          break;
        }
        case "symlink": {
          checkSymlinkTarget(rel, m.linkname, name);
          links.set(rel, m.linkname);
          break;
        }
        case "hardlink": {
          const target = safeRelativePath(m.linkname, name);
          if (!files.has(target)) {
            throw new PonchoError(
              `${name}: hardlink ${rel} -> ${m.linkname} does not point at a file extracted ` +
                `before it; refusing to extract`,
            );
          }
          ensureParent(rel);
          try {
            Deno.removeSync(abs);
          } catch { /* nothing there */ }
          Deno.linkSync(`${root}/${target}`, abs);
          files.add(rel);
          break;
        }
        case "file": {
          ensureParent(rel);
          const record = records.get(rel);
          const mode = m.mode & 0o7777;
          // A fresh file gets its mode from open; a chmod only where the umask or
          // setuid/setgid/sticky bits need one. An earlier member at the path
          // (a duplicate, or a hardlink) is removed first, so its inode is untouched.
          if (files.has(rel)) Deno.removeSync(abs);
          const file = Deno.openSync(abs, {
            write: true,
            create: true,
            truncate: true,
            mode: mode & 0o777,
          });
          try {
            if (isFirst && rel === MANIFEST_PATH) {
              const data = await m.bytes();
              manifest = parseManifest(data, name);
              records = relocationMap(manifest);
              writeAll(file, data);
            } else if (record) {
              writeAll(file, relocateBytes(await m.bytes(), record, prefix));
            } else {
              let piece: Uint8Array | undefined;
              while ((piece = m.nextBuffered?.()) !== undefined) writeAll(file, piece);
              for await (const chunk of m.chunks()) writeAll(file, chunk);
            }
            file.utimeSync(m.mtime, m.mtime);
          } finally {
            file.close();
          }
          if ((mode & 0o7000) !== 0 || (mode & umask) !== 0) Deno.chmodSync(abs, mode);
          files.add(rel);
          size += m.size;
          if (rel === CONDA_UNPACK) condaPack = true;
          break;
        }
      }
    }

    // Links last: nothing was written through them, and every target stays inside.
    for (const [rel, target] of links) {
      if (linkEscapes(rel, target, links)) {
        throw new PonchoError(
          `${name}: symlink ${rel} -> ${target} points outside the environment; refusing to extract`,
        );
      }
    }
    for (const [rel, target] of links) {
      ensureParent(rel);
      try {
        Deno.symlinkSync(target, `${root}/${rel}`);
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
        throw new PonchoError(
          `${name}: symlink ${rel} collides with another member at that path; refusing to extract`,
        );
      }
    }
    const activateScripts = findActivateScripts(root).map((p) => prefix + p.slice(root.length));
    await writeRunInEnv(root, prefix, activateScripts);
    // Directory modes last (deepest first), so read-only directories were writable until now.
    for (const [abs, mode, mtime] of dirModes.reverse()) {
      Deno.chmodSync(abs, mode);
      try {
        Deno.utimeSync(abs, mtime, mtime);
      } catch { /* best effort */ }
    }
    const finish = condaPack && !manifest ? runCondaUnpack : undefined;
    return { manifest, condaPack, size, activateScripts, finish };
  } catch (err) {
    if (err instanceof PonchoError) throw err;
    throw new PonchoError(`cannot unpack ${name}: ${(err as Error).message}`, EXIT_FAILED, {
      cause: err,
    });
  }
}

/** Unpacks the archive at `path` into `root`, relocated for `prefix`. */
export function unpackArchive(path: string, root: string, prefix: string): Promise<UnpackResult> {
  return unpackMembers(archiveMembers(path), root, prefix, path);
}

/** Copies the environment directory `dir` into `root`, relocated for `prefix`. */
export async function copyEnvDir(dir: string, root: string, prefix: string): Promise<UnpackResult> {
  try {
    await Deno.stat(dir);
  } catch {
    throw new PonchoError(`environment directory ${dir} does not exist`, EXIT_NOT_FOUND);
  }
  return unpackMembers(directoryMembers(dir), root, prefix, dir);
}
