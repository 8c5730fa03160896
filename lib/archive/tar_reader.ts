/**
 * A streaming tar reader for POSIX ustar, GNU (`L`/`K` long names, base-256
 * numbers) and pax (`x`/`g` records) archives. `tar.ts` re-exports it with
 * the writer (`tar_writer.ts`); code that only reads imports it from here,
 * so that it does not load the writer's `node:path`.
 *
 * {@link readTar} yields one {@link TarEntry} at a time. An entry's body is
 * streamed from the source: read it with `entry.chunks()` (views, no copy) or
 * `entry.bytes()` (one buffer, for small bodies), or ignore it. Whatever the
 * consumer leaves unread is skipped when it asks for the next entry, so an
 * entry's body is only readable until then.
 *
 * Errors are {@link PonchoError}s: a bad header checksum, a body cut short,
 * or a stream that ends without the end-of-archive marker (two zero blocks;
 * a lone zero block before the end is accepted like GNU tar does). Sparse
 * files and unknown entry types are refused. Paths are returned as stored;
 * use `safeRelativePath` before touching the file system.
 *
 * @module
 */

import { PonchoError } from "../errors.ts";
import { ChunkReader } from "./chunk_reader.ts";
import {
  applyPax,
  BLOCK,
  checksumOk,
  decodeHeader,
  entryType,
  isZeroBlock,
  parsePax,
  type RawHeader,
  type TarHeader,
} from "./tar_header.ts";

export type { TarEntryType, TarHeader } from "./tar_header.ts";

/** Largest pax or GNU long-name record the reader accepts (they are held in memory). */
export const MAX_META_BYTES = 1 << 20;

/** One entry of a tar stream; its body must be read before the next entry is requested. */
export interface TarEntry extends TarHeader {
  /** Streams the body as views into the source's chunks (callable once). */
  chunks(): AsyncGenerator<Uint8Array>;
  /**
   * Returns the body as one array: a view when it lies in one source chunk,
   * else a copy. Use for small bodies only.
   */
  bytes(): Promise<Uint8Array>;
  /**
   * Synchronously returns the next piece of the body (a view) when the
   * source has bytes of it at hand, else `undefined` (at the end of the body
   * or when the next piece must be awaited; then use `chunks()` or `bytes()`,
   * which return the rest). Saves a promise per piece for small files.
   */
  nextBuffered(): Uint8Array | undefined;
  /** Number of body bytes not read yet. */
  readonly remaining: number;
}

/** Options of {@link readTar}. */
export interface ReadTarOptions {
  /** Names the archive in error messages (a file name). */
  name?: string;
}

function truncated(name: string, what: string): PonchoError {
  return new PonchoError(
    `${name} is truncated (${what}); re-create or re-download the archive`,
  );
}

class Entry implements TarEntry {
  path: string;
  type: TarHeader["type"];
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  size: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  #reader: ChunkReader;
  #left: number;
  #name: string;
  #started = false;

  constructor(h: TarHeader, reader: ChunkReader, name: string) {
    this.path = h.path;
    this.type = h.type;
    this.mode = h.mode;
    this.uid = h.uid;
    this.gid = h.gid;
    this.uname = h.uname;
    this.gname = h.gname;
    this.mtime = h.mtime;
    this.size = h.size;
    this.linkname = h.linkname;
    this.devmajor = h.devmajor;
    this.devminor = h.devminor;
    this.#reader = reader;
    this.#left = h.size;
    this.#name = name;
  }

  get remaining(): number {
    return this.#left;
  }

  nextBuffered(): Uint8Array | undefined {
    if (this.#started || this.#left === 0) return undefined;
    const piece = this.#reader.nextBuffered(this.#left);
    if (piece) this.#left -= piece.length;
    return piece;
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    if (this.#started) throw new PonchoError(`tar entry ${this.path}: body already read`);
    this.#started = true;
    while (this.#left > 0) {
      const piece = await this.#reader.next(this.#left);
      if (piece === null) throw truncated(this.#name, `body of ${this.path} is short`);
      this.#left -= piece.length;
      yield piece;
    }
  }

  async bytes(): Promise<Uint8Array> {
    if (this.#started) throw new PonchoError(`tar entry ${this.path}: body already read`);
    this.#started = true;
    const data = await this.#reader.read(this.#left);
    if (data.length !== this.#left) {
      throw truncated(this.#name, `body of ${this.path} is short`);
    }
    this.#left = 0;
    return data;
  }

  /**
   * Skips the unread body and the padding after it: synchronously when the
   * bytes are at hand (returns `undefined`), else returns a promise.
   */
  finish(): Promise<void> | undefined {
    const pad = (BLOCK - (this.size % BLOCK)) % BLOCK;
    const want = this.#left + pad;
    if (want === 0 || this.#reader.skipBuffered(want)) {
      this.#left = 0;
      this.#started = true;
      return undefined;
    }
    return this.#finishAsync(want);
  }

  async #finishAsync(want: number): Promise<void> {
    if ((await this.#reader.skip(want)) !== want) {
      throw truncated(this.#name, `body of ${this.path} is short`);
    }
    this.#left = 0;
    this.#started = true;
  }
}

/** Extended-header state between entries: pax records and GNU long names. */
interface MetaState {
  /** `g` records: apply to every later entry. */
  global: Map<string, string>;
  /** The `x` record of the next entry. */
  local?: Map<string, string>;
  /** GNU `L` and `K` names of the next entry. */
  longPath?: string;
  longLink?: string;
}

const META_FLAGS = new Set(["x", "g", "L", "K"]);

/** Reads a pax or GNU long-name record (header `h`) into `meta`. */
async function readMetaRecord(
  reader: ChunkReader,
  h: RawHeader,
  name: string,
  meta: MetaState,
): Promise<void> {
  const data = await readMeta(reader, h, name);
  if (h.flag === "x") meta.local = parsePax(data);
  else if (h.flag === "g") { for (const [k, v] of parsePax(data)) meta.global.set(k, v); }
  else {
    let end = data.indexOf(0);
    if (end < 0) end = data.length;
    const text = new TextDecoder().decode(data.subarray(0, end));
    if (h.flag === "L") meta.longPath = text;
    else meta.longLink = text;
  }
}

/** Applies and clears the pending extended headers; checks and sets the entry's type. */
function finishHeader(h: RawHeader, meta: MetaState, name: string): TarHeader {
  if (meta.global.size) applyPax(h, meta.global);
  if (meta.longPath !== undefined) h.path = meta.longPath;
  if (meta.longLink !== undefined) h.linkname = meta.longLink;
  if (meta.local) applyPax(h, meta.local);
  meta.local = meta.longPath = meta.longLink = undefined;
  const type = entryType(h.flag, h.path);
  if (type === undefined) {
    const what = h.flag === "S" ? "a GNU sparse file" : `of unknown type '${h.flag}'`;
    throw new PonchoError(`${name}: entry ${h.path} is ${what}; it cannot be extracted`);
  }
  h.type = type;
  // Like GNU tar and Python's tarfile, only files (and GNU dumpdirs) carry a body.
  if (type !== "file" && h.flag !== "D") h.size = 0;
  if (type === "directory" && h.path.length > 1) h.path = h.path.replace(/\/+$/, "");
  return h;
}

/** The next header block, or `undefined` at the end-of-archive marker (both zero blocks read). */
async function nextHeader(reader: ChunkReader, name: string): Promise<RawHeader | undefined> {
  const block = reader.readBuffered(BLOCK) ?? await reader.read(BLOCK);
  if (block.length === 0) throw truncated(name, "no end-of-archive marker");
  if (block.length < BLOCK) throw truncated(name, "ends inside a header");
  if (isZeroBlock(block)) {
    await reader.read(BLOCK); // the second zero block; a lone one is accepted
    return undefined;
  }
  if (!checksumOk(block)) {
    throw new PonchoError(
      `${name}: bad tar header checksum at byte ${reader.offset - BLOCK}; the archive is corrupt`,
    );
  }
  const h = decodeHeader(block);
  if (h.size > Number.MAX_SAFE_INTEGER) throw new PonchoError(`${name}: entry too large`);
  return h;
}

/**
 * Reads a tar stream entry by entry. See the module documentation for the
 * body contract. Stopping early (breaking out of the loop) cancels the source.
 */
export async function* readTar(
  source: AsyncIterable<Uint8Array>,
  options: ReadTarOptions = {},
): AsyncGenerator<TarEntry> {
  const name = options.name ?? "tar stream";
  const reader = new ChunkReader(source);
  const meta: MetaState = { global: new Map() };
  try {
    let h: RawHeader | undefined;
    while ((h = await nextHeader(reader, name)) !== undefined) {
      if (META_FLAGS.has(h.flag)) {
        await readMetaRecord(reader, h, name, meta);
        continue;
      }
      const entry = new Entry(finishHeader(h, meta, name), reader, name);
      yield entry;
      const skipping = entry.finish();
      if (skipping) await skipping;
    }
  } finally {
    await reader.cancel();
  }
}

async function readMeta(reader: ChunkReader, h: RawHeader, name: string): Promise<Uint8Array> {
  if (h.size > MAX_META_BYTES) {
    throw new PonchoError(`${name}: extended header of ${h.size} bytes is too large`);
  }
  const padded = Math.ceil(h.size / BLOCK) * BLOCK;
  const data = await reader.read(padded);
  if (data.length !== padded) throw truncated(name, "extended header is short");
  return data.subarray(0, h.size);
}
