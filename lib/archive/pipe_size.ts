/**
 * Widening a pipe (Linux `F_SETPIPE_SZ`, through libc by FFI): a 64 KiB
 * pipe between the `zstd` program and the unpacker makes them take turns
 * (zstd stops when the pipe is full, the unpacker when it is empty); at
 * 1 MiB both run at once, which took a cold unpack of 93 MB from about
 * 245 to 218 ms here. Best effort: without FFI permission, a glibc `libc.so.6`
 * or room in the user's pipe quota, the pipe keeps its size.
 *
 * @module
 */

import { cString, libc } from "../libc.ts";

/** `fcntl` command that sets a pipe's capacity. */
const F_SETPIPE_SZ = 1031;
/** `open` flags: read-only, non-blocking (opening a FIFO end never waits). */
const O_RDONLY_NONBLOCK = 0o4000;

/**
 * Sets the capacity of the pipe at `path` (such as `/proc/<pid>/fd/1`) to
 * `bytes`; whether it was set. Linux only; any failure leaves it as it was.
 */
export function widenPipe(path: string, bytes: number): boolean {
  const c = libc(); // null off Linux
  if (!c) return false;
  const fd = c.open(cString(path), O_RDONLY_NONBLOCK, 0);
  if (fd < 0) return false;
  const set = c.fcntl(fd, F_SETPIPE_SZ, bytes) >= 0;
  c.close(fd);
  return set;
}
