/**
 * A lock that the command `poncho run` starts inherits, so that the
 * environment stays locked for as long as the command runs even when
 * `poncho run` itself is killed (`kill -9` included) and `poncho store gc`
 * never removes an environment in use.
 *
 * Deno opens every file close-on-exec, so a lock taken through
 * `Deno.FsFile` dies with the Poncho process. This module opens the lock
 * file through libc (`open(2)` without `O_CLOEXEC`, then `flock(2)`), so
 * the descriptor, and the lock on its open file description, passes to the
 * child at `exec`. It is taken while Poncho already holds the same kind of
 * lock, so it never waits.
 *
 * Without FFI (no `--allow-ffi`, no glibc or musl libc), it returns null and
 * the lock is held by Poncho alone, as before.
 *
 * @module
 */

import { cString, type Libc, libc } from "../lib/libc.ts";

const O_RDWR = 0o2;
const O_CREAT = 0o100;
const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;

/** A lock on a descriptor that child processes inherit. */
export interface InheritedLock {
  /** The descriptor (inherited by every process started while it is open). */
  readonly fd: number;
  /** Closes Poncho's copy of the descriptor (children keep theirs). Idempotent. */
  release(): void;
}

/**
 * Takes a lock on `path` without waiting on a descriptor that children
 * inherit. Call it while holding a lock of the same kind through
 * `tryLock` (`store/lock.ts`), so that it cannot conflict.
 *
 * @returns The lock, or null when FFI is unavailable or the lock is busy.
 */
export function inheritableLock(path: string, exclusive = false): InheritedLock | null {
  const c = libc();
  if (!c) return null;
  const fd = c.open(cString(path), O_RDWR | O_CREAT, 0o666);
  if (fd < 0) return null;
  if (c.flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) !== 0) {
    c.close(fd);
    return null;
  }
  return closingLock(c, fd);
}

/** The lock held on descriptor `fd`: `release()` closes it, once. */
function closingLock(c: Libc, fd: number): InheritedLock {
  let open = true;
  return {
    fd,
    release() {
      if (!open) return;
      open = false;
      c.close(fd);
    },
  };
}

/**
 * Adopts a lock that the single file's launcher took on descriptor `fd`
 * before it started Deno (it passes the number in `PONCHO_SOURCE_LOCK_FD`):
 * `release()` closes that descriptor, which releases the lock, so that no
 * command Poncho starts inherits it.
 *
 * @returns The lock, or null when FFI is unavailable (the descriptor then stays open).
 */
export function adoptInheritedLock(fd: number): InheritedLock | null {
  const c = libc();
  if (!c || !Number.isSafeInteger(fd) || fd < 3) return null;
  return closingLock(c, fd);
}
