/**
 * Conda channels and their `repodata.json`, cached in the store.
 *
 * A channel is given as an `https://`, `http://` or `file://` URL, an absolute
 * (or `./`-relative) path, or a name (`conda-forge` means
 * `https://conda.anaconda.org/conda-forge`). Each channel has one subdir per
 * platform plus `noarch`.
 *
 * Remote repodata is cached under `layout.repodata` as `<key>.json` (the
 * decoded JSON) with `<key>.meta.json` (source URL, ETag, Last-Modified, size,
 * whether the server has `repodata.json.zst`). Later loads revalidate with
 * `If-None-Match` / `If-Modified-Since`; a 304 reuses the cached file. In
 * `offline` mode only the cache is read. `file://` channels are read in place.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import zlib from "node:zlib";
import { NetworkError, NotFoundError, PonchoError, UsageError } from "../errors.ts";
import { httpFetch } from "../net/http.ts";
import type { StoreLayout } from "../../store/layout.ts";
import { ownerTmp } from "../../store/owner.ts";

/** Where named channels live. */
export const DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org";

/** A channel: what the user wrote and the base URL it resolves to. */
export interface Channel {
  /** The channel as the user named it (e.g. `conda-forge`, or a URL). */
  name: string;
  /** Base URL without trailing slash (`https://...`, `http://...` or `file://...`). */
  url: string;
}

/** Resolves a channel given by name, URL or path to a {@linkcode Channel}. */
export function parseChannel(spec: string, cwd: string = Deno.cwd()): Channel {
  const s = spec.trim();
  if (!s) throw new UsageError("empty channel name; give a name (conda-forge), a URL or a path");
  const strip = (u: string) => u.replace(/\/+$/, "");
  if (/^https?:\/\//i.test(s)) return { name: s, url: strip(s) };
  if (/^file:\/\//i.test(s)) {
    try {
      fileURLToPath(s);
    } catch {
      throw new UsageError(`invalid file:// channel URL ${s}; use file:///absolute/path`);
    }
    return { name: s, url: strip(s) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    throw new UsageError(`unsupported channel URL ${s}; use https://, http:// or file://`);
  }
  if (isAbsolute(s) || s.startsWith("./") || s.startsWith("../") || s === ".") {
    return { name: s, url: strip(pathToFileURL(resolve(cwd, s)).href) };
  }
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(s)) {
    throw new UsageError(
      `invalid channel name "${s}"; use a name like conda-forge, a URL or a path`,
    );
  }
  return { name: s, url: `${DEFAULT_CHANNEL_ALIAS}/${s}` };
}

/** The repodata of one channel subdir, ready to read from disk. */
export interface SubdirRepodata {
  /** The channel. */
  channel: Channel;
  /** The subdir (`linux-64`, `noarch`, ...). */
  subdir: string;
  /** `<channel.url>/<subdir>` (no trailing slash). */
  url: string;
  /** The decoded `repodata.json` on disk, or `null` when the channel has no such subdir. */
  path: string | null;
  /** How it was obtained. */
  source: "file" | "downloaded" | "not-modified" | "cache";
  /** Which remote file the cache came from (`repodata.json.zst` or `repodata.json`). */
  remoteFile?: string;
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
}

/** What is remembered about a cached subdir. */
interface CacheMeta {
  url: string;
  /** Remote file name the cached JSON came from; absent when `missing`. */
  remoteFile?: string;
  etag?: string;
  lastModified?: string;
  /** Byte size of `<key>.json`; a mismatch means the pair is torn, so the cache is ignored. */
  size?: number;
  hasZst?: boolean;
  /** The subdir does not exist on the server (404 for every file). */
  missing?: boolean;
  fetchedAt: string;
}

/** The file-name stem of a subdir's cache entry (readable part plus a hash). */
export function cacheKey(subdirUrl: string): string {
  const readable = subdirUrl.replace(/^[a-z]+:\/\//i, "").replace(/[^A-Za-z0-9_.-]+/g, "_")
    .slice(-60);
  const hash = createHash("sha256").update(subdirUrl).digest("hex").slice(0, 12);
  return `${readable}-${hash}`;
}

/**
 * Decodes zstd data made of any number of frames (and skippable frames).
 * `node:zlib`'s zstd stops after the first frame, so frames are split here and
 * decoded one by one.
 */
export function decodeZstd(data: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  while (pos < data.length) {
    if (pos + 4 > data.length) throw new Error("truncated zstd data");
    const magic = view.getUint32(pos, true);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      pos += 8 + view.getUint32(pos + 4, true);
      continue;
    }
    if (magic !== 0xfd2fb528) throw new Error(`not zstd data at byte ${pos}`);
    const start = pos;
    const fhd = data[pos + 4];
    const fcsFlag = fhd >> 6;
    const singleSegment = (fhd >> 5) & 1;
    const checksum = (fhd >> 2) & 1;
    const dictSize = [0, 1, 2, 4][fhd & 3];
    const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag];
    pos += 5 + (singleSegment ? 0 : 1) + dictSize + fcsSize;
    for (;;) {
      if (pos + 3 > data.length) throw new Error("truncated zstd frame");
      const header = data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16);
      const last = header & 1;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      pos += 3 + (type === 1 ? 1 : size);
      if (last) break;
    }
    if (checksum) pos += 4;
    if (pos > data.length) throw new Error("truncated zstd frame");
    parts.push(zlib.zstdDecompressSync(data.subarray(start, pos)));
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

async function exists(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

async function readMeta(layout: StoreLayout, key: string): Promise<CacheMeta | null> {
  try {
    const meta = JSON.parse(await Deno.readTextFile(join(layout.repodata, `${key}.meta.json`)));
    if (meta.missing) return meta;
    const info = await exists(join(layout.repodata, `${key}.json`));
    return info && info.size === meta.size ? meta : null;
  } catch {
    return null;
  }
}

/** Writes `data` to `dest` through a temp file in `layout.tmp` and a rename. */
async function writeAtomic(layout: StoreLayout, dest: string, data: Uint8Array): Promise<void> {
  await Deno.mkdir(layout.tmp, { recursive: true });
  const tmp = await Deno.makeTempFile({ dir: ownerTmp(layout), prefix: "repodata-" });
  try {
    await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, dest);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET with retries on network errors and 5xx/429; returns the last response. */
async function getWithRetry(
  url: string,
  headers: Record<string, string>,
  attempts: number,
): Promise<Response> {
  let lastErr: unknown;
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await sleep(200 * 2 ** (i - 1));
    try {
      const res = await httpFetch(url, { headers });
      if ((res.status >= 500 || res.status === 429) && i < attempts - 1) {
        await res.body?.cancel();
        continue;
      }
      return res;
    } catch (err) {
      lastErr = err;
    }
  }
  const reason = lastErr instanceof Error ? lastErr.message : String(lastErr);
  throw new NetworkError(
    `cannot reach channel at ${url} (${
      reason.split("\n")[0]
    }); check the URL, the network or use --offline`,
    { cause: lastErr, url },
  );
}

async function loadFileSubdir(channel: Channel, subdir: string, opts: RepodataOptions) {
  const url = `${channel.url}/${subdir}`;
  const dir = fileURLToPath(url);
  const json = join(dir, "repodata.json");
  if (await exists(json)) {
    return {
      channel,
      subdir,
      url,
      path: json,
      source: "file" as const,
      remoteFile: "repodata.json",
    };
  }
  const zst = join(dir, "repodata.json.zst");
  if (await exists(zst)) {
    const key = cacheKey(url);
    const dest = join(opts.layout.repodata, `${key}.json`);
    await Deno.mkdir(opts.layout.repodata, { recursive: true });
    await writeAtomic(opts.layout, dest, decodeZstd(await Deno.readFile(zst)));
    return {
      channel,
      subdir,
      url,
      path: dest,
      source: "file" as const,
      remoteFile: "repodata.json.zst",
    };
  }
  return { channel, subdir, url, path: null, source: "file" as const };
}

/** Loads (downloading, revalidating or reading from cache) the repodata of one subdir. */
export async function loadRepodata(
  channel: Channel,
  subdir: string,
  opts: RepodataOptions,
): Promise<SubdirRepodata> {
  if (channel.url.startsWith("file://")) return await loadFileSubdir(channel, subdir, opts);
  const url = `${channel.url}/${subdir}`;
  const key = cacheKey(url);
  const jsonPath = join(opts.layout.repodata, `${key}.json`);
  const metaPath = join(opts.layout.repodata, `${key}.meta.json`);
  const log = opts.log ?? (() => {});
  const attempts = opts.attempts ?? 3;
  const meta = await readMeta(opts.layout, key);
  const result = (source: SubdirRepodata["source"], m: CacheMeta | null): SubdirRepodata => ({
    channel,
    subdir,
    url,
    path: m && !m.missing ? jsonPath : null,
    source,
    remoteFile: m?.remoteFile,
  });

  if (opts.offline) {
    if (!meta) {
      throw new NotFoundError(
        `no cached repodata for ${url}/ (offline mode); run once without --offline`,
      );
    }
    return result("cache", meta);
  }
  await Deno.mkdir(opts.layout.repodata, { recursive: true });

  const store = async (m: CacheMeta, data?: Uint8Array) => {
    if (data) await writeAtomic(opts.layout, jsonPath, data);
    await writeAtomic(opts.layout, metaPath, new TextEncoder().encode(JSON.stringify(m, null, 1)));
  };
  const fromResponse = async (res: Response, remoteFile: string, hasZst: boolean) => {
    const raw = new Uint8Array(await res.arrayBuffer());
    let data: Uint8Array;
    try {
      data = remoteFile.endsWith(".zst") ? decodeZstd(raw) : raw;
      const first = data.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
      if (first !== 0x7b) throw new Error("not a JSON object");
    } catch (err) {
      throw new PonchoError(
        `cannot decode ${url}/${remoteFile}: ${(err as Error).message}; the server sent bad data`,
      );
    }
    const m: CacheMeta = {
      url,
      remoteFile,
      etag: res.headers.get("etag") ?? undefined,
      lastModified: res.headers.get("last-modified") ?? undefined,
      size: data.length,
      hasZst,
      fetchedAt: new Date().toISOString(),
    };
    await store(m, data);
    return m;
  };
  const failed = (res: Response, file: string): never => {
    throw new PonchoError(
      `channel ${url}/${file} answered HTTP ${res.status} ${res.statusText}; check the channel URL`,
    );
  };

  // Revalidate what we have.
  if (meta && !meta.missing && meta.remoteFile) {
    const headers: Record<string, string> = {};
    if (meta.etag) headers["if-none-match"] = meta.etag;
    if (meta.lastModified) headers["if-modified-since"] = meta.lastModified;
    const res = await getWithRetry(`${url}/${meta.remoteFile}`, headers, attempts);
    if (res.status === 304) {
      await res.body?.cancel();
      log(`repodata ${url}/${meta.remoteFile}: not modified`);
      await store({ ...meta, fetchedAt: new Date().toISOString() });
      return result("not-modified", meta);
    }
    if (res.ok) {
      log(`repodata ${url}/${meta.remoteFile}: changed, downloaded`);
      return result("downloaded", await fromResponse(res, meta.remoteFile, meta.hasZst ?? false));
    }
    await res.body?.cancel();
    if (res.status !== 404) failed(res, meta.remoteFile);
  }

  // Fresh download: prefer repodata.json.zst, fall back to repodata.json.
  const zres = await getWithRetry(`${url}/repodata.json.zst`, {}, attempts);
  if (zres.ok) {
    log(`repodata ${url}/repodata.json.zst: downloaded`);
    return result("downloaded", await fromResponse(zres, "repodata.json.zst", true));
  }
  await zres.body?.cancel();
  if (zres.status >= 500) failed(zres, "repodata.json.zst");
  const jres = await getWithRetry(`${url}/repodata.json`, {}, attempts);
  if (jres.ok) {
    log(`repodata ${url}/repodata.json: downloaded`);
    return result("downloaded", await fromResponse(jres, "repodata.json", false));
  }
  await jres.body?.cancel();
  if (jres.status === 404) {
    log(`repodata ${url}/: no such subdir`);
    const m: CacheMeta = { url, missing: true, fetchedAt: new Date().toISOString() };
    await store(m);
    return result("downloaded", m);
  }
  return failed(jres, "repodata.json");
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
    if (all.every((r) => r.channel !== c || r.path === null)) {
      throw new NotFoundError(
        `channel ${c.url} has no repodata.json for ${
          subdirs.join(" or ")
        }; check the channel name or URL`,
      );
    }
  }
  return all;
}
