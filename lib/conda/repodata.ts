/**
 * The repodata of channel subdirs, in whichever form the channel serves:
 *
 * - **sharded** (CEP-16): `repodata_shards.msgpack.zst` is fetched with HTTP
 *   caching (ETag / Last-Modified) and kept in the store; shards are read on
 *   demand ({@link ShardedSource});
 * - **monolithic**: `repodata.json.zst` (preferred) or `repodata.json` is
 *   streamed into a per-name index in the store ({@link buildRepodataIndex}),
 *   once per download, and revalidated like the shard index.
 *
 * A subdir first tries the form it was cached in; a fresh look tries the shard
 * index, then `repodata.json.zst`, then `repodata.json`. `file://` channels
 * are read in place: a local shard index directly, a local `repodata.json(.zst)`
 * through an index in the store keyed by the file's path, size and mtime. In
 * `offline` mode only the store is read.
 *
 * A corrupt or truncated shard index, shard or repodata file is a one-line
 * {@linkcode PonchoError} (exit 3) naming the channel, subdir and file, and
 * nothing of it enters the cache.
 *
 * @module
 */

import { ownerTmp } from "../../store/owner.ts";
import { join } from "node:path";
import { writeFileAtomic } from "../fs/atomic.ts";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { StoreLayout } from "../../store/layout.ts";
import { zstdDecompress } from "../archive/zstd.ts";
import { readFileChunks } from "../archive/codec.ts";
import { CorruptError, errnoOf, fsError, NotFoundError, PonchoError } from "../errors.ts";
import type { Channel } from "./channel.ts";
import { type RecordSource, SHARD_INDEX_FILE } from "./records.ts";
import {
  type CacheMeta,
  type CachePaths,
  cachePaths,
  cacheReadError,
  isDamagedEntry,
  newDataName,
  readMeta,
  writeMeta,
} from "./repodata_cache.ts";
import { buildRepodataIndex, RepodataIndex } from "./repodata_index.ts";
import { RepodataProgress } from "./repodata_progress.ts";
import { ShardedSource } from "./repodata_sharded.ts";
import type { ShardIndex } from "./shards.ts";
import { getWithRetry, httpFailure } from "./transport.ts";
import { isAbsent } from "../fs/probe.ts";

/** The repodata of one channel subdir, ready to be read name by name. */
export interface SubdirRepodata {
  /** The channel. */
  channel: Channel;
  /** The subdir (`linux-64`, `noarch`, ...). */
  subdir: string;
  /** `<channel.url>/<subdir>` (no trailing slash). */
  url: string;
  /** Which form the subdir served; `missing` when it has no repodata. */
  form: "sharded" | "monolithic" | "missing";
  /** The file the data came from (`repodata_shards.msgpack.zst`, `repodata.json.zst`, ...). */
  file?: string;
  /** How it was obtained this time. */
  how: "downloaded" | "not-modified" | "cache" | "file" | "indexed";
  /** The records, or null for a missing subdir. */
  source: RecordSource | null;
  /** Absolute base URL of the subdir's packages (ends with `/`). */
  packageBase: string;
}

/** Options for loading repodata. */
export interface RepodataOptions {
  /** The store whose `repodata/` and `tmp/` dirs are used. */
  layout: StoreLayout;
  /** Read only the cache; never touch the network. */
  offline?: boolean;
  /** Receives one line per network action (for `--verbose`). */
  log?: (line: string) => void;
  /** Attempts per request on network errors and 5xx (default 3). */
  attempts?: number;
  /** Counts (and on a terminal shows) the repodata phase's progress. */
  progress?: RepodataProgress;
}

/** The one-line error for a corrupt or truncated repodata file. */
export function corruptRepodata(
  channel: Channel,
  subdir: string,
  file: string,
  reason: string,
): CorruptError {
  return new CorruptError(
    `channel ${channel.url}, subdir ${subdir}: ${file} is corrupt or truncated (${
      reason.split("\n")[0]
    }); nothing of it was cached, fix the channel or try again`,
    { url: `${channel.url}/${subdir}/${file}` },
  );
}

/** The package base of a monolithic subdir: `info.base_url` (v2 repodata), else the subdir. */
function monolithicBase(url: string, info: Record<string, unknown>): string {
  const b = info.base_url;
  if (typeof b === "string" && b) return new URL(b.endsWith("/") ? b : `${b}/`, `${url}/`).href;
  return `${url}/`;
}

/** Loads (downloading, revalidating or reading from cache) the repodata of one subdir. */
export async function loadRepodata(
  channel: Channel,
  subdir: string,
  opts: RepodataOptions,
): Promise<SubdirRepodata> {
  const loader = new SubdirLoader(channel, subdir, opts);
  return channel.url.startsWith("file://") ? await loader.local() : await loader.remote();
}

/** The files a fresh look asks a remote subdir for, in order of preference. */
const REMOTE_FILES = [SHARD_INDEX_FILE, "repodata.json.zst", "repodata.json"];

/** The repodata files a `file://` subdir may have besides a shard index, in order. */
const LOCAL_FILES = ["repodata.json", "repodata.json.zst"];

/** Loads one subdir: the cache entry, the network or a `file://` channel's files. */
class SubdirLoader {
  readonly url: string;
  readonly paths: CachePaths;
  readonly log: (line: string) => void;
  readonly attempts: number;
  constructor(readonly channel: Channel, readonly subdir: string, readonly opts: RepodataOptions) {
    this.url = `${channel.url}/${subdir}`;
    this.paths = cachePaths(opts.layout, this.url);
    this.log = opts.log ?? (() => {});
    this.attempts = opts.attempts ?? 3;
  }

  corrupt = (file: string, reason: string) =>
    corruptRepodata(this.channel, this.subdir, file, reason);

  result(
    form: SubdirRepodata["form"],
    how: SubdirRepodata["how"],
    source: RecordSource | null,
    file?: string,
  ): SubdirRepodata {
    const packageBase = source instanceof ShardedSource
      ? source.packageBase
      : monolithicBase(this.url, source instanceof RepodataIndex ? source.info : {});
    return {
      channel: this.channel,
      subdir: this.subdir,
      url: this.url,
      form,
      file,
      how,
      source,
      packageBase,
    };
  }

  /** Decodes a shard index (the msgpack code is loaded only when one is downloaded). */
  async decodeIndex(bytes: Uint8Array, file: string): Promise<ShardIndex> {
    const { decodeShardIndex } = await import("./shards.ts");
    try {
      return decodeShardIndex(bytes);
    } catch (err) {
      throw this.corrupt(file, (err as Error).message);
    }
  }

  sharded(index: ShardIndex, indexUrl: string): ShardedSource {
    return new ShardedSource(index, indexUrl, {
      layout: this.opts.layout,
      offline: this.opts.offline,
      attempts: this.attempts,
      progress: this.opts.progress,
      corrupt: this.corrupt,
      log: this.log,
    });
  }

  /** Streams `repodata.json` bytes into a new index in the store; returns its entry name. */
  async index(chunks: AsyncIterable<Uint8Array>, file: string): Promise<string> {
    const name = newDataName(this.paths.key, ".idx");
    const progress = this.opts.progress;
    const start = progress?.indexBytes ?? 0;
    await Deno.mkdir(this.paths.dir, { recursive: true });
    try {
      const stats = await buildRepodataIndex(
        chunks,
        join(this.paths.dir, name),
        ownerTmp(this.opts.layout),
        progress
          ? (n) => {
            progress.indexBytes = start + n;
            progress.tick();
          }
          : undefined,
      );
      this.log(
        `repodata ${this.url}/${file}: indexed ${stats.records} records of ${stats.names} names`,
      );
    } catch (err) {
      // The machine's faults keep their kind (no space, permission, a missing or unreachable
      // input; OS errors are the store's); a decoder's or the parser's error (plain, or a
      // corrupt/build PonchoError of the zstd code) is the document's defect.
      if (err instanceof PonchoError && err.kind !== "corrupt" && err.kind !== "build") throw err;
      if (errnoOf(err)) {
        throw fsError(err, this.paths.dir, { what: "cannot write the repodata index in" });
      }
      throw this.corrupt(file, (err as Error).message);
    }
    return name;
  }

  /** Opens the data entry `meta` names; throws NotFound, SyntaxError or CorruptError when damaged. */
  async openCached(meta: CacheMeta): Promise<RecordSource> {
    const path = join(this.paths.dir, meta.data!);
    if (meta.form === "monolithic") return await RepodataIndex.open(path);
    const raw = JSON.parse(await Deno.readTextFile(path));
    if (typeof raw?.shards !== "object" || raw.shards === null || typeof raw.info !== "object") {
      throw new CorruptError(`${path} is not a decoded shard index`, { path });
    }
    const shards = new Map<string, string>(Object.entries(raw.shards));
    return this.sharded(
      { version: raw.version, info: raw.info, shards },
      `${this.url}/${SHARD_INDEX_FILE}`,
    );
  }

  /**
   * Opens the cache entry `meta` names, or null (with a note) when it is gone
   * or damaged, so that it is fetched afresh; an entry that cannot be read is
   * thrown as its kind, naming it.
   */
  async reuse(meta: CacheMeta): Promise<RecordSource | null> {
    const path = join(this.paths.dir, meta.data!);
    try {
      return await this.openCached(meta);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || isDamagedEntry(err)) {
        this.log(`repodata cache entry ${path} is gone or corrupt; fetching afresh`);
        return null;
      }
      throw cacheReadError(err, path);
    }
  }

  /** A `file://` channel's subdir: its shard index read in place, else its repodata indexed. */
  async local(): Promise<SubdirRepodata> {
    const dir = fileURLToPath(this.url);
    const shardIndex = join(dir, SHARD_INDEX_FILE);
    const bytes = await Deno.readFile(shardIndex).catch((err) => {
      if (err instanceof Deno.errors.NotFound) return null;
      throw fsError(err, shardIndex, { what: "cannot read the channel's", role: "input" });
    });
    if (bytes) {
      const index = await this.decodeIndex(bytes, SHARD_INDEX_FILE);
      const source = this.sharded(index, pathToFileURL(shardIndex).href);
      return this.result("sharded", "file", source, SHARD_INDEX_FILE);
    }
    for (const file of LOCAL_FILES) {
      const path = join(dir, file);
      const info = await localFile(path);
      if (info) return await this.localMonolithic(path, file, info);
    }
    return this.result("missing", "file", null);
  }

  /** A `file://` channel's `repodata.json(.zst)`: the cached index while the file is unchanged. */
  async localMonolithic(path: string, file: string, info: Deno.FileInfo): Promise<SubdirRepodata> {
    const source = { path, size: info.size, mtime: info.mtime?.getTime() ?? 0 };
    const meta = await readMeta(this.paths, this.log);
    const same = meta?.form === "monolithic" && meta.source?.path === source.path &&
      meta.source.size === source.size && meta.source.mtime === source.mtime;
    const cached = meta && same ? await this.reuse(meta) : null;
    if (cached) return this.result("monolithic", "cache", cached, file);
    // compress.ts (and its bzip2 decoder) is loaded only for a local .zst.
    const chunks = file.endsWith(".zst")
      ? (await import("../archive/compress.ts")).decompressFileInWorker(path, "zst", file)
      : readFileChunks(path);
    const data = await this.index(chunks, file);
    const fresh: CacheMeta = {
      url: this.url,
      form: "monolithic",
      remoteFile: file,
      source,
      data,
      fetchedAt: new Date().toISOString(),
    };
    await writeMeta(this.opts.layout, this.paths, fresh, meta);
    return this.result("monolithic", "indexed", await this.openCached(fresh), file);
  }

  /** Stores what a 200 response for `file` holds; returns the new meta and its records. */
  async fromResponse(
    res: Response,
    file: string,
    previous: CacheMeta | null,
  ): Promise<[CacheMeta, RecordSource]> {
    const base = {
      url: this.url,
      remoteFile: file,
      etag: res.headers.get("etag") ?? undefined,
      lastModified: res.headers.get("last-modified") ?? undefined,
      fetchedAt: new Date().toISOString(),
    };
    let meta: CacheMeta;
    let source: RecordSource | undefined;
    if (file === SHARD_INDEX_FILE) {
      const index = await this.downloadedIndex(res, file);
      meta = { ...base, form: "sharded", data: await this.storeIndex(index) };
      source = this.sharded(index, `${this.url}/${file}`);
    } else {
      const body = res.body ?? (async function* () {})();
      const chunks = file.endsWith(".zst") ? zstdDecompress(body, file) : body;
      meta = { ...base, form: "monolithic", data: await this.index(chunks, file) };
    }
    await writeMeta(this.opts.layout, this.paths, meta, previous);
    this.log(`repodata ${this.url}/${file}: downloaded`);
    return [meta, source ?? await this.openCached(meta)];
  }

  /** The shard index a response holds, validated before anything is cached. */
  async downloadedIndex(res: Response, file: string): Promise<ShardIndex> {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      throw this.corrupt(file, `download broke: ${(err as Error).message}`);
    }
    return await this.decodeIndex(bytes, file);
  }

  /** Writes a decoded shard index into the cache; returns its entry name. */
  async storeIndex(index: ShardIndex): Promise<string> {
    const data = newDataName(this.paths.key, ".shards.json");
    await Deno.mkdir(this.paths.dir, { recursive: true });
    const text = JSON.stringify({
      version: index.version,
      info: index.info,
      shards: Object.fromEntries(index.shards),
    });
    await writeFileAtomic(join(this.paths.dir, data), text, {
      tmpDir: ownerTmp(this.opts.layout),
    });
    return data;
  }

  /** A remote subdir: offline from the cache, else revalidated, else a fresh look. */
  async remote(): Promise<SubdirRepodata> {
    const meta = await readMeta(this.paths, this.log);
    if (this.opts.offline) return await this.offline(meta);
    await Deno.mkdir(this.opts.layout.repodata, { recursive: true });
    if (meta && meta.form !== "missing" && meta.remoteFile) {
      const revalidated = await this.revalidate(meta);
      if (revalidated) return revalidated;
    }
    return await this.freshLook(meta);
  }

  /** Offline: what the cache holds, or an error saying to go online once. */
  async offline(meta: CacheMeta | null): Promise<SubdirRepodata> {
    const fail = (why: string) =>
      new NotFoundError(`${why} for ${this.url}/ (offline mode); run once without --offline`);
    if (!meta) throw fail("no cached repodata");
    if (meta.form === "missing") return this.result("missing", "cache", null);
    const source = await this.reuse(meta);
    if (!source) throw fail("the cached repodata is gone or corrupt");
    return this.result(meta.form, "cache", source, meta.remoteFile);
  }

  /**
   * Asks whether the cached file changed (ETag / Last-Modified): the cache on
   * 304, the new data on 200; null when the file is gone (404) or the cache
   * entry is unusable (its meta is then dropped), for a fresh look.
   */
  async revalidate(meta: CacheMeta): Promise<SubdirRepodata | null> {
    const headers: Record<string, string> = {};
    if (meta.etag) headers["if-none-match"] = meta.etag;
    if (meta.lastModified) headers["if-modified-since"] = meta.lastModified;
    const file = meta.remoteFile!;
    const res = await getWithRetry(`${this.url}/${file}`, headers, this.attempts);
    if (res.ok) {
      const [fresh, source] = await this.fromResponse(res, file, meta);
      return this.result(fresh.form, "downloaded", source, file);
    }
    await res.body?.cancel();
    if (res.status !== 304) {
      if (res.status !== 404) httpFailure(res, `${this.url}/${file}`);
      return null;
    }
    const source = await this.reuse(meta);
    if (!source) {
      await Deno.remove(this.paths.meta).catch((err) => {
        if (!(err instanceof Deno.errors.NotFound)) throw fsError(err, this.paths.meta);
      });
      return null;
    }
    this.log(`repodata ${this.url}/${file}: not modified`);
    return this.result(meta.form, "not-modified", source, file);
  }

  /** Tries the shard index, then `repodata.json.zst`, then `repodata.json`; else "missing". */
  async freshLook(meta: CacheMeta | null): Promise<SubdirRepodata> {
    for (const file of REMOTE_FILES) {
      const res = await getWithRetry(`${this.url}/${file}`, {}, this.attempts);
      if (res.ok) {
        const [fresh, source] = await this.fromResponse(res, file, meta);
        return this.result(fresh.form, "downloaded", source, file);
      }
      await res.body?.cancel();
      if (res.status !== 404 && res.status !== 403) httpFailure(res, `${this.url}/${file}`);
    }
    this.log(`repodata ${this.url}/: no such subdir`);
    const missing: CacheMeta = {
      url: this.url,
      form: "missing",
      fetchedAt: new Date().toISOString(),
    };
    await writeMeta(this.opts.layout, this.paths, missing, meta);
    return this.result("missing", "downloaded", null);
  }
}

/** The file at `path` of a `file://` channel, or null when there is none; unreadable is an error. */
async function localFile(path: string): Promise<Deno.FileInfo | null> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? info : null;
  } catch (err) {
    if (isAbsent(err)) {
      return null;
    }
    throw fsError(err, path, { what: "cannot read the channel's", role: "input" });
  }
}

/**
 * Loads the repodata of every channel for `platform` and `noarch`, in channel
 * order. A channel missing one subdir is fine; one missing both is an error.
 */
export async function loadChannels(
  channels: Channel[],
  platform: string,
  opts: RepodataOptions,
): Promise<SubdirRepodata[]> {
  const subdirs = platform === "noarch" ? ["noarch"] : [platform, "noarch"];
  const all = await Promise.all(
    channels.flatMap((c) => subdirs.map((s) => loadRepodata(c, s, opts))),
  );
  for (const c of channels) {
    if (all.every((r) => r.channel !== c || r.source === null)) {
      await Promise.all(all.map((r) => r.source?.close()));
      throw new NotFoundError(
        `channel ${c.url} has no repodata for ${
          subdirs.join(" or ")
        } (no ${SHARD_INDEX_FILE}, repodata.json.zst or repodata.json); check the channel name or URL`,
      );
    }
  }
  return all;
}

/** A one-line description of how a subdir's repodata was read (for `-v`). */
export function describeRepodata(r: SubdirRepodata): string {
  if (r.form === "missing") return `${r.url}: no repodata`;
  const how = {
    "downloaded": "downloaded",
    "not-modified": "not modified",
    "cache": "from the cache",
    "file": "read in place",
    "indexed": "indexed",
  }[r.how];
  if (r.source instanceof ShardedSource) {
    return `${r.url}: sharded repodata (${r.file} ${how}; ${r.source.size} names, ${r.source.fetched} shards fetched, ${r.source.cached} from the cache)`;
  }
  const idx = r.source as RepodataIndex;
  return `${r.url}: monolithic repodata (${r.file} ${how}; per-name index of ${idx.records} records, ${idx.size} names)`;
}

export { RepodataProgress };
