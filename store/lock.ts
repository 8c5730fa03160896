/**
 * Advisory file locks (`flock(2)` through `Deno.FsFile`), shared or
 * exclusive, with a timeout.
 *
 * The lock file is opened read-write and created if missing: on NFS the
 * Linux client emulates `flock` with POSIX byte-range locks, which need a
 * file opened for writing to take an exclusive lock.
 *
 * Waiting is done by polling the non-blocking `tryLock` with a growing
 * sleep (2 ms up to 50 ms), never with the blocking `lock()`: a blocking
 * call cannot be cancelled, so a timeout would leave it pending and the lock
 * could be granted later to a caller that has already given up. With
 * polling, a timeout simply stops trying and closes the file; nothing is
 * left held or hanging. Closing the file (also by process death, including
 * `kill -9`) releases the lock.
 *
 * An exclusive lock taken with `record: true` (the build locks) writes a
 * sidecar `<lock>.holder` (JSON: pid, host, since, what) once held, and
 * removes it before releasing; a waiter reads it to say who it waits for
 * (`onWait`), and the timeout error names the holder. A sidecar left by a
 * killed holder is overwritten by the next one (and swept by gc with its
 * lock file).
 *
 * ```ts
 * await withLock("/store/v1/locks/x.lock", async () => {
 *   // only one process at a time gets here
 * }, { exclusive: true, timeoutMs: 300_000 });
 * ```
 *
 * @module
 */

import { errnoOf, LockTimeoutError } from "../lib/errors.ts";
import { writeFileAtomicSync } from "../lib/fs/atomic.ts";

export { LockTimeoutError };

/** Options for {@link acquireLock} and {@link withLock}. */
export interface LockOptions {
  /** Exclusive (writer) lock when true, shared (reader) lock otherwise. Default: true. */
  exclusive?: boolean;
  /**
   * How long to wait for the lock, in milliseconds. `0` tries once;
   * `Infinity` (the default) waits forever.
   */
  timeoutMs?: number;
  /** What the lock protects, for the timeout message (default: the lock path). */
  what?: string;
  /** Record this process as the holder in the `<lock>.holder` sidecar (exclusive locks). */
  record?: boolean;
  /**
   * Called when the lock is busy: once at the first failed try, then every
   * `reportEveryMs`, with the holder recorded in the sidecar (or null).
   */
  onWait?: (holder: LockHolder | null, waitedMs: number) => void;
  /** How often `onWait` is called again while waiting (default 30 s). */
  reportEveryMs?: number;
}

/** Who holds a lock, as its holder recorded it in the `<lock>.holder` sidecar. */
export interface LockHolder {
  /** Process id of the holder. */
  pid: number;
  /** Host name of the holder. */
  host: string;
  /** When it took the lock (ISO 8601). */
  since: string;
  /** What it holds the lock for. */
  what?: string;
}

/** The sidecar file naming the holder of the lock at `lockPath`. */
export function holderPath(lockPath: string): string {
  return `${lockPath}.holder`;
}

/** Reads the recorded holder of a lock, or null when none is recorded (or unreadable). */
export function readHolder(lockPath: string): LockHolder | null {
  try {
    const v = JSON.parse(Deno.readTextFileSync(holderPath(lockPath)));
    if (typeof v?.pid !== "number" || typeof v?.host !== "string") return null;
    return { pid: v.pid, host: v.host, since: String(v.since ?? "?"), what: v.what };
  } catch {
    // Only informative (it names the holder in a message): a sidecar that is missing (never
    // recorded, released meanwhile), half-written by a killed holder or unreadable must not turn
    // a lock wait or timeout into another error.
    return null;
  }
}

/** Describes a holder for messages: `pid 42 on host h since 2026-01-01T00:00:00Z`. */
export function describeHolder(holder: LockHolder | null): string {
  return holder ? `pid ${holder.pid} on host ${holder.host} since ${holder.since}` : "";
}

function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "?"; // only informative (the holder sidecar), e.g. without --allow-sys
  }
}

function writeHolder(lockPath: string, what: string | undefined): void {
  const record: LockHolder = { pid: Deno.pid, host: hostName(), since: new Date().toISOString() };
  if (what) record.what = what;
  try {
    // Atomic, not durable: it describes a live process, which no lock outlives a reboot.
    writeFileAtomicSync(holderPath(lockPath), JSON.stringify(record) + "\n");
  } catch (err) {
    // Only informative: a lock directory where the sidecar cannot be written still locks.
    if (errnoOf(err) === undefined) throw err;
  }
}

/** The error for a lock at `path` (protecting `what`) not obtained within `timeoutMs`. */
export function lockTimeoutError(path: string, what: string, timeoutMs: number): LockTimeoutError {
  const holder = describeHolder(readHolder(path));
  return new LockTimeoutError(
    `could not lock ${what} within ${timeoutMs / 1000} s (lock file ${path}); ` +
      `${
        holder ? `held by ${holder}` : "another process holds it"
      }: wait, or raise --wait-for-lock`,
    { path },
  );
}

/** A lock held on an open lock file. */
export interface HeldLock extends Disposable {
  /** The lock file's path. */
  readonly path: string;
  /** Whether the lock is exclusive. */
  readonly exclusive: boolean;
  /** Releases the lock and closes the file. Safe to call more than once. */
  release(): void;
}

/**
 * Opens (creating if needed) a lock file read-write. A new lock file in a
 * group-writable directory (a store shared by a group) is made group-
 * writable too, whatever the umask: every member must be able to open it
 * read-write to lock it.
 */
function openLockFile(path: string): Deno.FsFile {
  const opts = { read: true, write: true } as const;
  try {
    return Deno.openSync(path, opts); // the common case: it exists
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : "/";
  Deno.mkdirSync(dir, { recursive: true });
  const file = Deno.openSync(path, { ...opts, create: true });
  try {
    const dirMode = Deno.statSync(dir).mode ?? 0;
    const mode = file.statSync().mode ?? 0;
    if ((dirMode & 0o020) && !(mode & 0o020)) Deno.chmodSync(path, (mode & 0o777) | 0o060);
  } catch (err) {
    // Not ours to change (another user created it meanwhile), or removed by gc meanwhile (then
    // the locker opens the one at the path again): it stays as it is.
    if (!(err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotFound)) {
      throw err;
    }
  }
  return file;
}

function held(path: string, file: Deno.FsFile, exclusive: boolean, recorded = false): HeldLock {
  let open = true;
  const release = () => {
    if (!open) return;
    open = false;
    try {
      if (recorded) {
        try {
          Deno.removeSync(holderPath(path)); // still held: nobody else writes it now
        } catch (err) {
          // Gone already, or not removable: a sidecar left behind is overwritten by the next
          // holder and swept by gc, and release() runs in `finally` blocks, where throwing
          // would hide the error being handled.
          if (errnoOf(err) === undefined) throw err;
        }
      }
      file.unlockSync();
    } finally {
      file.close();
    }
  };
  return { path, exclusive, release, [Symbol.dispose]: release };
}

/**
 * Tries once to take the lock, without waiting.
 *
 * @param path The lock file (created, with its directory, if missing).
 * @param exclusive Exclusive when true, shared when false.
 * @returns The held lock, or `null` if another process holds a conflicting lock.
 */
export function tryLock(path: string, exclusive = true): HeldLock | null {
  for (;;) {
    const file = openLockFile(path);
    let ok = false;
    try {
      ok = file.tryLockSync(exclusive);
      if (ok && !stillAtPath(file, path)) {
        ok = false;
        continue; // gc removed the lock file meanwhile: lock the one now at the path
      }
    } finally {
      if (!ok) file.close();
    }
    return ok ? held(path, file, exclusive) : null;
  }
}

/**
 * Whether the locked `file` is still the one at `path`: gc removes the lock
 * files of things that no longer exist (holding them exclusively), so a
 * process that opened one just before must not keep a lock on a removed
 * file that nobody else can see.
 */
function stillAtPath(file: Deno.FsFile, path: string): boolean {
  try {
    const a = file.statSync();
    const b = Deno.statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * Takes the lock, waiting up to `timeoutMs`.
 *
 * @throws {LockTimeoutError} if the lock was not obtained in time.
 */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<HeldLock> {
  const exclusive = options.exclusive ?? true;
  const timeoutMs = options.timeoutMs ?? Infinity;
  let file = openLockFile(path);
  let ok = false;
  try {
    const start = Date.now();
    const deadline = start + timeoutMs;
    const every = options.reportEveryMs ?? 30_000;
    let nextReport = start;
    let pause = 2;
    while (!(ok = file.tryLockSync(exclusive) && stillAtPath(file, path))) {
      if (!stillAtPath(file, path)) {
        file.close();
        file = openLockFile(path); // removed by gc meanwhile: wait on the one now at the path
        continue;
      }
      const now = Date.now();
      if (options.onWait && now >= nextReport) {
        options.onWait(readHolder(path), now - start);
        nextReport = now + every;
      }
      const left = deadline - now;
      if (left <= 0) throw lockTimeoutError(path, options.what ?? path, timeoutMs);
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      pause = Math.min(pause * 2, 50);
    }
  } finally {
    if (!ok) file.close();
  }
  const record = exclusive && options.record === true;
  if (record) writeHolder(path, options.what);
  return held(path, file, exclusive, record);
}

/**
 * Runs `fn` while holding the lock at `path`, releasing it afterwards
 * (also when `fn` throws).
 *
 * @throws {LockTimeoutError} if the lock was not obtained in time.
 */
export async function withLock<T>(
  path: string,
  fn: () => T | Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const lock = await acquireLock(path, options);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
