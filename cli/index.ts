/**
 * `poncho index [options] DIR`: argument parsing and printing for
 * {@link indexChannel}.
 *
 * @module
 */

import { parseArgs } from "./args.ts";
import { UsageError } from "../lib/errors.ts";
import { indexChannel } from "../lib/index/channel_index.ts";

const HELP = `Usage: poncho index [options] DIR

Turn a directory of conda packages (DIR/<subdir>/*.conda, *.tar.bz2) into a channel: for every
subdir (noarch always) write repodata.json, repodata.json.zst, CEP-16 shards
(repodata_shards.msgpack.zst, shards/) and import-map.json (the Python modules each package
provides, which 'poncho analyze -c DIR' uses to name packages). Unchanged
packages are not read again (DIR/<subdir>/.cache/). A package that cannot be read is reported in
one line and left out; the others are indexed.

Options:
  --json       print a JSON summary (subdirs, packages read and reused, problems) on stdout
  -q, --quiet  print nothing but problems
  -h, --help   show this help

Exit codes: 0 success (also when some packages were skipped), 1 invalid usage,
2 DIR missing or unreadable, 3 an index file could not be written.
`;

/**
 * Runs `poncho index` with `args` (the words after `index`).
 *
 * @returns The exit code (errors are thrown as PonchoErrors for `cli/main.ts`).
 */
export async function indexCommand(args: string[]): Promise<number> {
  const { options: o, positionals, rest } = parseArgs(args, [
    { name: "json", type: "boolean" },
    { name: "quiet", short: "q", type: "boolean" },
    { name: "help", short: "h", type: "boolean" },
  ]);
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  const words = [...positionals, ...rest];
  if (words.length !== 1) {
    throw new UsageError(`expected one channel directory, got ${words.length} (see --help)`);
  }
  const tty = !o.json && !o.quiet && Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  let n = 0;
  const result = await indexChannel(words[0], {
    onPackage: tty
      ? (subdir, file) => Deno.stderr.writeSync(enc.encode(`\r\x1b[K[${++n}] ${subdir}/${file}`))
      : undefined,
  });
  if (tty && n > 0) Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
  for (const p of result.problems) console.error(`poncho index: ${p}`);
  if (o.json) console.log(JSON.stringify(result, null, 2));
  else if (!o.quiet) {
    for (const s of result.subdirs) {
      console.log(`${s.subdir}: ${s.packages} packages (${s.read} read, ${s.reused} unchanged)`);
    }
  }
  return 0;
}
