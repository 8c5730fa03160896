/**
 * A small zip reader for `.conda` packages: reads the central directory
 * (zip64 included) and streams members straight from the file. `.conda`
 * members are normally STORED (their content, `*.tar.zst`, is compressed on
 * its own); DEFLATE members, as some re-zipped packages hold, are inflated
 * (rattler reads them too). Other methods are refused.
 *
 * @module
 */

import * as zlib from "node:zlib";
import { CorruptError, PonchoError } from "../errors.ts";

/** One member from the central directory. */
export interface ZipMember {
  /** Member name as stored. */
  name: string;
  /** Compression method (0 = stored). */
  method: number;
  /** Bytes in the archive. */
  compressedSize: number;
  /** Bytes once extracted. */
  size: number;
  /** CRC-32 of the content. */
  crc32: number;
  /** Offset of the member's local header. */
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CDH_SIG = 0x02014b50;
const LFH_SIG = 0x04034b50;

async function readAt(f: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  await f.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = await f.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}

function u64(v: DataView, off: number): number {
  return Number(v.getBigUint64(off, true));
}

/** Where the central directory lies and how many entries it holds. */
interface DirectoryBounds {
  count: number;
  size: number;
  offset: number;
}

/** A damaged-zip error naming the file and which structure is wrong. */
function badZip(path: string, what: string): CorruptError {
  return new CorruptError(`${path} is not a valid zip (${what}); re-download it`, { path });
}

/** Finds the end-of-central-directory record (and its zip64 form) at the end of the file. */
async function directoryBounds(
  f: Deno.FsFile,
  path: string,
  size: number,
): Promise<DirectoryBounds> {
  const tailLen = Math.min(size, 22 + 0xffff);
  const tail = await readAt(f, size - tailLen, tailLen);
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.length);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw badZip(path, "no end of central directory; truncated?");
  const bounds = {
    count: tv.getUint16(eocd + 10, true),
    size: tv.getUint32(eocd + 12, true),
    offset: tv.getUint32(eocd + 16, true),
  };
  if (bounds.count !== 0xffff && bounds.size !== 0xffffffff && bounds.offset !== 0xffffffff) {
    return bounds;
  }
  const loc = eocd - 20;
  if (loc < 0 || tv.getUint32(loc, true) !== EOCD64_LOCATOR_SIG) {
    throw badZip(path, "zip64 locator");
  }
  const rec = await readAt(f, u64(tv, loc + 8), 56);
  const rv = new DataView(rec.buffer, rec.byteOffset, rec.length);
  if (rec.length < 56 || rv.getUint32(0, true) !== EOCD64_SIG) throw badZip(path, "zip64 record");
  return { count: u64(rv, 32), size: u64(rv, 40), offset: u64(rv, 48) };
}

/** Applies a zip64 extra field: the 0xffffffff fields, in order size, compressed size, offset. */
function applyZip64Extra(m: ZipMember, v: DataView, start: number, end: number): void {
  for (let e = start; e + 4 <= end; e += 4 + v.getUint16(e + 2, true)) {
    if (v.getUint16(e, true) !== 0x0001) continue;
    let q = e + 4;
    if (m.size === 0xffffffff) (m.size = u64(v, q)), (q += 8);
    if (m.compressedSize === 0xffffffff) (m.compressedSize = u64(v, q)), (q += 8);
    if (m.localHeaderOffset === 0xffffffff) m.localHeaderOffset = u64(v, q);
  }
}

/** Parses `count` central directory headers from `cd`. */
function parseDirectory(cd: Uint8Array, count: number, path: string): ZipMember[] {
  const v = new DataView(cd.buffer, cd.byteOffset, cd.length);
  const members: ZipMember[] = [];
  const decoder = new TextDecoder();
  let p = 0;
  for (let n = 0; n < count; n++) {
    if (p + 46 > cd.length || v.getUint32(p, true) !== CDH_SIG) {
      throw badZip(path, "central directory");
    }
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    const m: ZipMember = {
      name: decoder.decode(cd.subarray(p + 46, p + 46 + nameLen)),
      method: v.getUint16(p + 10, true),
      crc32: v.getUint32(p + 16, true),
      compressedSize: v.getUint32(p + 20, true),
      size: v.getUint32(p + 24, true),
      localHeaderOffset: v.getUint32(p + 42, true),
    };
    const extraEnd = p + 46 + nameLen + extraLen;
    applyZip64Extra(m, v, p + 46 + nameLen, extraEnd);
    members.push(m);
    p = extraEnd + commentLen;
  }
  return members;
}

/** Reads the central directory of the zip file at `path`. */
export async function readZipDirectory(path: string): Promise<ZipMember[]> {
  using f = await Deno.open(path, { read: true });
  const size = (await f.stat()).size;
  const bounds = await directoryBounds(f, path, size);
  if (bounds.offset + bounds.size > size) {
    throw badZip(path, "central directory past the end; truncated?");
  }
  return parseDirectory(await readAt(f, bounds.offset, bounds.size), bounds.count, path);
}

/** Zip compression methods {@link readZipMember} reads. */
const STORED = 0;
const DEFLATE = 8;

/**
 * Streams a member's bytes (STORED, or DEFLATE inflated) from the zip at
 * `path`, checking its CRC-32 at the end. Throws a {@link PonchoError} for
 * other compression methods, truncation or a CRC mismatch.
 */
export async function* readZipMember(
  path: string,
  member: ZipMember,
  chunkSize = 1 << 20,
): AsyncGenerator<Uint8Array> {
  if (member.method !== STORED && member.method !== DEFLATE) {
    throw new PonchoError(
      `${path}: member ${member.name} uses zip compression method ${member.method}; ` +
        `only stored and deflate are read; re-create the package`,
    );
  }
  const raw = rawMember(path, member, chunkSize);
  const body = member.method === STORED ? raw : inflateRaw(raw, path, member.name);
  let crc = 0;
  for await (const buf of body) {
    crc = zlib.crc32(buf, crc);
    yield buf;
  }
  if (crc >>> 0 !== member.crc32 >>> 0) {
    throw new CorruptError(`${path}: member ${member.name} fails its CRC check; re-download it`);
  }
}

/** Inflates a raw DEFLATE stream chunk by chunk. */
async function* inflateRaw(
  chunks: AsyncIterable<Uint8Array<ArrayBuffer>>,
  path: string,
  name: string,
): AsyncGenerator<Uint8Array> {
  const stream = ReadableStream.from(chunks).pipeThrough(
    new DecompressionStream("deflate-raw"),
  );
  try {
    for await (const out of stream) yield out;
  } catch (err) {
    if (err instanceof PonchoError) throw err;
    throw new CorruptError(`${path}: member ${name} is not valid deflate data; re-download it`);
  }
}

/** The member's bytes as stored in the archive (compressed or not). */
async function* rawMember(
  path: string,
  member: ZipMember,
  chunkSize: number,
): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  using f = await Deno.open(path, { read: true });
  const lfh = await readAt(f, member.localHeaderOffset, 30);
  const lv = new DataView(lfh.buffer, lfh.byteOffset, lfh.length);
  if (lfh.length < 30 || lv.getUint32(0, true) !== LFH_SIG) {
    throw new CorruptError(`${path}: bad local header for ${member.name}; re-download it`);
  }
  const start = member.localHeaderOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
  await f.seek(start, Deno.SeekMode.Start);
  let left = member.compressedSize;
  while (left > 0) {
    const buf = new Uint8Array(Math.min(chunkSize, left));
    let got = 0;
    while (got < buf.length) {
      const n = await f.read(buf.subarray(got));
      if (n === null) throw new CorruptError(`${path}: member ${member.name} is truncated`);
      got += n;
    }
    left -= buf.length;
    yield buf;
  }
}
