/**
 * Fault injection for crash-safety tests, in one place.
 *
 * The product path calls {@link faultPoint} by name at the moments where a
 * crash must be survivable; when the environment variable `PONCHO_FAULT`
 * (or its older name `PONCHO_TEST_KILL_AT`) names that point, the process
 * kills itself with SIGKILL right there, as a power cut or `kill -9` would.
 * Tests use this to prove that no later run uses a half-made result. Unset,
 * a fault point costs one environment lookup.
 *
 * The points, in the order an environment unpack reaches them:
 *
 * | point           | where                                                       |
 * | --------------- | ----------------------------------------------------------- |
 * | `unpack-start`  | the exclusive lock is held, nothing is written yet         |
 * | `built`         | the environment is extracted and relocated in its temp dir |
 * | `before-rename` | the ready marker is written, the rename is next            |
 * | `after-rename`  | the environment is in place, the index is not yet written  |
 *
 * @example
 * ```ts ignore
 * faultPoint("built"); // PONCHO_FAULT=built poncho run -e env.tar.zst -- true  dies here
 * ```
 *
 * @module
 */

/** The named fault points (see the module doc). */
export type FaultPoint = "unpack-start" | "built" | "before-rename" | "after-rename";

/** Kills this process with SIGKILL when `PONCHO_FAULT` names `point`; otherwise returns. */
export function faultPoint(point: FaultPoint): void {
  const want = Deno.env.get("PONCHO_FAULT") ?? Deno.env.get("PONCHO_TEST_KILL_AT");
  if (want === point) Deno.kill(Deno.pid, "SIGKILL");
}
