/**
 * Materialises a spec's `http` source (CCTools' `"http": {"KEY": {"type":
 * "file"|"tar", "url": URL, "compression": ...}}`) into a directory.
 *
 * - `file`: the download is kept as `<dest>/<basename of the URL>`; with a
 *   `compression` other than `none` it is decompressed and the compression
 *   suffix (`.gz`, `.bz2`, `.zst`) dropped from the name (as CCTools does for
 *   gzip).
 * - `tar`: the archive is unpacked into `<dest>/`. The compression is the
 *   given one, else it is recognised from the file's magic bytes.
 *
 * URLs may be `http://`, `https://` or `file://`. Everything is written to a
 * scratch directory beside `dest` and renamed into place.
 *
 * @module
 */

import { basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { errnoOf, errorLine, fsError, NetworkError, PonchoError, UsageError } from "../errors.ts";
import { httpGet } from "../net/http.ts";
import { type Compression, decompress, readFileChunks } from "../archive/compress.ts";
import { extractTar } from "../archive/extract.ts";
import type { HttpSource } from "../envspec/types.ts";
import { deleteTree } from "../../store/remove.ts";
import { publishDir } from "../fs/atomic.ts";

/** Options of {@link fetchHttpSource}. */
export interface HttpOptions {
  /** Aborts a download in progress. */
  signal?: AbortSignal;
}

/** Spec `compression` values and the archive layer's names for them. */
export const HTTP_COMPRESSIONS: Readonly<Record<string, Compression>> = {
  gzip: "gz",
  bzip2: "bz2",
  zstd: "zst",
  none: "none",
};

const SUFFIX: Record<Compression, RegExp> = {
  gz: /\.(gz|gzip)$/i,
  bz2: /\.(bz2|bzip2)$/i,
  zst: /\.(zst|zstd)$/i,
  none: /$^/,
};

/** Recognises gzip, bzip2 and zstd streams by their first bytes; anything else is `none`. */
export function sniffCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gz";
  if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return "bz2"; // "BZh"
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zst";
  return "none";
}

/**
 * The file name a `file` source is stored under: the last segment of the URL
 * path, percent-decoded, or `data` when the path has none.
 */
export function urlBasename(url: string): string {
  let name = "";
  try {
    name = decodeURIComponent(basename(new URL(url).pathname));
  } catch {
    // Not a URL, or a malformed %-escape (URIError): the name is the text as written.
    name = basename(url);
  }
  name = name.replace(/[\/\0]/g, "_");
  return name === "" || name === "." || name === ".." ? "data" : name;
}

function checkSource(key: string, src: HttpSource): Compression | undefined {
  let scheme: string;
  try {
    scheme = new URL(src.url).protocol;
  } catch {
    // `new URL` fails only on text that is not a URL.
    throw new UsageError(
      `http.${key}.url: '${src.url}' is not a URL (use http://, https://, file://)`,
    );
  }
  if (!["http:", "https:", "file:"].includes(scheme)) {
    throw new UsageError(
      `http.${key}.url: '${src.url}' uses ${scheme.slice(0, -1)}; use http://, https:// or file://`,
    );
  }
  if (src.type !== "file" && src.type !== "tar") {
    throw new UsageError(`http.${key}.type: '${src.type}' must be "file" or "tar"`);
  }
  if (src.compression === undefined) return undefined;
  const c = HTTP_COMPRESSIONS[src.compression];
  if (c === undefined) {
    throw new UsageError(
      `http.${key}.compression: '${src.compression}' must be one of ${
        Object.keys(HTTP_COMPRESSIONS).join(", ")
      }`,
    );
  }
  return c;
}

/** Copies or downloads `url` to the file `to`. */
async function download(
  key: string,
  url: string,
  to: string,
  opts: HttpOptions,
): Promise<void> {
  const where = `http.${key} (${url})`;
  if (url.startsWith("file:")) {
    const path = fileURLToPath(url);
    try {
      await Deno.copyFile(path, to);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
      throw new PonchoError(`${where}: cannot read ${path}: ${why}`, 3, { cause: e });
    }
    return;
  }
  let res: Response;
  try {
    res = await httpGet(url, { signal: opts.signal });
  } catch (e) {
    throw new NetworkError(`${where}: ${errorLine(e)}`, { cause: e, url });
  }
  if (!res.ok || res.body === null) {
    await res.body?.cancel();
    throw new NetworkError(
      `${where}: cannot download: HTTP ${res.status} ${res.statusText}`.trim(),
      { url },
    );
  }
  const file = await Deno.open(to, { write: true, create: true, truncate: true });
  try {
    await res.body.pipeTo(file.writable);
  } catch (e) {
    if (errnoOf(e)) throw fsError(e, to, { what: `${where}: cannot write` });
    throw new NetworkError(`${where}: download interrupted: ${errorLine(e)}`, { cause: e, url });
  }
}

async function readHead(path: string): Promise<Uint8Array> {
  const f = await Deno.open(path);
  try {
    const buf = new Uint8Array(8);
    const n = (await f.read(buf)) ?? 0;
    return buf.subarray(0, n);
  } finally {
    f.close();
  }
}

/**
 * Fetches `src` into the directory `dest` (replaced if it exists; its parent
 * is created).
 *
 * @param key The spec key (an environment variable name), used in errors.
 * @returns The path the environment variable should name, relative to
 *   `dest`: the file's name for `file`, `""` (the directory) for `tar`.
 * @throws {UsageError} for a bad URL scheme, type or compression.
 * @throws {PonchoError} naming the key and URL when the download fails or the
 *   archive is corrupt.
 */
export async function fetchHttpSource(
  key: string,
  src: HttpSource,
  dest: string,
  opts: HttpOptions = {},
): Promise<string> {
  const given = checkSource(key, src);
  const where = `http.${key} (${src.url})`;
  await Deno.mkdir(dirname(dest), { recursive: true });
  const work = await Deno.makeTempDir({ dir: dirname(dest), prefix: `.http-${key}-` });
  try {
    const raw = `${work}/download`;
    const out = `${work}/out`;
    await Deno.mkdir(out);
    await download(key, src.url, raw, opts);
    let rel = "";
    try {
      if (src.type === "tar") {
        const c = given ?? sniffCompression(await readHead(raw));
        await extractTar(decompress(readFileChunks(raw), c, where), out, { name: where });
      } else {
        const c = given ?? "none";
        rel = urlBasename(src.url).replace(SUFFIX[c], "") || "data";
        if (c === "none") await Deno.rename(raw, `${out}/${rel}`);
        else {
          const f = await Deno.open(`${out}/${rel}`, { write: true, createNew: true });
          await ReadableStream.from(decompress(readFileChunks(raw), c, where)).pipeTo(f.writable);
        }
      }
    } catch (e) {
      // Every step above names the source (`where` is its label): its errors keep their kind.
      if (e instanceof PonchoError) throw e;
      if (errnoOf(e)) throw fsError(e, out, { what: `${where}: cannot write` });
      throw new PonchoError(`${where}: ${(e as Error).message}`, 3, { cause: e });
    }
    await deleteTree(dest);
    await publishDir(out, dest);
    return rel;
  } finally {
    await deleteTree(work);
  }
}
