/**
 * What the single-file launcher (`lib/dist/launcher.sh`) tells the Poncho it
 * starts: the file's own path and its payload hash, passed in the
 * environment as `PONCHO_LAUNCHER` and `PONCHO_PAYLOAD` together with
 * `DENO_DIR` (the runtime's own cache). {@link takeLauncherEnv} reads them
 * once and removes them, restoring the user's `DENO_DIR`, so that commands
 * Poncho runs never see them.
 *
 * @module
 */

/** The single file a process was started from. */
export interface Launcher {
  /** Absolute path of the file as invoked (maybe a symlink to it). */
  path: string;
  /** sha256 of its payload. */
  payload: string;
  /** The directory the runtime was unpacked to (`<store>/v1/runtime/<payload>`). */
  runtime: string;
}

let launcher: Launcher | undefined;

/**
 * Reads and clears the launcher's variables (call once, at startup); returns
 * them, or undefined when Poncho was not started by the single file.
 */
export function takeLauncherEnv(): Launcher | undefined {
  const path = Deno.env.get("PONCHO_LAUNCHER");
  const payload = Deno.env.get("PONCHO_PAYLOAD");
  if (!path || !payload) return undefined;
  const userDenoDir = Deno.env.get("PONCHO_USER_DENO_DIR");
  for (const v of ["PONCHO_LAUNCHER", "PONCHO_PAYLOAD", "PONCHO_USER_DENO_DIR", "DENO_DIR"]) {
    Deno.env.delete(v);
  }
  if (userDenoDir !== undefined) Deno.env.set("DENO_DIR", userDenoDir);
  launcher = { path, payload, runtime: Deno.execPath().replace(/\/[^/]*$/, "") };
  return launcher;
}

/** The single file this process was started from, if it was (after {@link takeLauncherEnv}). */
export function currentLauncher(): Launcher | undefined {
  return launcher;
}
