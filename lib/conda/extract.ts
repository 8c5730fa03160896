/**
 * Extracting conda packages (`.conda` and `.tar.bz2`) into directories, and
 * into the store's content-addressed package cache.
 *
 * A package is extracted into a temp directory beside the destination and
 * renamed into place, so the destination either does not exist or is
 * complete; on any error the temp directory is removed. Member paths are
 * checked (no absolute paths, no `..`, no symlinks leaving the package, no
 * devices), modes are applied exactly (setuid/setgid/sticky included),
 * symlinks stay symlinks and mtimes are kept (see `extract_tar.ts`).
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { fsError, NotFoundError, PonchoError, UsageError } from "../errors.ts";
import { bz2Decompress } from "../archive/bz2.ts";
import { readFileChunks } from "../archive/compress.ts";
import { extractTar } from "../archive/extract_tar.ts";
import { readStoredMember, readZipDirectory } from "../archive/zip.ts";
import { zstdDecompress } from "../archive/zstd.ts";
import type { StoreLayout } from "../../store/layout.ts";
import { withLock } from "../../store/lock.ts";
import { ownerTmp } from "../../store/owner.ts";
import { touchUsed } from "../../store/cache_gc.ts";

/** The two conda package formats. */
export type PackageFormat = "conda" | "tar.bz2";

/** The package format from the file name; a {@link UsageError} otherwise. */
export function packageFormat(path: string): PackageFormat {
  if (path.endsWith(".conda")) return "conda";
  if (path.endsWith(".tar.bz2")) return "tar.bz2";
  throw new UsageError(`${path}: not a conda package; expected a .conda or .tar.bz2 file`);
}

/** Writes the package's contents into the existing, empty directory `dir`. */
async function extractInto(archivePath: string, dir: string): Promise<void> {
  if (packageFormat(archivePath) === "tar.bz2") {
    await extractTar(bz2Decompress(readFileChunks(archivePath), archivePath), dir, {
      name: archivePath,
    });
    return;
  }
  const members = await readZipDirectory(archivePath);
  const tars = members.filter((m) => /^(pkg|info)-.*\.tar\.zst$/.test(m.name));
  if (!tars.some((m) => m.name.startsWith("info-"))) {
    throw new PonchoError(`${archivePath}: no info-*.tar.zst member; not a valid .conda package`);
  }
  // info last, so a package's own files cannot replace its metadata.
  tars.sort((a, b) => (a.name.startsWith("pkg-") ? 0 : 1) - (b.name.startsWith("pkg-") ? 0 : 1));
  for (const m of tars) {
    const name = `${archivePath}:${m.name}`;
    await extractTar(zstdDecompress(readStoredMember(archivePath, m), name), dir, { name });
  }
}

/**
 * Extracts a `.conda` or `.tar.bz2` package into `destDir`, which must not
 * exist. Atomic: built in a temp directory in `tmpDir` (default: beside it;
 * same filesystem), then renamed; nothing is left behind on error.
 */
export async function extractPackage(
  archivePath: string,
  destDir: string,
  tmpDir?: string,
): Promise<void> {
  try {
    await Deno.stat(archivePath);
  } catch {
    throw new NotFoundError(`package archive ${archivePath} does not exist`);
  }
  const parent = dirname(destDir);
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await Deno.makeTempDir({
    dir: tmpDir ?? parent,
    prefix: `.${basename(destDir)}.tmp-`,
  });
  try {
    await extractInto(archivePath, tmp);
    await Deno.chmod(tmp, 0o755);
    await Deno.rename(tmp, destDir);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (
      err instanceof Deno.errors.AlreadyExists || (err as { code?: string }).code === "ENOTEMPTY"
    ) {
      throw new PonchoError(`cannot extract ${archivePath}: ${destDir} already exists`);
    }
    throw fsError(err, destDir, { what: `cannot extract ${basename(archivePath)} into` });
  }
}

/** How long {@link extractPackageToCache} waits for another process extracting the same package. */
export const PACKAGE_LOCK_TIMEOUT_MS = 30 * 60 * 1000;

/**
 * Extracts a package into the store's cache at `layout.pkgs/<sha256>` unless
 * it is already there, under an exclusive lock (`layout.locks/pkg-<sha256>.lock`)
 * so concurrent processes extract it once. Returns the directory. The caller
 * has verified that `archivePath` has this sha256.
 */
export async function extractPackageToCache(
  layout: StoreLayout,
  archivePath: string,
  sha256: string,
): Promise<string> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new UsageError(`package sha256 ${sha256} is not 64 lowercase hex digits`);
  }
  const dest = join(layout.pkgs, sha256);
  if (await exists(dest)) return (await touchUsed(dest), dest); // last use, for gc
  await withLock(
    join(layout.locks, `pkg-${sha256}.lock`),
    async () => {
      if (!(await exists(dest))) await extractPackage(archivePath, dest, ownerTmp(layout));
    },
    {
      exclusive: true,
      timeoutMs: PACKAGE_LOCK_TIMEOUT_MS,
      what: `package ${basename(archivePath)}`,
    },
  );
  return dest;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}
