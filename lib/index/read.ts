/**
 * Reads what a channel index needs from a conda package archive (`.conda` or
 * `.tar.bz2`) without extracting it: `info/index.json`, the file list
 * (`info/paths.json`, else `info/files`) and the `.pth` files of its
 * site-packages roots, plus the archive's size, sha256 and md5.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { CorruptError } from "../errors.ts";
import { bz2Decompress } from "../archive/bz2.ts";
import { readFileChunks } from "../archive/codec.ts";
import { readTar } from "../archive/tar.ts";
import { readZipDirectory, readZipMember } from "../archive/zip.ts";
import { zstdDecompress } from "../archive/zstd.ts";
import { packageFormat } from "../conda/extract.ts";
import type { IndexJson } from "../conda/package_info.ts";
import { siteRootOf } from "./modules.ts";

/** Largest metadata member read into memory. */
const MAX_INFO_BYTES = 64 << 20;

/** The metadata of one package archive. */
export interface PackageMeta {
  /** Parsed `info/index.json`. */
  index: IndexJson;
  /** The package's paths (from `info/paths.json`, else `info/files`). */
  paths: string[];
  /** `.pth` files in a site-packages root: package path to content. */
  pth: Record<string, string>;
  /** Archive size in bytes. */
  size: number;
  /** sha256 of the archive, hex. */
  sha256: string;
  /** md5 of the archive, hex. */
  md5: string;
}

/** Hashes a file: size, sha256, md5. */
export async function hashArchive(
  path: string,
): Promise<{ size: number; sha256: string; md5: string }> {
  const sha = createHash("sha256");
  const md5 = createHash("md5");
  let size = 0;
  for await (const chunk of readFileChunks(path)) {
    sha.update(chunk);
    md5.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: sha.digest("hex"), md5: md5.digest("hex") };
}

interface Collected {
  info: Map<string, string>;
  pth: Record<string, string>;
}

const dec = new TextDecoder();

async function collectTar(
  source: AsyncIterable<Uint8Array>,
  name: string,
  into: Collected,
): Promise<void> {
  for await (const entry of readTar(source, { name })) {
    const path = entry.path.replace(/^\.\//, "");
    if (entry.type !== "file") continue;
    const isInfo = /^info\/(index\.json|paths\.json|files)$/.test(path);
    const isPth = path.endsWith(".pth") && siteRootOf(path) !== null && entry.size < 1 << 20;
    if (!isInfo && !isPth) continue;
    if (entry.size > MAX_INFO_BYTES) {
      throw new CorruptError(`${name}: ${path} is larger than ${MAX_INFO_BYTES} bytes`);
    }
    const text = dec.decode(await entry.bytes());
    if (isInfo) into.info.set(path, text);
    else into.pth[path] = text;
  }
}

function parseJson<T>(archive: string, member: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new CorruptError(`${archive}: ${member} is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Reads a package archive's metadata.
 *
 * @throws {CorruptError} naming the archive when it is corrupt, lacks
 *   `info/index.json`, or its metadata is malformed.
 */
export async function readPackageMeta(archive: string): Promise<PackageMeta> {
  const format = packageFormat(archive);
  const got: Collected = { info: new Map(), pth: {} };
  if (format === "tar.bz2") {
    await collectTar(bz2Decompress(readFileChunks(archive), archive), archive, got);
  } else {
    const members = await readZipDirectory(archive);
    const info = members.find((m) => /(^|\/)info-[^/]*\.tar\.zst$/.test(m.name));
    if (!info) throw new CorruptError(`${archive}: no info-*.tar.zst member; not a .conda package`);
    const name = `${archive}:${info.name}`;
    await collectTar(zstdDecompress(readZipMember(archive, info), name), name, got);
    const paths = listPaths(archive, got.info);
    if (paths.some((p) => p.endsWith(".pth") && siteRootOf(p) !== null)) {
      const pkg = members.find((m) => /(^|\/)pkg-[^/]*\.tar\.zst$/.test(m.name));
      if (pkg) {
        const pname = `${archive}:${pkg.name}`;
        const pkgGot: Collected = { info: new Map(), pth: got.pth };
        await collectTar(zstdDecompress(readZipMember(archive, pkg), pname), pname, pkgGot);
      }
    }
  }
  const indexText = got.info.get("info/index.json");
  if (indexText === undefined) {
    throw new CorruptError(`${archive}: no info/index.json; not a conda package`);
  }
  const index = parseJson<IndexJson>(archive, "info/index.json", indexText);
  if (
    !index || typeof index.name !== "string" || typeof index.version !== "string" ||
    typeof index.build !== "string"
  ) {
    throw new CorruptError(`${archive}: info/index.json lacks name, version or build`);
  }
  const paths = listPaths(archive, got.info);
  return { index, paths, pth: got.pth, ...(await hashArchive(archive)) };
}

function listPaths(archive: string, info: Map<string, string>): string[] {
  const pathsJson = info.get("info/paths.json");
  if (pathsJson !== undefined) {
    const doc = parseJson<{ paths?: { _path?: unknown }[] }>(archive, "info/paths.json", pathsJson);
    return (Array.isArray(doc?.paths) ? doc.paths : []).map((p) => String(p?._path ?? ""))
      .filter(Boolean);
  }
  return (info.get("info/files") ?? "").split("\n").map((l) => l.trim()).filter(Boolean);
}
