/**
 * Relocation of an unpacked environment to its final path: the manifest's
 * records (text: every occurrence replaced and over-long shebangs fixed;
 * binary: NUL-padded inside C strings), applied to each file's bytes as it
 * is extracted, and, for archives made by conda-pack, their own
 * `bin/conda-unpack` run with the environment's Python.
 *
 * @module
 */

import { isAbsent } from "../fs/probe.ts";
import { EXIT_FAILED, PonchoError } from "../errors.ts";
import type { EnvManifest, RelocationRecord } from "./manifest.ts";
import { fixShebang, replaceBinary, replaceText } from "./prefix.ts";

/** The script conda-pack puts into the environments it packs. */
export const CONDA_UNPACK = "bin/conda-unpack";

/** Relocation records by path. */
export function relocationMap(manifest: EnvManifest | undefined): Map<string, RelocationRecord> {
  const map = new Map<string, RelocationRecord>();
  for (const rec of manifest?.relocations ?? []) map.set(rec.path, rec);
  return map;
}

/**
 * Rewrites the prefix in one file's bytes for the final `prefix`.
 *
 * @throws {PonchoError} (exit 3) when a binary file's placeholder is shorter
 *   than `prefix`, naming the file.
 */
export function relocateBytes(data: Uint8Array, rec: RelocationRecord, prefix: string): Uint8Array {
  if (rec.placeholder === prefix) return data;
  if (rec.mode === "binary") {
    try {
      return replaceBinary(data, rec.placeholder, prefix);
    } catch (err) {
      throw new PonchoError(
        `cannot relocate ${rec.path} to ${prefix}: ${(err as Error).message}; ` +
          `use a shorter --unpack-to or --store path (at most ${rec.placeholder.length} characters)`,
        EXIT_FAILED,
      );
    }
  }
  return fixShebang(replaceText(data, rec.placeholder, prefix), prefix);
}

/**
 * Runs a conda-pack environment's `bin/conda-unpack` with the environment's
 * own Python, at its final path (conda-unpack relocates to where it lies).
 *
 * @throws {PonchoError} (exit 3) when there is no Python or the script fails.
 */
export async function runCondaUnpack(prefix: string): Promise<void> {
  const python = [`${prefix}/bin/python`, `${prefix}/bin/python3`].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch (err) {
      if (isAbsent(err)) return false;
      throw err;
    }
  });
  if (!python) {
    throw new PonchoError(
      `conda-pack environment at ${prefix} has ${CONDA_UNPACK} but no bin/python to run it`,
      EXIT_FAILED,
    );
  }
  const env = Deno.env.toObject();
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  const out = await new Deno.Command(python, {
    args: [`${prefix}/${CONDA_UNPACK}`],
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const detail = new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "";
    throw new PonchoError(
      `${CONDA_UNPACK} failed in ${prefix} (exit ${out.code})${detail ? `: ${detail}` : ""}`,
      EXIT_FAILED,
    );
  }
}
