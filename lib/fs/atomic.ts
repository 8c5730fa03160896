/**
 * Atomic file writes: the one place where Poncho puts a file or a directory
 * into place so that readers see either the old content or the complete new
 * one, never a half-written file.
 *
 * Every write goes to a temp file in the destination's directory (or in a
 * given directory on the same filesystem, such as this process's directory
 * under the store's `tmp/`), then is renamed over the destination; on any
 * failure the temp is removed and the destination is untouched. With
 * `durable`, the temp is fsynced before the rename and the directory after
 * it, so the new content survives a power loss, not just a crash of the
 * process: used for what later runs trust without re-checking (ready
 * markers, index records, completion markers), not for caches that are
 * validated when read.
 *
 * | function                    | puts in place                                        |
 * | --------------------------- | ---------------------------------------------------- |
 * | {@linkcode writeFileAtomic} | bytes or text                                        |
 * | {@linkcode writeOutputFile} | bytes or text into an output the user named (devices and FIFOs written to) |
 * | {@linkcode replaceFile}     | whatever a callback makes at the temp path (a copy, a symlink, a stream) |
 * | {@linkcode publishDir}      | a directory built elsewhere on the same filesystem   |
 *
 * @module
 */

import { isAbsent } from "./probe.ts";
import { writeAllSync } from "./io.ts";

/** How an atomic write is done. */
export interface AtomicOptions {
  /**
   * Where the temp file is made (default: the destination's directory). It
   * must be on the destination's filesystem, or the rename fails (`EXDEV`).
   */
  tmpDir?: string;
  /** Fsync the file before the rename and its directory after it. */
  durable?: boolean;
  /**
   * The file's exact permission bits, set with `chmod` (so the umask does not
   * apply). Default: `0o666` less the umask, as for any new file.
   */
  mode?: number;
  /**
   * Called with the temp path before it is created; `done()` is called once
   * the temp is renamed or removed (the store records temps outside it this
   * way, so gc can remove them if the process is killed).
   */
  track?: (tmp: string) => { done(): void };
}

/**
 * The temp path for `path`: `.<name>.tmp-<8 hex>`, beside it or in `tmpDir`
 * (the form the store's gc recognises as an external temp).
 */
export function tempPathFor(path: string, tmpDir?: string): string {
  const slash = path.lastIndexOf("/");
  const dir = tmpDir ?? (slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash));
  const rand = crypto.randomUUID().slice(0, 8);
  return `${dir === "/" ? "" : dir}/.${path.slice(slash + 1)}.tmp-${rand}`;
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

/**
 * Puts a file at `path` atomically: `fill(tmp)` creates the temp file (any
 * way: copy, symlink, streamed write, verified download), then it gets
 * `options.mode`, is fsynced with `options.durable`, and is renamed over
 * `path`. If `fill` or any later step throws, the temp is removed and the
 * error is rethrown unchanged; `path` keeps its old content.
 *
 * @param path The destination (replaced if it exists).
 * @param fill Creates the file at the temp path it is given.
 * @param options Where the temp goes, durability, mode, tracking.
 * @returns What `fill` returned.
 */
export async function replaceFile<T>(
  path: string,
  fill: (tmp: string) => Promise<T>,
  options: AtomicOptions = {},
): Promise<T> {
  const tmp = tempPathFor(path, options.tmpDir);
  const record = options.track?.(tmp);
  try {
    const result = await fill(tmp);
    if (options.mode !== undefined) await Deno.chmod(tmp, options.mode);
    if (options.durable) await syncFile(tmp);
    await Deno.rename(tmp, path);
    if (options.durable) await syncDir(parentOf(path));
    return result;
  } catch (err) {
    await removeTemp(tmp);
    throw err;
  } finally {
    record?.done();
  }
}

/**
 * Writes `data` (text is UTF-8 encoded) to `path` atomically (see
 * {@linkcode replaceFile}).
 *
 * @example Replace a file; no temp is left beside it
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFileAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a.json`, "{}\n");
 * await writeFileAtomic(`${dir}/a.json`, '{"v": 2}\n', { durable: true });
 * assert.equal(await Deno.readTextFile(`${dir}/a.json`), '{"v": 2}\n');
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.json"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @param path The destination (replaced if it exists).
 * @param data The new content.
 * @param options Where the temp goes, durability, mode, tracking.
 */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicOptions = {},
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return replaceFile(path, async (tmp) => {
    using file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o666 });
    for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
  }, options);
}

/**
 * Writes an output the user named: straight into it when it is a device,
 * FIFO or socket (`/dev/stdout`, a pipe; see {@linkcode isSpecialFile}),
 * else atomically like {@linkcode writeFileAtomic}.
 *
 * @param path The output file.
 * @param data The new content.
 * @param options Used for the atomic write.
 */
export async function writeOutputFile(
  path: string,
  data: string | Uint8Array,
  options: AtomicOptions = {},
): Promise<void> {
  if (!(await isSpecialFile(path))) return writeFileAtomic(path, data, options);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  using file = await Deno.open(path, { write: true });
  for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
}

/**
 * The synchronous {@linkcode writeFileAtomic}, for callers that must not
 * yield (taking a lock) or write many small files where async scheduling
 * costs more than the I/O (repodata shards). `track` is not supported.
 *
 * @param path The destination (replaced if it exists).
 * @param data The new content.
 * @param options Where the temp goes, durability, mode.
 */
export function writeFileAtomicSync(
  path: string,
  data: string | Uint8Array,
  options: Omit<AtomicOptions, "track"> = {},
): void {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = tempPathFor(path, options.tmpDir);
  try {
    {
      using file = Deno.openSync(tmp, { write: true, createNew: true, mode: 0o666 });
      writeAllSync(file, bytes);
      if (options.mode !== undefined) Deno.chmodSync(tmp, options.mode);
      if (options.durable) file.syncSync();
    }
    Deno.renameSync(tmp, path);
    if (options.durable) syncDirSync(parentOf(path));
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch { /* best effort: the temp may never have been made; the first error matters */ }
    throw err;
  }
}

/**
 * Renames the finished directory `tmp` to `dest` (same filesystem), which
 * must not exist or be an empty directory; with `durable`, the parent
 * directory is fsynced after the rename. `tmp` is left to the caller when
 * this throws.
 *
 * @param tmp The complete directory.
 * @param dest Where it goes.
 * @param options `durable`: fsync the parent of `dest` after the rename.
 * @throws {Deno.errors.AlreadyExists} when `dest` is a non-empty directory
 *   (the operating system says `EEXIST` or `ENOTEMPTY`; both are reported as
 *   this one class, so callers branch on it).
 */
export async function publishDir(
  tmp: string,
  dest: string,
  options: { durable?: boolean } = {},
): Promise<void> {
  try {
    await Deno.rename(tmp, dest);
  } catch (err) {
    if (isNotEmpty(err)) {
      throw new Deno.errors.AlreadyExists(`${dest} already exists and is not empty`, {
        cause: err,
      });
    }
    throw err;
  }
  if (options.durable) await syncDir(parentOf(dest));
}

/** Whether a rename failed because its target is a non-empty directory (EEXIST or ENOTEMPTY). */
function isNotEmpty(err: unknown): boolean {
  if (err instanceof Deno.errors.AlreadyExists) return true;
  // Deno has no class for ENOTEMPTY; its errors carry the errno name as `code`.
  return err instanceof Error && (err as { code?: unknown }).code === "ENOTEMPTY";
}

/** Fsyncs the file at `path` (its data and metadata reach the disk). */
export async function syncFile(path: string): Promise<void> {
  using file = await Deno.open(path, { read: true });
  await file.sync();
}

/**
 * Fsyncs the directory `dir`, so that a rename or a new name in it survives
 * a power loss. Filesystems that cannot fsync a directory (`EINVAL` on some
 * network and FUSE filesystems) are accepted silently: the rename is done,
 * only its durability is what that filesystem gives.
 */
export async function syncDir(dir: string): Promise<void> {
  using file = await Deno.open(dir, { read: true });
  try {
    await file.sync();
  } catch (err) {
    if (!unsupported(err)) throw err;
  }
}

/** The synchronous {@linkcode syncDir}. */
export function syncDirSync(dir: string): void {
  using file = Deno.openSync(dir, { read: true });
  try {
    file.syncSync();
  } catch (err) {
    if (!unsupported(err)) throw err;
  }
}

function unsupported(err: unknown): boolean {
  if (err instanceof Deno.errors.NotSupported) return true;
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return code === "EINVAL" || code === "ENOTSUP" || code === "EOPNOTSUPP";
}

/**
 * Whether `path` is a device, FIFO or socket: outputs such as `/dev/null`,
 * `/dev/stdout` or a pipe are written to directly, never replaced by a
 * rename. A missing path is not special; other errors (EACCES) are thrown.
 */
export async function isSpecialFile(path: string): Promise<boolean> {
  try {
    const st = await Deno.stat(path);
    return !st.isFile && !st.isDirectory;
  } catch (err) {
    if (isAbsent(err)) {
      return false; // nothing there: the write itself reports a missing directory
    }
    throw err;
  }
}

/** Removes a temp after a failure; best effort, since the error being thrown is what matters. */
async function removeTemp(tmp: string): Promise<void> {
  try {
    await Deno.remove(tmp);
  } catch { /* never made, or already gone: nothing to clean */ }
}
