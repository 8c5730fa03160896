/**
 * Replaces the Poncho process with the command (`execve(2)` through libc)
 * instead of starting it as a child and waiting for it: no spawn, no Deno
 * process waiting beside the command and torn down after it. The command
 * keeps Poncho's process id, so its signals and exit status reach the
 * caller unchanged, as on the single file's warm path (`launcher.sh`).
 *
 * What the command must keep (the environment's shared lock) has to be on
 * a descriptor it inherits (`store/inherit_lock.ts`); Deno's own
 * descriptors are close-on-exec. The process ends here as it would at
 * exit: the `unload` listeners (owner temp dirs, `store/owner.ts`) run first.
 *
 * @module
 */

import { cString, libc, pointerOf } from "../libc.ts";

const SIGPIPE = 13;
const SIG_DFL = 0n;

/** A NULL-terminated array of C strings, each kept alive in `keep`. */
function pointerArray(strings: readonly string[], keep: Uint8Array[]): BigUint64Array<ArrayBuffer> {
  const array = new BigUint64Array(strings.length + 1);
  strings.forEach((text, i) => {
    const bytes = cString(text);
    keep.push(bytes);
    array[i] = pointerOf(bytes);
  });
  return array;
}

/**
 * Executes `program` (an absolute or relative path, not looked up in
 * `PATH`) with `args` as `argv[1..]` and exactly the variables `env`, in
 * place of this process. Returns only when it could not: no libc through
 * FFI, or `execve` failed (the caller then starts the command as a child,
 * which reports why). Unload listeners have run by then.
 *
 * SIGPIPE, which the Deno runtime ignores, is set back to its default
 * first (and restored if `execve` fails): an ignored signal would stay
 * ignored in the command, as `Deno.Command` also avoids.
 *
 * @example Replace this process with `/bin/echo` (never returns if it works)
 * ```ts ignore
 * import { replaceProcess } from "./replace.ts";
 *
 * replaceProcess("/bin/echo", ["hello"], { PATH: "/usr/bin:/bin" });
 * console.error("could not exec /bin/echo");
 * ```
 */
export function replaceProcess(
  program: string,
  args: readonly string[],
  env: Record<string, string>,
): false {
  const c = libc();
  if (!c) return false;
  const keep: Uint8Array[] = [];
  const argv = pointerArray([program, ...args], keep);
  const envp = pointerArray(Object.entries(env).map(([k, v]) => `${k}=${v}`), keep);
  const path = cString(program);
  globalThis.dispatchEvent(new Event("unload"));
  const before = BigInt(c.signal(SIGPIPE, SIG_DFL));
  c.execve(path, argv, envp);
  c.signal(SIGPIPE, before); // still here: the disposition as it was
  return false;
}
