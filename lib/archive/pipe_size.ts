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

/** `fcntl` command that sets a pipe's capacity. */
const F_SETPIPE_SZ = 1031;
/** `open` flags: read-only, non-blocking (opening a FIFO end never waits). */
const O_RDONLY_NONBLOCK = 0o4000;

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

function loadLibc(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (libc !== undefined) return libc;
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch (err) {
    // No FFI permission, or not glibc (musl names it otherwise): pipes keep their size.
    if (err instanceof Error) libc = null;
    else throw err;
  }
  return libc;
}

/**
 * Sets the capacity of the pipe at `path` (such as `/proc/<pid>/fd/1`) to
 * `bytes`; whether it was set. Linux only; any failure leaves it as it was.
 */
export function widenPipe(path: string, bytes: number): boolean {
  if (Deno.build.os !== "linux") return false;
  const lib = loadLibc();
  if (!lib) return false;
  const fd = lib.symbols.open(new TextEncoder().encode(`${path}\0`), O_RDONLY_NONBLOCK);
  if (fd < 0) return false;
  const set = lib.symbols.fcntl(fd, F_SETPIPE_SZ, bytes) >= 0;
  lib.symbols.close(fd);
  return set;
}
