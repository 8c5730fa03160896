/**
 * Encoding and decoding of 512-byte tar header blocks (POSIX ustar, GNU and
 * the pax extended-header records), shared by the reader and the writer.
 *
 * @module
 */

import { PonchoError } from "../errors.ts";

/** The tar block size. */
export const BLOCK = 512;

/**
 * What a tar entry (or a file of a directory being copied) is. Devices, FIFOs
 * and sockets (directories only: tar has no type for them) are reported so
 * callers can refuse them.
 */
export type TarEntryType =
  | "file"
  | "directory"
  | "symlink"
  | "hardlink"
  | "chardev"
  | "blockdev"
  | "fifo"
  | "socket";

/** The metadata of one tar entry, after pax and GNU long-name records are applied. */
export interface TarHeader {
  /** Path as stored (`/`-separated; a directory's trailing `/` removed). */
  path: string;
  /** Entry type. */
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  /** Owner id. */
  uid: number;
  /** Group id. */
  gid: number;
  /** Owner name (may be empty). */
  uname: string;
  /** Group name (may be empty). */
  gname: string;
  /** Modification time in seconds since the epoch (pax may give fractions). */
  mtime: number;
  /** Body size in bytes (0 for everything but files). */
  size: number;
  /** Symlink target or hardlink source path; empty otherwise. */
  linkname: string;
  /** Device major number (devices only). */
  devmajor: number;
  /** Device minor number (devices only). */
  devminor: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads a NUL-terminated string field. */
function readString(block: Uint8Array, off: number, len: number): string {
  let end = off;
  const max = off + len;
  let ascii = true;
  for (; end < max; end++) {
    const c = block[end];
    if (c === 0) break;
    if (c > 0x7f) ascii = false;
  }
  if (end === off) return "";
  // ASCII (nearly every name) needs no decoder call; the result is the same.
  if (ascii) {
    return String.fromCharCode.apply(null, block.subarray(off, end) as unknown as number[]);
  }
  return decoder.decode(block.subarray(off, end));
}

/** Reads an octal or GNU base-256 numeric field. */
function readNumber(block: Uint8Array, off: number, len: number, field: string): number {
  const first = block[off];
  if (first & 0x80) {
    // GNU base-256: big-endian, first byte's top bit set (0xff means negative).
    if (first === 0xff) throw new PonchoError(`tar header field ${field} is negative`);
    let v = first & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + block[off + i];
    return v;
  }
  let v = 0;
  let i = off;
  const end = off + len;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) i++; // leading spaces/NULs
  for (; i < end; i++) {
    const c = block[i];
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) {
      throw new PonchoError(`tar header field ${field} is not an octal number`);
    }
    v = v * 8 + (c - 0x30);
  }
  return v;
}

/** True if the block is all zeros (an end-of-archive block). */
export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Checks a header's checksum (unsigned, with the signed historic variant accepted). */
export function checksumOk(block: Uint8Array): boolean {
  const stored = readNumber(block, 148, 8, "chksum");
  let unsigned = 8 * 0x20; // the checksum field counts as spaces
  let high = 0; // bytes > 127, for the signed variant
  for (let i = 0; i < 148; i++) {
    const b = block[i];
    unsigned += b;
    if (b > 127) high++;
  }
  for (let i = 156; i < BLOCK; i++) {
    const b = block[i];
    unsigned += b;
    if (b > 127) high++;
  }
  return stored === unsigned || stored === unsigned - 256 * high;
}

/** A raw header: the fields of one block plus its type flag character. */
export interface RawHeader extends TarHeader {
  /** The typeflag byte as a character (`"0"`, `"x"`, `"L"`, ...). */
  flag: string;
}

/**
 * Decodes one header block (the checksum must have been checked). The ustar
 * `prefix` field is joined to the name only for POSIX `ustar\0` headers.
 */
export function decodeHeader(block: Uint8Array): RawHeader {
  let path = readString(block, 0, 100);
  const magic = readString(block, 257, 6);
  const posix = magic === "ustar" && block[262] === 0;
  if (posix && block[345] !== 0) path = readString(block, 345, 155) + "/" + path;
  const flagByte = block[156];
  const flag = flagByte === 0 ? "0" : String.fromCharCode(flagByte);
  const size = readNumber(block, 124, 12, "size");
  return {
    path,
    flag,
    type: "file",
    mode: readNumber(block, 100, 8, "mode") & 0o7777,
    uid: readNumber(block, 108, 8, "uid"),
    gid: readNumber(block, 116, 8, "gid"),
    size,
    mtime: readNumber(block, 136, 12, "mtime"),
    linkname: readString(block, 157, 100),
    uname: readString(block, 265, 32),
    gname: readString(block, 297, 32),
    devmajor: magic.startsWith("ustar") ? readNumber(block, 329, 8, "devmajor") : 0,
    devminor: magic.startsWith("ustar") ? readNumber(block, 337, 8, "devminor") : 0,
  };
}

/** Maps a type flag to an entry type, or `undefined` for flags that are not entries. */
export function entryType(flag: string, path: string): TarEntryType | undefined {
  switch (flag) {
    case "0":
    case "7": // contiguous file
      return path.endsWith("/") ? "directory" : "file"; // v7 directories
    case "1":
      return "hardlink";
    case "2":
      return "symlink";
    case "3":
      return "chardev";
    case "4":
      return "blockdev";
    case "5":
    case "D": // GNU dumpdir
      return "directory";
    case "6":
      return "fifo";
    default:
      return undefined;
  }
}

/**
 * Parses pax extended-header records (`"<len> <key>=<value>\n"`, lengths in
 * bytes) into a map; throws on a malformed record.
 */
export function parsePax(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // NUL padding
    let sp = pos;
    let len = 0;
    while (sp < data.length && data[sp] >= 0x30 && data[sp] <= 0x39) {
      len = len * 10 + data[sp] - 0x30;
      sp++;
    }
    if (sp === pos || data[sp] !== 0x20 || len <= 0 || pos + len > data.length) {
      throw new PonchoError(`malformed pax extended header record at byte ${pos}`);
    }
    const rec = data.subarray(sp + 1, pos + len - 1); // without the trailing "\n"
    const eq = rec.indexOf(0x3d);
    if (eq < 0 || data[pos + len - 1] !== 0x0a) {
      throw new PonchoError(`malformed pax extended header record at byte ${pos}`);
    }
    out.set(decoder.decode(rec.subarray(0, eq)), decoder.decode(rec.subarray(eq + 1)));
    pos += len;
  }
  return out;
}

/** Applies pax records to a header (path, linkpath, size, ids, names, mtime). */
export function applyPax(h: RawHeader, pax: Map<string, string>): void {
  for (const [key, value] of pax) {
    switch (key) {
      case "path":
        h.path = value;
        break;
      case "linkpath":
        h.linkname = value;
        break;
      case "size":
        h.size = paxNumber(key, value);
        break;
      case "uid":
        h.uid = paxNumber(key, value);
        break;
      case "gid":
        h.gid = paxNumber(key, value);
        break;
      case "uname":
        h.uname = value;
        break;
      case "gname":
        h.gname = value;
        break;
      case "mtime":
        h.mtime = paxNumber(key, value);
        break;
    }
  }
}

function paxNumber(key: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw new PonchoError(`pax extended header ${key}=${value} is not a number`);
  }
  return n;
}

/** Encodes one pax record with its self-inclusive decimal length. */
export function paxRecord(key: string, value: string): Uint8Array {
  const body = encoder.encode(` ${key}=${value}\n`);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  const out = new Uint8Array(len);
  out.set(encoder.encode(String(len)), 0);
  out.set(body, len - body.length);
  return out;
}

/** Fields for one header block written by {@link encodeHeader}. */
export interface HeaderFields {
  /** Name field (at most 100 bytes once encoded). */
  name: Uint8Array;
  /** Prefix field (at most 155 bytes), or empty. */
  prefix: Uint8Array;
  /** Type flag character. */
  flag: string;
  /** Permission bits. */
  mode: number;
  /** Owner id (must fit 7 octal digits). */
  uid: number;
  /** Group id (must fit 7 octal digits). */
  gid: number;
  /** Size (must fit 11 octal digits). */
  size: number;
  /** Integer mtime (must fit 11 octal digits). */
  mtime: number;
  /** Link name (at most 100 bytes). */
  linkname: Uint8Array;
  /** Owner name (at most 32 bytes). */
  uname: string;
  /** Group name (at most 32 bytes). */
  gname: string;
}

function writeOctal(block: Uint8Array, off: number, len: number, value: number): void {
  const s = Math.trunc(value).toString(8).padStart(len - 1, "0");
  for (let i = 0; i < len - 1; i++) block[off + i] = s.charCodeAt(i);
  block[off + len - 1] = 0;
}

/** Writes a POSIX ustar header block into `block` (512 zeroed bytes) at `off`. */
export function encodeHeader(block: Uint8Array, off: number, f: HeaderFields): void {
  const b = block.subarray(off, off + BLOCK);
  b.set(f.name, 0);
  writeOctal(b, 100, 8, f.mode & 0o7777);
  writeOctal(b, 108, 8, f.uid);
  writeOctal(b, 116, 8, f.gid);
  writeOctal(b, 124, 12, f.size);
  writeOctal(b, 136, 12, f.mtime);
  b[156] = f.flag.charCodeAt(0);
  b.set(f.linkname, 157);
  b.set([0x75, 0x73, 0x74, 0x61, 0x72, 0, 0x30, 0x30], 257); // "ustar\0" "00"
  b.set(encoder.encode(f.uname).subarray(0, 31), 265);
  b.set(encoder.encode(f.gname).subarray(0, 31), 297);
  writeOctal(b, 329, 8, 0);
  writeOctal(b, 337, 8, 0);
  b.set(f.prefix, 345);
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += b[i];
  writeOctal(b, 148, 7, sum);
  b[155] = 0x20;
}
