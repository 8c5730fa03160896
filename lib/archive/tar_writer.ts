/**
 * A deterministic streaming tar writer (POSIX ustar headers, pax records for
 * long paths, long link targets and large numbers).
 *
 * {@link writeTar} turns a sequence of entries into a stream of large chunks
 * (about `chunkSize` bytes each, 1 MiB by default): headers and bodies are
 * packed into one buffer, and file bodies are read from disk straight into it,
 * so a compressor downstream sees few, large writes. The same entries with the
 * same options always give the same bytes: the writer adds nothing of its own
 * (no times, no host names), pax header names are derived from the path, and
 * the caller chooses the entry order. `TarWriteOptions` can force mtime,
 * uid/gid and uname/gname to fixed values.
 *
 * A file whose size on disk differs from the declared size while it is read
 * is an error (the archive would be corrupt).
 *
 * @module
 */

import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import { BLOCK, encodeHeader, type HeaderFields, paxRecord } from "./tar_header.ts";

/** One entry to write. Exactly one body source is used for files. */
export interface TarWriteEntry {
  /** Relative `/`-separated path (no leading `/`; directories without trailing `/`). */
  path: string;
  /** Entry type (devices and FIFOs are not written). */
  type: "file" | "directory" | "symlink" | "hardlink";
  /** Permission bits; default 0o644 for files, 0o755 for directories, 0o777 for symlinks. */
  mode?: number;
  /** Seconds since the epoch (fractions are dropped); default 0. */
  mtime?: number;
  /** Owner id; default 0. */
  uid?: number;
  /** Group id; default 0. */
  gid?: number;
  /** Owner name; default empty. */
  uname?: string;
  /** Group name; default empty. */
  gname?: string;
  /** Symlink target or hardlink source (an earlier entry's path). */
  linkname?: string;
  /** File body size; required with `file` and `chunks`, checked against `source`. */
  size?: number;
  /** File body held in memory. */
  data?: Uint8Array;
  /** File body streamed from this file on disk. */
  file?: string;
  /** File body streamed from chunks totalling `size` bytes. */
  chunks?: AsyncIterable<Uint8Array>;
}

/** Options of {@link writeTar}; set fields override every entry's own value. */
export interface TarWriteOptions {
  /** Force every entry's mtime. */
  mtime?: number;
  /** Force every entry's uid. */
  uid?: number;
  /** Force every entry's gid. */
  gid?: number;
  /** Force every entry's uname. */
  uname?: string;
  /** Force every entry's gname. */
  gname?: string;
  /** Size of the chunks yielded (default 1 MiB, at least 4 KiB). */
  chunkSize?: number;
}

const encoder = new TextEncoder();
const FLAGS = { file: "0", hardlink: "1", symlink: "2", directory: "5" } as const;
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/** Output buffer that yields full chunks. */
class Out {
  buf: Uint8Array;
  pos = 0;
  constructor(readonly size: number) {
    this.buf = new Uint8Array(size);
  }
  /** Takes the filled part (if any) and starts a fresh buffer. */
  take(): Uint8Array | undefined {
    if (this.pos === 0) return undefined;
    const full = this.pos === this.size ? this.buf : this.buf.subarray(0, this.pos);
    this.buf = new Uint8Array(this.size);
    this.pos = 0;
    return full;
  }
}

/** Splits a path into ustar name/prefix fields, or returns undefined if it does not fit. */
function splitUstar(path: Uint8Array): [Uint8Array, Uint8Array] | undefined {
  if (path.length <= 100) return [path, new Uint8Array(0)];
  if (path.length > 256) return undefined;
  for (let i = Math.max(0, path.length - 101); i < Math.min(156, path.length); i++) {
    if (path[i] === 0x2f && i > 0 && path.length - i - 1 <= 100 && path.length - i - 1 > 0) {
      return [path.subarray(i + 1), path.subarray(0, i)];
    }
  }
  return undefined;
}

/**
 * Writes entries as a tar stream, ending with the two zero blocks. Yields
 * fresh buffers the consumer may keep: every one is `chunkSize` bytes but
 * the last.
 */
export async function* writeTar(
  entries: Iterable<TarWriteEntry> | AsyncIterable<TarWriteEntry>,
  options: TarWriteOptions = {},
): AsyncGenerator<Uint8Array> {
  const size = Math.max(4096, Math.ceil((options.chunkSize ?? 1 << 20) / BLOCK) * BLOCK);
  const out = new Out(size);
  for await (const e of entries) {
    const { header, size: bodySize } = await entryHeader(e, options);
    yield* copyIn(out, header);
    if (e.type === "file") yield* body(out, e, bodySize);
  }
  yield* room(out, 2 * BLOCK);
  out.pos += 2 * BLOCK; // the buffer is zeroed
  const last = out.take();
  if (last) yield last;
}

/**
 * The header blocks of an entry as {@link writeTar} writes them (a pax
 * header first when a field does not fit ustar), and its body size. The
 * body follows, padded with zeros to a multiple of 512 bytes.
 */
export async function entryHeader(
  e: TarWriteEntry,
  options: TarWriteOptions = {},
): Promise<{ header: Uint8Array; size: number }> {
  const h = await resolveEntry(e, options);
  const pax = paxData(h);
  const paxBlocks = pax ? BLOCK + Math.ceil(pax.length / BLOCK) * BLOCK : 0;
  const header = new Uint8Array(paxBlocks + BLOCK);
  if (pax) {
    encodeHeader(header, 0, {
      name: paxName(encoder.encode("PaxHeaders/" + baseName(e.path))),
      prefix: new Uint8Array(0),
      flag: "x",
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: pax.length,
      mtime: Math.min(h.mtime, MAX_OCTAL_11),
      linkname: new Uint8Array(0),
      uname: "",
      gname: "",
    });
    header.set(pax, BLOCK);
  }
  encodeHeader(header, paxBlocks, ustarHeader(h));
  return { header, size: h.size };
}

/** An entry's header fields with the options and defaults applied. */
interface Resolved {
  flag: string;
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** The path as stored (directories with a trailing `/`). */
  path: string;
  pathBytes: Uint8Array;
  linkname: string;
  linkBytes: Uint8Array;
  /** Body size (0 for all but files). */
  size: number;
}

/** Applies the options and defaults to an entry and checks it can be written. */
async function resolveEntry(e: TarWriteEntry, options: TarWriteOptions): Promise<Resolved> {
  const flag = FLAGS[e.type];
  if (!flag) throw new PonchoError(`tar entry ${e.path}: cannot write type ${e.type}`);
  const isLink = e.type === "symlink" || e.type === "hardlink";
  const linkname = isLink ? e.linkname ?? "" : "";
  if (isLink && !linkname) {
    throw new PonchoError(`tar entry ${e.path}: ${e.type} without a link target`);
  }
  let size = 0;
  if (e.type === "file") {
    if (e.data) size = e.data.length;
    else if (e.size !== undefined) size = e.size;
    else if (e.file !== undefined) size = (await Deno.stat(e.file)).size;
    else throw new PonchoError(`tar entry ${e.path}: file without a body or size`);
  }
  const path = e.type === "directory" ? e.path + "/" : e.path;
  return {
    flag,
    mode: e.mode ?? (e.type === "directory" ? 0o755 : e.type === "symlink" ? 0o777 : 0o644),
    mtime: Math.max(0, Math.trunc(options.mtime ?? e.mtime ?? 0)),
    uid: options.uid ?? e.uid ?? 0,
    gid: options.gid ?? e.gid ?? 0,
    uname: options.uname ?? e.uname ?? "",
    gname: options.gname ?? e.gname ?? "",
    path,
    pathBytes: encoder.encode(path),
    linkname,
    linkBytes: encoder.encode(linkname),
    size,
  };
}

/** The pax extended header body an entry needs (fields that ustar cannot hold), if any. */
function paxData(h: Resolved): Uint8Array | undefined {
  const pax: Uint8Array[] = [];
  if (!splitUstar(h.pathBytes)) pax.push(paxRecord("path", h.path));
  if (h.linkBytes.length > 100) pax.push(paxRecord("linkpath", h.linkname));
  if (h.size > MAX_OCTAL_11) pax.push(paxRecord("size", String(h.size)));
  if (h.mtime > MAX_OCTAL_11) pax.push(paxRecord("mtime", String(h.mtime)));
  if (h.uid > MAX_OCTAL_7) pax.push(paxRecord("uid", String(h.uid)));
  if (h.gid > MAX_OCTAL_7) pax.push(paxRecord("gid", String(h.gid)));
  if (encoder.encode(h.uname).length > 31) pax.push(paxRecord("uname", h.uname));
  if (encoder.encode(h.gname).length > 31) pax.push(paxRecord("gname", h.gname));
  if (pax.length === 0) return undefined;
  const data = new Uint8Array(pax.reduce((n, r) => n + r.length, 0));
  let p = 0;
  for (const r of pax) {
    data.set(r, p);
    p += r.length;
  }
  return data;
}

/** The ustar header of an entry (fields too large for it were put in its pax header). */
function ustarHeader(h: Resolved): HeaderFields {
  const [name, prefix] = splitUstar(h.pathBytes) ?? [paxName(h.pathBytes), new Uint8Array(0)];
  return {
    name,
    prefix,
    flag: h.flag,
    mode: h.mode,
    uid: Math.min(h.uid, MAX_OCTAL_7),
    gid: Math.min(h.gid, MAX_OCTAL_7),
    size: Math.min(h.size, MAX_OCTAL_11),
    mtime: Math.min(h.mtime, MAX_OCTAL_11),
    linkname: h.linkBytes.length > 100 ? h.linkBytes.subarray(0, 100) : h.linkBytes,
    uname: encoder.encode(h.uname).length > 31 ? "" : h.uname,
    gname: encoder.encode(h.gname).length > 31 ? "" : h.gname,
  };
}

/** Reserves `n` (<= size) bytes of zeroed space, yielding the full buffer first if needed. */
function* room(out: Out, n: number): Generator<Uint8Array> {
  if (out.pos + n > out.size) {
    const full = out.take();
    if (full) yield full;
  }
}

/** Writes a file entry's body from whichever source it has, padded to a block. */
async function* body(out: Out, e: TarWriteEntry, size: number): AsyncGenerator<Uint8Array> {
  if (e.data) yield* copyIn(out, e.data);
  else if (e.file !== undefined) yield* fileIn(out, e.file, size, e.path);
  else if (e.chunks) {
    let got = 0;
    for await (const c of e.chunks) {
      got += c.length;
      if (got > size) break;
      yield* copyIn(out, c, false);
    }
    if (got !== size) {
      throw new PonchoError(`tar entry ${e.path}: body has ${got} bytes, expected ${size}`);
    }
    yield* pad(out);
  } else throw new PonchoError(`tar entry ${e.path}: file without a body`);
}

/** Copies bytes into the output, then pads to a block boundary unless told not to. */
function* copyIn(out: Out, data: Uint8Array, padAfter = true): Generator<Uint8Array> {
  let off = 0;
  while (off < data.length) {
    if (out.pos === out.size) yield out.take()!;
    const n = Math.min(data.length - off, out.size - out.pos);
    out.buf.set(data.subarray(off, off + n), out.pos);
    out.pos += n;
    off += n;
  }
  if (padAfter) yield* pad(out);
}

/** Advances to the next block boundary (the buffer is already zeroed). */
function* pad(out: Out): Generator<Uint8Array> {
  const rem = out.pos % BLOCK;
  if (rem === 0) return;
  out.pos += BLOCK - rem; // size is a multiple of BLOCK, so this stays in range
  if (out.pos === out.size) yield out.take()!;
}

/** Reads a file's body straight into the output buffer. */
function* fileIn(
  out: Out,
  path: string,
  size: number,
  entryPath: string,
): Generator<Uint8Array> {
  // Synchronous reads: files come from the page cache and promises cost more than the read.
  using f = Deno.openSync(path, { read: true });
  let left = size;
  while (left > 0) {
    if (out.pos === out.size) yield out.take()!;
    const want = Math.min(left, out.size - out.pos);
    const n = f.readSync(out.buf.subarray(out.pos, out.pos + want));
    if (n === null || n === 0) {
      throw new PonchoError(`${path} shrank while being archived as ${entryPath}; retry`);
    }
    out.pos += n;
    left -= n;
  }
  const probe = new Uint8Array(1);
  if (f.readSync(probe) !== null) {
    throw new PonchoError(`${path} grew while being archived as ${entryPath}; retry`);
  }
  yield* pad(out);
}

function baseName(path: string): string {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  return path.slice(i + 1);
}

/** A name that fits the 100-byte field (truncated on a UTF-8 boundary). */
function paxName(bytes: Uint8Array): Uint8Array {
  if (bytes.length <= 100) return bytes;
  let end = 100;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * Builds a write entry for `root/rel` from `lstat` (type, mode, size, mtime,
 * ids, symlink target). The body is streamed from disk when written.
 * Refuses devices, FIFOs and sockets.
 */
export function tarWriteEntryFromPath(root: string, rel: string): Promise<TarWriteEntry> {
  try {
    return Promise.resolve(tarWriteEntryFromPathSync(root, rel));
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Synchronous {@link tarWriteEntryFromPath} (cheaper per file when packing many small files). */
export function tarWriteEntryFromPathSync(root: string, rel: string): TarWriteEntry {
  const full = join(root, rel);
  const st = Deno.lstatSync(full);
  const base = {
    path: rel,
    mode: (st.mode ?? 0o644) & 0o7777,
    mtime: st.mtime ? Math.trunc(st.mtime.getTime() / 1000) : 0,
    uid: st.uid ?? 0,
    gid: st.gid ?? 0,
  };
  if (st.isSymlink) return { ...base, type: "symlink", linkname: Deno.readLinkSync(full) };
  if (st.isDirectory) return { ...base, type: "directory" };
  if (st.isFile) return { ...base, type: "file", size: st.size, file: full };
  throw new PonchoError(`${full} is not a file, directory or symlink; remove it before packing`);
}
