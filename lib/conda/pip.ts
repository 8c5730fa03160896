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
import { BuildError } from "../errors.ts";
import { statOrNull } from "../fs/probe.ts";

/** Options for {@link pipInstall}. */
export interface PipOptions {
  /** Suppress pip's output unless it fails. */
  quiet?: boolean;
}

/** The environment's `bin/python`, which pip requirements need. */
async function envPython(prefix: string): Promise<string> {
  const python = join(prefix, "bin", "python");
  const what = "cannot run the environment's python for pip";
  if (!await statOrNull(python, { role: "store", what })) {
    throw new BuildError(
      `the spec has pip requirements but the environment has no bin/python: add python and pip to the conda dependencies`,
      { path: python },
    );
  }
  return python;
}

/** pip's environment: the caller's without `PYTHONPATH`/`PYTHONHOME`, quiet and non-interactive. */
function pipEnv(prefix: string): Record<string, string> {
  return {
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
}

/** How a pip run ended, and the end of its stderr. */
interface PipRun {
  /** pip's exit status. */
  status: Deno.CommandStatus;
  /** The last 4 KiB of its stderr (to recognise a missing pip). */
  tail: string;
  /** Its output, held back when quiet (shown if it fails). */
  held: Uint8Array[];
}

/** Runs the pip child to the end, its output on stderr (or held back when quiet). */
async function runPip(child: Deno.ChildProcess, quiet: boolean | undefined): Promise<PipRun> {
  // The end of stderr is kept (quiet or not) to recognise a missing pip.
  let tail = "";
  const decoder = new TextDecoder();
  const forward = async (stream: ReadableStream<Uint8Array>, sink: Uint8Array[], err: boolean) => {
    for await (const chunk of stream) {
      if (quiet) sink.push(chunk);
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
  return { status, tail, held };
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
  const python = await envPython(prefix);
  const child = new Deno.Command(python, {
    // No .pyc files: they would embed the build prefix; Python compiles on first import.
    args: ["-m", "pip", "install", "--no-compile", ...requirements],
    env: pipEnv(prefix),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const { status, tail, held } = await runPip(child, opts.quiet);
  if (!status.success) {
    if (opts.quiet) { for (const c of held) await Deno.stderr.write(c); }
    const hasPip = !/No module named pip/.test(tail);
    throw new BuildError(
      hasPip
        ? `pip install ${
          requirements.join(" ")
        } failed (exit ${status.code}); see pip's output above`
        : `the spec has pip requirements but the environment has no pip: add pip to the conda dependencies`,
    );
  }
}
