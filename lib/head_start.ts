/**
 * The head start of a cold `poncho run` of the single file: its launcher,
 * having found no warm record for the archive and taken the archive's
 * identity lock, names the archive in `PONCHO_SOURCE_PATH`; the CLI then
 * starts libzstd on it at once ({@link startHeadStart} in
 * `archive/zstd_ffi.ts`), before the run and unpack modules have loaded.
 * A cold run is bound by the decoder, so everything the CLI does before the
 * unpack happens meanwhile, on the other core.
 *
 * @module
 */

import { lazyImporter } from "./lazy.ts";
import { currentLauncher } from "./dist/self.ts";

type ZstdFfi = typeof import("./archive/zstd_ffi.ts");

let started: Promise<ZstdFfi> | undefined;

/**
 * Starts decoding the archive the launcher names, when it is a `.tar.zst`
 * and libzstd can be loaded; removes the variable either way, so that no
 * command sees it. Call after `takeLauncherEnv`.
 */
export function headStartFromLauncher(): void {
  const path = Deno.env.get("PONCHO_SOURCE_PATH");
  if (path === undefined) return;
  Deno.env.delete("PONCHO_SOURCE_PATH");
  if (!currentLauncher() || !path.startsWith("/") || !/\.tar\.zst$/i.test(path)) return;
  started = lazyImporter(import.meta.url)<ZstdFfi>("./archive/zstd_ffi.ts").then((m) => {
    const lib = m.zstdLibrary();
    if (lib) m.startHeadStart(lib, path);
    return m;
  });
}

/**
 * Frees the head start if nothing took it over (the environment was found
 * ready, or the run failed before unpacking). Safe to call at any time.
 */
export async function dropUnusedHeadStart(): Promise<void> {
  if (!started) return;
  const m = await started;
  started = undefined;
  await m.dropHeadStart();
}
