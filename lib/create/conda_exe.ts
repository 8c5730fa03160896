/**
 * `create --conda-exe`: the spec's conda part solved and installed by an
 * existing conda, mamba or micromamba (`create --yes --prefix`), with the
 * spec's channels only; what it installed is read back from its conda-meta.
 *
 * @module
 */

import { join } from "node:path";
import { BuildError, UsageError } from "../errors.ts";
import type { EnvSpec } from "../envspec/types.ts";
import { condaPlatform } from "../conda/platform.ts";
import type { CreatedPackage, CreateOptions } from "./types.ts";

/** The arguments of `exe create` for the spec. */
function condaCreateArgs(spec: EnvSpec, prefix: string, platform: string, opts: CreateOptions) {
  const args = ["create", "--yes", "--prefix", prefix, "--override-channels"];
  for (const c of spec.channels) args.push("--channel", c);
  if (platform !== condaPlatform()) args.push("--platform", platform);
  if (opts.offline) args.push("--offline");
  args.push(...spec.conda);
  return args;
}

/** The packages an install wrote into `prefix`'s conda-meta, by name. */
function installedPackages(prefix: string): CreatedPackage[] {
  const pkgs: CreatedPackage[] = [];
  for (const e of Deno.readDirSync(join(prefix, "conda-meta"))) {
    if (!e.name.endsWith(".json")) continue;
    const r = JSON.parse(Deno.readTextFileSync(join(prefix, "conda-meta", e.name)));
    pkgs.push({ name: r.name, version: r.version, build: r.build, channel: r.channel ?? "" });
  }
  return pkgs.sort((a, b) => a.name.localeCompare(b.name));
}

/** Installs the spec's conda part with an external conda/mamba/micromamba. */
export async function installWithCondaExe(
  spec: EnvSpec,
  prefix: string,
  platform: string,
  exe: string,
  opts: CreateOptions,
): Promise<CreatedPackage[]> {
  const args = condaCreateArgs(spec, prefix, platform, opts);
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(exe, { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .output();
  } catch (err) {
    // Spawning failed (no such file, not executable, ...): the option names a bad program.
    throw new UsageError(`--conda-exe ${exe}: cannot run it (${(err as Error).message})`, {
      cause: err,
      path: exe,
    });
  }
  if (!opts.quiet) await Deno.stderr.write(out.stderr);
  if (!out.success) {
    throw new BuildError(`${exe} create failed (exit ${out.code}); see its output above`);
  }
  return installedPackages(prefix);
}
