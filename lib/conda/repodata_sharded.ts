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
import { NotFoundError } from "../errors.ts";
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
    const { layout, progress } = this.#opts;
    const file = `${hash}.msgpack.zst`;
    const url = new URL(file, this.shardsBase).href;
    if (progress) progress.shardsWanted++;
    const done = (shard: NameRecords) => {
      if (progress) {
        progress.shardsDone++;
        progress.tick();
      }
      return { packages: shard.packages, "packages.conda": shard["packages.conda"] };
    };
    if (url.startsWith("file:")) {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(fileURLToPath(url));
      } catch (err) {
        throw this.#opts.corrupt(
          `shard ${file} of ${name}`,
          `cannot read it: ${(err as Error).message}`,
        );
      }
      this.fetched++;
      return done(await this.#decode(bytes, hash, name, file));
    }
    const cachePath = shardCachePath(layout, hash);
    try {
      const shard: NameRecords = JSON.parse(await Deno.readTextFile(cachePath));
      this.cached++;
      return done(shard);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        // A damaged cache entry: drop it and fetch again.
        await Deno.remove(cachePath).catch(() => {});
      }
    }
    if (this.#opts.offline) {
      throw new NotFoundError(
        `shard of ${name} (${url}) is not cached (offline mode); run once without --offline`,
      );
    }
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
    if (progress) {
      progress.shardsFetched++;
      progress.shardBytes += bytes.length;
    }
    return done(shard);
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
