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
 * ```ts
 * await withLock("/store/v1/locks/x.lock", async () => {
 *   // only one process at a time gets here
 * }, { exclusive: true, timeoutMs: 300_000 });
 * ```
 *
 * @module
 */

import { EXIT_FAILED, PonchoError } from "../lib/errors.ts";

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

/** The error thrown when a lock is not obtained in time (exit code 3). */
export class LockTimeoutError extends PonchoError {
  /** The lock file. */
  readonly path: string;
  /**
   * Creates the error for a lock not obtained within `timeoutMs`.
   *
   * @param path The lock file.
   * @param what What the lock protects.
   * @param timeoutMs How long was waited.
   */
  constructor(path: string, what: string, timeoutMs: number) {
    super(
      `could not lock ${what} within ${timeoutMs / 1000} s (lock file ${path}); ` +
        `another process holds it: wait, or raise --wait-for-lock`,
      EXIT_FAILED,
    );
    this.path = path;
    this.name = "LockTimeoutError";
  }
}

function openLockFile(path: string): Deno.FsFile {
  const opts = { read: true, write: true, create: true } as const;
  try {
    return Deno.openSync(path, opts);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    const slash = path.lastIndexOf("/");
    if (slash > 0) Deno.mkdirSync(path.slice(0, slash), { recursive: true });
    return Deno.openSync(path, opts);
  }
}

function held(path: string, file: Deno.FsFile, exclusive: boolean): HeldLock {
  let open = true;
  const release = () => {
    if (!open) return;
    open = false;
    try {
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
  const file = openLockFile(path);
  let ok = false;
  try {
    ok = file.tryLockSync(exclusive);
  } finally {
    if (!ok) file.close();
  }
  return ok ? held(path, file, exclusive) : null;
}

/**
 * Takes the lock, waiting up to `timeoutMs`.
 *
 * @throws {LockTimeoutError} if the lock was not obtained in time.
 */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<HeldLock> {
  const exclusive = options.exclusive ?? true;
  const timeoutMs = options.timeoutMs ?? Infinity;
  const file = openLockFile(path);
  let ok = false;
  try {
    const deadline = Date.now() + timeoutMs;
    let pause = 2;
    while (!(ok = file.tryLockSync(exclusive))) {
      const left = deadline - Date.now();
      if (left <= 0) throw new LockTimeoutError(path, options.what ?? path, timeoutMs);
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)));
      pause = Math.min(pause * 2, 50);
    }
  } finally {
    if (!ok) file.close();
  }
  return held(path, file, exclusive);
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
