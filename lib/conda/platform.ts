/**
 * Conda platform names (`linux-64`, `osx-arm64`, ...) for the running machine.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** The conda platforms Poncho knows how to name. */
export const KNOWN_PLATFORMS: readonly string[] = [
  "linux-64",
  "linux-aarch64",
  "linux-ppc64le",
  "osx-64",
  "osx-arm64",
  "win-64",
];

/** Maps a Deno `os`/`arch` pair to a conda platform, e.g. `("linux", "x86_64")` -> `linux-64`. */
export function condaPlatform(os: string = Deno.build.os, arch: string = Deno.build.arch): string {
  const osName = os === "darwin" ? "osx" : os === "windows" ? "win" : os;
  const archName = arch === "x86_64"
    ? "64"
    : arch === "aarch64" && osName === "osx"
    ? "arm64"
    : arch;
  const platform = `${osName}-${archName}`;
  if (!KNOWN_PLATFORMS.includes(platform)) {
    throw new UsageError(
      `unsupported platform ${platform} (from ${os}/${arch}); pass --platform with one of ${
        KNOWN_PLATFORMS.join(", ")
      }`,
    );
  }
  return platform;
}

/** Validates a platform name given by the user (option `--platform`). */
export function parsePlatform(name: string): string {
  if (!KNOWN_PLATFORMS.includes(name)) {
    throw new UsageError(
      `unknown platform "${name}" in --platform; use one of ${KNOWN_PLATFORMS.join(", ")}`,
    );
  }
  return name;
}
