/**
 * CEP-16 sharded repodata: encoding and decoding of the shard index
 * (`<subdir>/repodata_shards.msgpack.zst`) and of the per-name shards
 * (`<shards_base_url><sha256 hex>.msgpack.zst`). Both are zstd-compressed
 * msgpack. The readers (`repodata_sharded.ts`) and the writers (`poncho index`)
 * share this module, so the two agree byte for byte.
 *
 * - Index: `{version: 1, info: {base_url, shards_base_url, subdir, created_at, ...},
 *   shards: {name: <32 bytes sha256>}}`.
 * - Shard: `{packages: {fn: record}, "packages.conda": {fn: record}, removed: [fn]}`,
 *   where each record's `sha256` and `md5` are bytes instead of hex strings.
 * - A shard's name is the sha256 of its file, i.e. of the compressed bytes;
 *   {@linkcode decodeShard} refuses a shard whose bytes do not match.
 *
 * In memory (the `Shard` type) records carry hex `sha256`/`md5`, exactly like
 * `repodata.json`, so the rest of Poncho sees one record shape.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { decode, encode } from "../deps/msgpack.ts";
import type { NameRecords, RepodataRecord } from "./records.ts";
import { decodeZstd, encodeZstd } from "./zstd_bytes.ts";
import { bytesSha256 } from "../sha256.ts";

export { SHARD_INDEX_FILE } from "./records.ts";

/** The `info` map of a shard index. */
export interface ShardIndexInfo {
  /** Where packages are downloaded from (absolute, or relative to the index URL). */
  base_url?: string;
  /** Where shards are downloaded from (absolute, or relative to the index URL). */
  shards_base_url?: string;
  /** The subdir (`linux-64`, `noarch`, ...). */
  subdir?: string;
  /** When the index was made (RFC 3339). */
  created_at?: string;
  /** Other metadata is kept as found. */
  [key: string]: unknown;
}

/** A decoded shard index: package name -> lower-case hex sha256 of its shard. */
export interface ShardIndex {
  /** Format version (1). */
  version: number;
  /** Base URLs and other metadata. */
  info: ShardIndexInfo;
  /** Shard hash (hex) per package name. */
  shards: Map<string, string>;
}

/** One shard: the records of one package name, as `repodata.json`'s sections. */
export interface Shard extends NameRecords {
  /** File names removed from the channel (kept for the writer; readers ignore them). */
  removed?: string[];
}

/** An encoded shard: its file bytes and their sha256 (the shard's name). */
export interface EncodedShard {
  /** The `.msgpack.zst` file content. */
  bytes: Uint8Array;
  /** Lower-case hex sha256 of `bytes`. */
  sha256: string;
}

const HEX = /^[0-9a-f]*$/i;

function hexToBytes(hex: string, what: string): Uint8Array {
  if (hex.length % 2 !== 0 || !HEX.test(hex)) throw new Error(`${what} is not hex: ${hex}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/** Encodes a shard index (hex hashes) as `repodata_shards.msgpack.zst` bytes. */
export function encodeShardIndex(index: ShardIndex): Uint8Array {
  const shards: Record<string, Uint8Array> = {};
  for (const [name, hex] of [...index.shards].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    if (hex.length !== 64) throw new Error(`shard hash of ${name} is not a sha256: ${hex}`);
    shards[name] = hexToBytes(hex, `shard hash of ${name}`);
  }
  return encodeZstd(encode({ version: index.version, info: index.info, shards }));
}

/**
 * Decodes `repodata_shards.msgpack.zst` bytes. Throws an `Error` saying what
 * is wrong (not zstd, truncated, not msgpack, wrong shape) on bad input.
 *
 * The `shards` map (tens of thousands of name -> 32-byte entries for a big
 * channel) is read by a small dedicated reader, several times faster than a
 * general decoder building an object of byte arrays; every other value goes
 * through the msgpack package.
 */
export function decodeShardIndex(bytes: Uint8Array): ShardIndex {
  const data = decodeZstd(bytes);
  const r = new MsgpackReader(data);
  const entries = r.mapHeader();
  if (entries === null) throw new Error("not a shard index (not a map)");
  let info: ShardIndexInfo = {};
  let version = 1;
  let shards: Map<string, string> | undefined;
  for (let i = 0; i < entries; i++) {
    const key = r.str();
    if (key === "shards") {
      const n = r.mapHeader();
      if (n === null) throw new Error("not a shard index (shards is not a map)");
      shards = new Map();
      for (let j = 0; j < n; j++) {
        const name = r.str() ?? "";
        const hash = r.bin();
        if (hash?.length !== 32) throw new Error(`shard hash of ${name} is not 32 bytes`);
        shards.set(name, bytesToHex(hash));
      }
      continue;
    }
    const start = r.pos;
    r.skip();
    const value = decode(data.subarray(start, r.pos));
    if (key === "info" && isMap(value)) info = value as ShardIndexInfo;
    if (key === "version" && typeof value === "number") version = value;
  }
  if (r.pos !== data.length) throw new Error("not a shard index (bytes after the map)");
  if (!shards) throw new Error("not a shard index (no shards map)");
  return { version, info, shards };
}

/** Just enough msgpack reading for the shard index: headers, strings, bytes, skipping. */
class MsgpackReader {
  pos = 0;
  #view: DataView;
  #dec = new TextDecoder("utf-8", { fatal: true });
  constructor(private data: Uint8Array) {
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }
  #need(n: number) {
    if (this.pos + n > this.data.length) throw new Error("truncated msgpack data");
  }
  #u(n: 1 | 2 | 4): number {
    this.#need(n);
    const v = n === 1
      ? this.data[this.pos]
      : n === 2
      ? this.#view.getUint16(this.pos)
      : this.#view.getUint32(this.pos);
    this.pos += n;
    return v;
  }
  /** A map header's entry count, or null when the next value is not a map. */
  mapHeader(): number | null {
    const t = this.#u(1);
    if (t >= 0x80 && t <= 0x8f) return t & 0x0f;
    if (t === 0xde) return this.#u(2);
    if (t === 0xdf) return this.#u(4);
    this.pos--;
    return null;
  }
  /** A string, or null (consumed) when the value is of another type. */
  str(): string | null {
    const t = this.#u(1);
    let n: number;
    if (t >= 0xa0 && t <= 0xbf) n = t & 0x1f;
    else if (t === 0xd9) n = this.#u(1);
    else if (t === 0xda) n = this.#u(2);
    else if (t === 0xdb) n = this.#u(4);
    else {
      this.pos--;
      this.skip();
      return null;
    }
    this.#need(n);
    const s = this.#dec.decode(this.data.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  /** A byte string (a view), or null (consumed) when the value is of another type. */
  bin(): Uint8Array | null {
    const t = this.#u(1);
    let n: number;
    if (t === 0xc4) n = this.#u(1);
    else if (t === 0xc5) n = this.#u(2);
    else if (t === 0xc6) n = this.#u(4);
    else {
      this.pos--;
      this.skip();
      return null;
    }
    this.#need(n);
    const b = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  /** Skips one value of any type. */
  skip(): void {
    let pending = 1;
    while (pending-- > 0) {
      const t = this.#u(1);
      if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) continue;
      if (t >= 0x80 && t <= 0x8f) pending += 2 * (t & 0x0f);
      else if (t >= 0x90 && t <= 0x9f) pending += t & 0x0f;
      else if (t >= 0xa0 && t <= 0xbf) this.#skipBytes(t & 0x1f);
      else if (t === 0xc4 || t === 0xd9) this.#skipBytes(this.#u(1));
      else if (t === 0xc5 || t === 0xda) this.#skipBytes(this.#u(2));
      else if (t === 0xc6 || t === 0xdb) this.#skipBytes(this.#u(4));
      else if (t === 0xc7) this.#skipBytes(this.#u(1) + 1);
      else if (t === 0xc8) this.#skipBytes(this.#u(2) + 1);
      else if (t === 0xc9) this.#skipBytes(this.#u(4) + 1);
      else if (t === 0xca) this.#skipBytes(4);
      else if (t === 0xcb) this.#skipBytes(8);
      else if (t === 0xcc || t === 0xd0) this.#skipBytes(1);
      else if (t === 0xcd || t === 0xd1) this.#skipBytes(2);
      else if (t === 0xce || t === 0xd2) this.#skipBytes(4);
      else if (t === 0xcf || t === 0xd3) this.#skipBytes(8);
      else if (t >= 0xd4 && t <= 0xd8) this.#skipBytes(1 + [1, 2, 4, 8, 16][t - 0xd4]);
      else if (t === 0xdc) pending += this.#u(2);
      else if (t === 0xdd) pending += this.#u(4);
      else if (t === 0xde) pending += 2 * this.#u(2);
      else if (t === 0xdf) pending += 2 * this.#u(4);
      else throw new Error(`not msgpack data (byte 0x${t.toString(16)} at ${this.pos - 1})`);
    }
  }
  #skipBytes(n: number) {
    this.#need(n);
    this.pos += n;
  }
}

function packRecord(rec: RepodataRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { ...rec };
  if (typeof rec.sha256 === "string") out.sha256 = hexToBytes(rec.sha256, "sha256");
  if (typeof rec.md5 === "string") out.md5 = hexToBytes(rec.md5, "md5");
  return out;
}

function unpackRecord(rec: unknown, fn: string): RepodataRecord {
  if (!isMap(rec) || typeof rec.name !== "string") throw new Error(`record ${fn} has no name`);
  const out = rec as Record<string, unknown>;
  if (out.sha256 instanceof Uint8Array) out.sha256 = bytesToHex(out.sha256);
  if (out.md5 instanceof Uint8Array) out.md5 = bytesToHex(out.md5);
  return out as RepodataRecord;
}

/** Encodes a shard (hex checksums in its records) and names it by the sha256 of its bytes. */
export function encodeShard(shard: Shard): EncodedShard {
  const section = (recs: Record<string, RepodataRecord>) => {
    const out: Record<string, unknown> = {};
    for (const fn of Object.keys(recs).sort()) out[fn] = packRecord(recs[fn]);
    return out;
  };
  const bytes = encodeZstd(encode({
    packages: section(shard.packages),
    "packages.conda": section(shard["packages.conda"]),
    removed: [...(shard.removed ?? [])].sort(),
  }));
  return { bytes, sha256: bytesSha256(bytes) };
}

/**
 * Decodes shard bytes into records with hex checksums. With `expectedSha256`
 * the bytes must hash to it, else this throws (the shard is refused). Throws
 * an `Error` saying what is wrong on bad input.
 */
export function decodeShard(bytes: Uint8Array, expectedSha256?: string): Shard {
  if (expectedSha256 !== undefined) {
    const got = bytesSha256(bytes);
    if (got !== expectedSha256.toLowerCase()) {
      throw new Error(`content has sha256 ${got}, expected ${expectedSha256}`);
    }
  }
  const raw = decode(decodeZstd(bytes));
  if (!isMap(raw)) throw new Error("not a shard (not a map)");
  const section = (v: unknown, key: string) => {
    if (v === undefined || v === null) return {};
    if (!isMap(v)) throw new Error(`${key} is not a map`);
    const out: Record<string, RepodataRecord> = {};
    for (const [fn, rec] of Object.entries(v)) out[fn] = unpackRecord(rec, fn);
    return out;
  };
  const removed = Array.isArray(raw.removed)
    ? raw.removed.filter((x): x is string => typeof x === "string")
    : [];
  return {
    packages: section(raw.packages, "packages"),
    "packages.conda": section(raw["packages.conda"], "packages.conda"),
    removed,
  };
}
