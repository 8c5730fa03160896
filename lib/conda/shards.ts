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

import { createHash } from "node:crypto";
import { decode, encode } from "../deps/msgpack.ts";
import type { NameRecords, RepodataRecord } from "./records.ts";
import { decodeZstd, encodeZstd } from "./zstd_bytes.ts";

/** The file name of a subdir's shard index. */
export const SHARD_INDEX_FILE = "repodata_shards.msgpack.zst";

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

/** Lower-case hex sha256 of `data`. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

const HEX = /^[0-9a-f]*$/i;

function hexToBytes(hex: string, what: string): Uint8Array {
  if (hex.length % 2 !== 0 || !HEX.test(hex)) throw new Error(`${what} is not hex: ${hex}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function bytesToHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
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
 */
export function decodeShardIndex(bytes: Uint8Array): ShardIndex {
  const raw = decode(decodeZstd(bytes));
  if (!isMap(raw) || !isMap(raw.shards)) throw new Error("not a shard index (no shards map)");
  const info = isMap(raw.info) ? raw.info as ShardIndexInfo : {};
  const shards = new Map<string, string>();
  for (const [name, hash] of Object.entries(raw.shards)) {
    if (!(hash instanceof Uint8Array) || hash.length !== 32) {
      throw new Error(`shard hash of ${name} is not 32 bytes`);
    }
    shards.set(name, bytesToHex(hash));
  }
  return { version: typeof raw.version === "number" ? raw.version : 1, info, shards };
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
  return { bytes, sha256: sha256Hex(bytes) };
}

/**
 * Decodes shard bytes into records with hex checksums. With `expectedSha256`
 * the bytes must hash to it, else this throws (the shard is refused). Throws
 * an `Error` saying what is wrong on bad input.
 */
export function decodeShard(bytes: Uint8Array, expectedSha256?: string): Shard {
  if (expectedSha256 !== undefined) {
    const got = sha256Hex(bytes);
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
