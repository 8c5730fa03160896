/**
 * `deno task dist [--output PATH]`: writes the single-file Poncho (default
 * `dist/poncho`; see `lib/dist/build.ts`) and prints its path, size and
 * payload hash.
 *
 * @module
 */

import { buildDist, type DistResult } from "../lib/dist/build.ts";
import { UsageError } from "../lib/errors.ts";
import { REPO_ROOT } from "./compile.ts";

/** Where `deno task dist` writes by default. */
export const DEFAULT_OUTPUT: string = `${REPO_ROOT}/dist/poncho`;

const HELP = `Usage: deno task dist [--output PATH]

Writes one executable file (default dist/poncho) that needs only sh, tar and gzip
on the machine it runs on: it carries Deno ${Deno.version.deno}, Poncho's code and its npm
packages, and unpacks them once into <store>/v1/runtime/<payload sha256>/.

Options:
  -o, --output PATH   where to write it (default dist/poncho)
  -h, --help          show this help
`;

/** A size in MiB with one decimal, e.g. `43.6 MiB`. */
export function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

/** Parses `args` and builds the file; returns the result, or undefined after --help. */
export async function distCommand(args: string[]): Promise<DistResult | undefined> {
  let output = DEFAULT_OUTPUT;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-h" || a === "--help") {
      console.log(HELP);
      return undefined;
    } else if (a === "-o" || a === "--output") {
      if (args[i + 1] === undefined) throw new UsageError(`${a} needs a path`);
      output = args[++i];
    } else if (a.startsWith("--output=")) output = a.slice("--output=".length);
    else throw new UsageError(`unknown argument '${a}' (see --help)`);
  }
  const cwd = Deno.env.get("INIT_CWD") ?? Deno.cwd();
  if (!output.startsWith("/")) output = `${cwd}/${output}`;
  return await buildDist({ root: REPO_ROOT, output });
}

if (import.meta.main) {
  try {
    const r = await distCommand(Deno.args);
    if (r) console.log(`${r.path} (${mib(r.size)}, payload sha256:${r.payloadSha256})`);
  } catch (e) {
    const { reportError } = await import("./main.ts");
    Deno.exit(reportError("poncho dist", e));
  }
}
