/**
 * Downloads solved packages into the store's `downloads/` dir, verified.
 *
 * Up to `concurrency` downloads run at once. Each streams into a temp file in
 * `layout.tmp` while its sha256 (else md5) is computed; only a file whose
 * digest matches is renamed into `downloads/<sha256><ext>`, so nothing corrupt
 * is ever kept. Network errors and 5xx/429 answers are retried with backoff.
 * `file://` URLs are copied through the same verifying path. Files already in
 * `downloads/` (they were verified when written) are reused. In `offline` mode
 * only those are used.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CorruptError, fsError, NetworkError, NotFoundError, PonchoError } from "../errors.ts";
import { replaceFile } from "../fs/atomic.ts";
import { httpFetch } from "../net/http.ts";
import type { StoreLayout } from "../../store/layout.ts";
import { ownerTmp } from "../../store/owner.ts";
import { touchUsed } from "../../store/cache_gc.ts";
import { statOrNull } from "../fs/probe.ts";

/** What a download needs to know about a package (a subset of a solved record). */
export interface FetchItem {
  /** File name, e.g. `hello-1.0-h0.conda`. */
  fn: string;
  /** `https://`, `http://` or `file://` URL. */
  url: string;
  sha256?: string;
  md5?: string;
  size?: number;
}

/** A package available on disk. */
export interface FetchedPackage<T extends FetchItem = FetchItem> {
  /** The item this is for. */
  item: T;
  /** The verified archive in `layout.downloads`. */
  path: string;
  /** Whether it was already there. */
  reused: boolean;
}

/** Options for {@linkcode fetchPackages}. */
export interface FetchOptions {
  /** The store whose `downloads/` and `tmp/` dirs are used. */
  layout: StoreLayout;
  /** Use only what is already downloaded. */
  offline?: boolean;
  /** Downloads at once (default 4). */
  concurrency?: number;
  /** Attempts per package on network errors and 5xx (default 4). */
  attempts?: number;
  /** Draw a progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /** Receives one line per package (for `--verbose`). */
  log?: (line: string) => void;
}

/** The archive extension of a package file name (`.conda` or `.tar.bz2`). */
export function packageExt(fn: string): string {
  if (fn.endsWith(".conda")) return ".conda";
  if (fn.endsWith(".tar.bz2")) return ".tar.bz2";
  throw new CorruptError(`unknown package format for ${fn}; expected .conda or .tar.bz2`);
}

/** Where a verified archive lives: `downloads/<sha256><ext>` (or `md5-<md5><ext>`). */
export function downloadPath(layout: StoreLayout, item: FetchItem): string {
  const ext = packageExt(item.fn);
  if (item.sha256) return join(layout.downloads, `${item.sha256.toLowerCase()}${ext}`);
  if (item.md5) return join(layout.downloads, `md5-${item.md5.toLowerCase()}${ext}`);
  throw new CorruptError(
    `package ${item.fn} has neither sha256 nor md5 in repodata; cannot verify ${item.url}`,
    { url: item.url },
  );
}

class RetryableError extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Progress state shared by the parallel downloads. */
class Progress {
  #done = 0;
  #bytes = 0;
  #last = 0;
  constructor(readonly total: number, readonly totalBytes: number, readonly enabled: boolean) {}
  add(bytes: number) {
    this.#bytes += bytes;
    this.draw();
  }
  finish() {
    this.#done++;
    this.draw(true);
  }
  draw(force = false) {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    const width = 30;
    const frac = this.totalBytes
      ? Math.min(1, this.#bytes / this.totalBytes)
      : this.#done / this.total;
    const bar = "#".repeat(Math.round(frac * width)).padEnd(width, "-");
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const line = `\r[${bar}] ${this.#done}/${this.total} packages ${mb(this.#bytes)}/${
      mb(this.totalBytes)
    } MB`;
    Deno.stderr.writeSync(new TextEncoder().encode(line));
  }
  end() {
    if (this.enabled) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  }
}

async function openSource(url: string): Promise<ReadableStream<Uint8Array>> {
  if (url.startsWith("file://")) {
    const path = fileURLToPath(url);
    try {
      return (await Deno.open(path)).readable;
    } catch (err) {
      throw fsError(err, path, { what: "cannot read package", role: "input" });
    }
  }
  let res: Response;
  try {
    res = await httpFetch(url);
  } catch (err) {
    throw new RetryableError(`cannot reach ${url}: ${(err as Error).message.split("\n")[0]}`);
  }
  if (res.status >= 500 || res.status === 429) {
    await res.body?.cancel();
    throw new RetryableError(`${url} answered HTTP ${res.status}`);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new NotFoundError(
      `cannot download ${url}: HTTP ${res.status} ${res.statusText}; check the channel`,
      { url },
    );
  }
  return res.body;
}

/** Streams one package into a temp file, verifying it; renames it into place on success. */
async function downloadOne(
  item: FetchItem,
  dest: string,
  layout: StoreLayout,
  progress: Progress,
): Promise<void> {
  let counted = 0;
  // Not fsynced: a download is verified here, reused only when its size matches, and the
  // cache entry extracted from it is flushed to disk before its completion marker.
  await replaceFile(dest, async (tmp) => {
    const sha = createHash("sha256");
    const md5 = createHash("md5");
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      const body = await openSource(item.url);
      try {
        for await (const chunk of body) {
          sha.update(chunk);
          md5.update(chunk);
          let off = 0;
          while (off < chunk.length) off += await file.write(chunk.subarray(off));
          counted += chunk.length;
          progress.add(chunk.length);
        }
      } catch (err) {
        if (err instanceof PonchoError) throw err;
        throw new RetryableError(
          `download of ${item.url} broke off: ${(err as Error).message.split("\n")[0]}`,
        );
      }
    } finally {
      file.close();
    }
    const [kind, want, got] = item.sha256
      ? ["sha256", item.sha256.toLowerCase(), sha.digest("hex")]
      : ["md5", item.md5!.toLowerCase(), md5.digest("hex")];
    if (want !== got) {
      throw new CorruptError(
        `${kind} mismatch for package ${item.fn} from ${item.url}: repodata says ${want}, ` +
          `the file has ${got}; the file was discarded (corrupt download or stale repodata)`,
        { url: item.url },
      );
    }
  }, { tmpDir: ownerTmp(layout) }).catch((err) => {
    progress.add(-counted);
    throw err;
  });
}

/**
 * Makes every item available in `layout.downloads`, verified, and returns
 * them in the order given.
 */
export async function fetchPackages<T extends FetchItem>(
  items: T[],
  options: FetchOptions,
): Promise<FetchedPackage<T>[]> {
  const { layout } = options;
  await Deno.mkdir(layout.downloads, { recursive: true });
  await Deno.mkdir(layout.tmp, { recursive: true });
  const results: FetchedPackage<T>[] = new Array(items.length);
  const todo = await reuseDownloaded(items, results, options);
  if (todo.length > 0) await downloadAll(items, todo, results, options);
  return results;
}

/** The size of the verified download at `path`, or undefined when there is none yet. */
async function downloadedSize(path: string): Promise<number | undefined> {
  const what = "cannot read the downloaded package";
  return (await statOrNull(path, { role: "store", what }))?.size;
}

/**
 * Fills `results` with the items already downloaded (marking their use for
 * gc); returns the indexes of the others. Offline, a missing one is an error.
 */
async function reuseDownloaded<T extends FetchItem>(
  items: T[],
  results: FetchedPackage<T>[],
  options: FetchOptions,
): Promise<number[]> {
  const log = options.log ?? (() => {});
  const todo: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const path = downloadPath(options.layout, item);
    const size = await downloadedSize(path);
    if (size !== undefined && (item.size === undefined || size === item.size)) {
      results[i] = { item, path, reused: true };
      await touchUsed(path); // last use, for gc
      log(`package ${item.fn}: already downloaded`);
    } else if (options.offline) {
      throw new NotFoundError(
        `package ${item.fn} is not downloaded yet (offline mode); run once without --offline`,
      );
    } else {
      todo.push(i);
    }
  }
  return todo;
}

/**
 * Downloads `items[i]` for every `i` of `todo` into `results`, with up to
 * `options.concurrency` at once; the first failure stops the rest and is thrown.
 */
async function downloadAll<T extends FetchItem>(
  items: T[],
  todo: number[],
  results: FetchedPackage<T>[],
  options: FetchOptions,
): Promise<void> {
  const { layout } = options;
  const log = options.log ?? (() => {});
  const totalBytes = todo.reduce((n, i) => n + (items[i].size ?? 0), 0);
  const progress = new Progress(
    todo.length,
    totalBytes,
    options.progress ?? Deno.stderr.isTerminal(),
  );
  let next = 0;
  let failure: unknown = null;
  const worker = async () => {
    while (failure === null && next < todo.length) {
      const i = todo[next++];
      const item = items[i];
      const path = downloadPath(layout, item);
      try {
        await downloadWithRetry(item, path, progress, options);
      } catch (err) {
        failure ??= err;
        return;
      }
      progress.finish();
      log(`package ${item.fn}: downloaded`);
      results[i] = { item, path, reused: false };
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 4, todo.length));
  await Promise.all(Array.from({ length: workers }, worker));
  progress.end();
  if (failure !== null) throw failure;
}

/**
 * Downloads one package, retrying network failures (with backoff) up to
 * `options.attempts` times; the last one is a {@linkcode NetworkError}.
 */
async function downloadWithRetry(
  item: FetchItem,
  path: string,
  progress: Progress,
  options: FetchOptions,
): Promise<void> {
  const attempts = options.attempts ?? 4;
  for (let attempt = 1;; attempt++) {
    try {
      return await downloadOne(item, path, options.layout, progress);
    } catch (err) {
      if (!(err instanceof RetryableError)) throw err;
      if (attempt >= attempts) {
        throw new NetworkError(`${err.message} (after ${attempt} attempts)`, { url: item.url });
      }
      options.log?.(`package ${item.fn}: ${err.message}; retrying`);
      await sleep(250 * 2 ** (attempt - 1));
    }
  }
}
