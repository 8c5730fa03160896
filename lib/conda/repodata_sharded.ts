/**
 * Reading a CEP-16 sharded subdir: the decoded shard index names each
 * package's shard by sha256; {@linkcode ShardedSource.read} gets a shard from
 * the store's content-addressed cache, else downloads it (or reads it from a
 * `file://` channel), verifies its hash and only then caches it (decoded, as
 * JSON). Cached shards are never revalidated: their name is their content.
 *
 * @module
 */

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { StoreLayout } from "../../store/layout.ts";
import { fsError, NotFoundError } from "../errors.ts";
import { writeFileAtomicSync } from "../fs/atomic.ts";
import type { NameRecords, RecordSource } from "./records.ts";
import type { RepodataProgress } from "./repodata_progress.ts";
import { shardCachePath } from "./repodata_cache.ts";
import { SHARD_INDEX_FILE } from "./records.ts";
import type { ShardIndex } from "./shards.ts";
import { getWithRetry, httpFailure } from "./transport.ts";

/** Options of a {@linkcode ShardedSource}. */
export interface ShardedSourceOptions {
  /** The store (shard cache, tmp). */
  layout: StoreLayout;
  /** Only the cache; no network. */
  offline?: boolean;
  /** Attempts per request. */
  attempts?: number;
  /** Counts shards for the progress line. */
  progress?: RepodataProgress;
  /** Makes the one-line error for a bad shard (names channel, subdir and file). */
  corrupt: (file: string, reason: string) => Error;
  /** Receives notes (a damaged cache entry fetched again), for `--verbose`. */
  log?: (line: string) => void;
}

/** The default `shards_base_url` when the index has none. */
const DEFAULT_SHARDS_BASE = "./shards/";

/** A sharded subdir: its index in memory, shards fetched on demand. */
export class ShardedSource implements RecordSource {
  /** Absolute URL packages are downloaded from (ends with `/`). */
  readonly packageBase: string;
  /** Absolute URL shards are fetched from (ends with `/`). */
  readonly shardsBase: string;
  /** Shards read from the store's cache. */
  cached = 0;
  /** Shards downloaded or read from a `file://` channel. */
  fetched = 0;
  #index: ShardIndex;
  #opts: ShardedSourceOptions;
  #dirReady = false;

  /** `indexUrl` is where the index came from (its URLs are relative to it). */
  constructor(index: ShardIndex, indexUrl: string, opts: ShardedSourceOptions) {
    this.#index = index;
    this.#opts = opts;
    const dir = (u: string) => (u.endsWith("/") ? u : `${u}/`);
    const base = typeof index.info.base_url === "string" ? index.info.base_url : "./";
    const shards = typeof index.info.shards_base_url === "string"
      ? index.info.shards_base_url
      : DEFAULT_SHARDS_BASE;
    this.packageBase = new URL(dir(base), indexUrl).href;
    this.shardsBase = new URL(dir(shards), indexUrl).href;
    const local = (u: string) => u.startsWith("file:");
    if (!local(indexUrl) && (local(this.packageBase) || local(this.shardsBase))) {
      // A remote channel never makes Poncho read (or install from) this machine's files.
      throw opts.corrupt(SHARD_INDEX_FILE, "its base_url or shards_base_url is a file:// URL");
    }
  }

  /** Package names in the index. */
  get size(): number {
    return this.#index.shards.size;
  }

  /** Whether the index lists `name`. */
  has(name: string): boolean {
    return this.#index.shards.has(name);
  }

  /** The records of `name`: from the shard cache, else fetched, verified and cached. */
  async read(name: string): Promise<NameRecords> {
    const hash = this.#index.shards.get(name);
    if (!hash) return { packages: {}, "packages.conda": {} };
    const { progress } = this.#opts;
    if (progress) progress.shardsWanted++;
    const shard = await this.#shard(name, hash);
    if (progress) {
      progress.shardsDone++;
      progress.tick();
    }
    return { packages: shard.packages, "packages.conda": shard["packages.conda"] };
  }

  /** The shard `hash` of `name`: read in place (`file://`), from the cache, else downloaded. */
  async #shard(name: string, hash: string): Promise<NameRecords> {
    const file = `${hash}.msgpack.zst`;
    const url = new URL(file, this.shardsBase).href;
    if (url.startsWith("file:")) {
      const shard = await this.#decode(await this.#readLocal(url, name, file), hash, name, file);
      this.fetched++;
      return shard;
    }
    const cachePath = shardCachePath(this.#opts.layout, hash);
    const cached = await this.#cached(cachePath, name);
    if (cached) {
      this.cached++;
      return cached;
    }
    if (this.#opts.offline) {
      throw new NotFoundError(
        `shard of ${name} (${url}) is not cached (offline mode); run once without --offline`,
      );
    }
    return await this.#download(url, hash, name, file, cachePath);
  }

  /** A shard of a `file://` channel; one the channel lacks makes the channel corrupt. */
  async #readLocal(url: string, name: string, file: string): Promise<Uint8Array> {
    const path = fileURLToPath(url);
    try {
      return await Deno.readFile(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw fsError(err, path, { what: `cannot read shard ${file} of ${name}`, role: "input" });
      }
      throw this.#opts.corrupt(`shard ${file} of ${name}`, "it is missing from the channel");
    }
  }

  /**
   * The cached shard at `path`, or null when there is none; a damaged entry
   * is removed (with a note) so that it is fetched again. An entry that
   * cannot be read is an error of its kind (permission, ...) naming it.
   */
  async #cached(path: string, name: string): Promise<NameRecords | null> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw fsError(err, path, { what: "cannot read the cached shard", role: "input" });
    }
    const shard = parseCachedShard(text);
    if (shard) return shard;
    this.#opts.log?.(`shard of ${name}: cache entry ${path} is corrupt; fetching it again`);
    await Deno.remove(path).catch((err) => {
      // The download below replaces it by a rename either way.
      if (!(err instanceof Deno.errors.NotFound)) throw fsError(err, path);
    });
    return null;
  }

  /** Downloads, verifies and caches the shard `hash` of `name`. */
  async #download(
    url: string,
    hash: string,
    name: string,
    file: string,
    cachePath: string,
  ): Promise<NameRecords> {
    const res = await getWithRetry(url, {}, this.#opts.attempts ?? 3);
    if (!res.ok) {
      await res.body?.cancel();
      httpFailure(res, url);
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      throw this.#opts.corrupt(
        `shard ${file} of ${name}`,
        `download broke: ${(err as Error).message}`,
      );
    }
    const shard = await this.#decode(bytes, hash, name, file);
    const text = JSON.stringify({
      packages: shard.packages,
      "packages.conda": shard["packages.conda"],
    });
    this.#cache(cachePath, text);
    this.fetched++;
    const { progress } = this.#opts;
    if (progress) {
      progress.shardsFetched++;
      progress.shardBytes += bytes.length;
    }
    return shard;
  }

  /**
   * Writes a verified shard into the cache (temp file beside it, then a rename).
   * Synchronously: hundreds of small async writes cost more in scheduling than in I/O.
   */
  #cache(path: string, text: string) {
    if (!this.#dirReady) {
      Deno.mkdirSync(dirname(path), { recursive: true });
      this.#dirReady = true;
    }
    writeFileAtomicSync(path, text);
  }

  /** Verifies and decodes a shard (the msgpack code is loaded only when shards are fetched). */
  async #decode(bytes: Uint8Array, hash: string, name: string, file: string) {
    const { decodeShard } = await import("./shards.ts");
    try {
      return decodeShard(bytes, hash);
    } catch (err) {
      throw this.#opts.corrupt(`shard ${file} of ${name}`, (err as Error).message);
    }
  }

  /** Nothing to release. */
  async close(): Promise<void> {}
}

/** A cached shard's records, or null when the text is not a shard as this module writes it. */
function parseCachedShard(text: string): NameRecords | null {
  let shard: unknown;
  try {
    shard = JSON.parse(text);
  } catch (err) {
    if (err instanceof SyntaxError) return null;
    throw err;
  }
  const isMap = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isMap(shard)) return null;
  const { packages, "packages.conda": conda } = shard as Record<string, unknown>;
  return isMap(packages) && isMap(conda) ? shard as NameRecords : null;
}
