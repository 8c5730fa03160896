/**
 * Installing the spec's `pip` requirements with the environment's own
 * `python -m pip`, after the conda packages. `PIP_*` settings in the
 * environment (index URL, find-links, no-index, ...) are honoured because
 * pip reads them itself. pip's output goes to stderr, so stdout stays
 * parseable (`--json`).
 *
 * @module
 */

import { join } from "node:path";
import { PonchoError } from "../errors.ts";

/** Options for {@link pipInstall}. */
export interface PipOptions {
  /** Suppress pip's output unless it fails. */
  quiet?: boolean;
}

/**
 * Runs `<prefix>/bin/python -m pip install <requirements>`.
 *
 * @throws {PonchoError} when the environment has no python or pip, or pip fails.
 */
export async function pipInstall(
  prefix: string,
  requirements: string[],
  opts: PipOptions = {},
): Promise<void> {
  if (requirements.length === 0) return;
  const python = join(prefix, "bin", "python");
  try {
    await Deno.stat(python);
  } catch {
    throw new PonchoError(
      `the spec has pip requirements but the environment has no bin/python: add python and pip to the conda dependencies`,
    );
  }
  const env: Record<string, string> = {
    ...Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) => k !== "PYTHONPATH" && k !== "PYTHONHOME"),
    ),
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
    PIP_NO_INPUT: "1",
    PIP_NO_WARN_SCRIPT_LOCATION: "1",
    PIP_ROOT_USER_ACTION: "ignore",
    PYTHONNOUSERSITE: "1",
    PATH: `${join(prefix, "bin")}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
  };
  const child = new Deno.Command(python, {
    // No .pyc files: they would embed the build prefix; Python compiles on first import.
    args: ["-m", "pip", "install", "--no-compile", ...requirements],
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // The end of stderr is kept (quiet or not) to recognise a missing pip.
  let tail = "";
  const decoder = new TextDecoder();
  const forward = async (stream: ReadableStream<Uint8Array>, sink: Uint8Array[], err: boolean) => {
    for await (const chunk of stream) {
      if (opts.quiet) sink.push(chunk);
      else await Deno.stderr.write(chunk);
      if (err) tail = (tail + decoder.decode(chunk, { stream: true })).slice(-4096);
    }
  };
  const held: Uint8Array[] = [];
  const [status] = await Promise.all([
    child.status,
    forward(child.stdout, held, false),
    forward(child.stderr, held, true),
  ]);
  if (!status.success) {
    if (opts.quiet) { for (const c of held) await Deno.stderr.write(c); }
    const hasPip = !/No module named pip/.test(tail);
    throw new PonchoError(
      hasPip
        ? `pip install ${
          requirements.join(" ")
        } failed (exit ${status.code}); see pip's output above`
        : `the spec has pip requirements but the environment has no pip: add pip to the conda dependencies`,
    );
  }
}
