/**
 * The C library through FFI, loaded once, for the few calls Poncho makes
 * that Deno has no API for: a descriptor children inherit (`open` without
 * `O_CLOEXEC`, `flock`: `store/inherit_lock.ts`), a pipe's size (`fcntl`:
 * `archive/pipe_size.ts`) and a process replaced by its command (`execve`,
 * `signal`: `exec/replace.ts`).
 *
 * {@link libc} is null where it cannot be loaded (not Linux, no FFI
 * permission, neither glibc's `libc.so.6` nor a loadable `libc.so`); each
 * caller then does without, as its module says.
 *
 * @module
 */

/**
 * The functions bound, and their C signatures. Deno binds each one when the
 * library is opened (about 0.2 ms each): only what Poncho calls.
 */
export const LIBC_SYMBOLS = {
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  signal: { parameters: ["i32", "usize"], result: "usize" },
} as const;

/** The C functions {@link libc} gives. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

let loaded: Libc | null | undefined;

/**
 * The C library, loaded on first use; null when it cannot be.
 *
 * @example Whether this process can call libc
 * ```ts
 * import { libc } from "./libc.ts";
 *
 * const c = libc();
 * console.log(c === null ? "no FFI here" : `pid ${Deno.pid}`);
 * ```
 */
export function libc(): Libc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (Deno.build.os !== "linux") return loaded;
  for (const name of ["libc.so.6", "libc.so"]) {
    try {
      loaded = Deno.dlopen(name, LIBC_SYMBOLS).symbols;
      break;
    } catch (err) {
      // No FFI permission, or not this libc (musl's is libc.so): try the next, else none.
      if (!(err instanceof Error)) throw err;
    }
  }
  return loaded;
}

/** `text` as a NUL-terminated C string (UTF-8). */
export function cString(text: string): Uint8Array {
  return new TextEncoder().encode(`${text}\0`);
}

/** The address of `bytes`' first byte, as a C pointer value (for pointer arrays and structs). */
export function pointerOf(bytes: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
}
