/**
 * Runs the `python3` found on `PATH`, for the few facts the analyzer asks an
 * interpreter (its version, its prefix) when the files do not tell them.
 *
 * @module
 */

/**
 * Runs `python3 ARGS` to completion (stdout piped, stdin closed; stderr as
 * `options` say, piped by default).
 *
 * @returns The output, or `null` when there is no `python3` to run: none on
 *   `PATH` (`NotFound`) or one that may not be executed (`PermissionDenied`).
 *   Any other failure to start it is thrown.
 */
export async function runPython3(
  args: string[],
  options: Omit<Deno.CommandOptions, "args" | "stdout"> = {},
): Promise<Deno.CommandOutput | null> {
  try {
    return await new Deno.Command("python3", {
      stdin: "null",
      stderr: "piped",
      ...options,
      args,
      stdout: "piped",
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
      return null;
    }
    throw err;
  }
}
