/**
 * Byte-compiling `noarch: python` packages at create time, as conda does at
 * link time, with the environment's own Python, so that the first import on
 * a worker finds valid `.pyc` files and writes nothing into the store.
 *
 * The `.pyc` files record the source path relative to the prefix (never the
 * build prefix) and use checked-hash invalidation (valid whatever the files'
 * mtimes after packing and unpacking). Files that do not compile (Python 2
 * only syntax, say) are skipped, as conda skips them. Many files are compiled
 * on every core, as `compileall -j0` does; the interpreter runs with `-B`, so
 * nothing but the listed `.pyc` is written.
 *
 * @module
 */

import { join } from "node:path";
import { BuildError } from "../errors.ts";
import { statOrNullSync } from "../fs/probe.ts";

/** The driver run by the environment's Python: reads source paths, prints the `.pyc` written. */
const DRIVER = `
import os, sys, importlib.util, py_compile
prefix = sys.argv[1]
rels = [l.rstrip("\\n") for l in sys.stdin if l.strip()]
mode = getattr(py_compile, "PycInvalidationMode", None)
kw = {"invalidation_mode": mode.CHECKED_HASH} if mode else {}
def job(rel):
    full = prefix + "/" + rel
    return (full, importlib.util.cache_from_source(full), rel)
jobs = [job(r) for r in rels]
def report(rel, cfile):
    print(rel + "\\t" + cfile[len(prefix) + 1:])
workers = min(os.cpu_count() or 1, 8)
if workers > 1 and len(jobs) > 64:
    # Like compileall -j0: every core (py_compile.compile is importable, so any start method works).
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(workers) as ex:
        futs = [(j, ex.submit(py_compile.compile, j[0], j[1], j[2], True, **kw)) for j in jobs]
        for j, f in futs:
            try:
                f.result()
            except Exception:
                continue
            report(j[2], j[1])
else:
    for full, cfile, rel in jobs:
        try:
            py_compile.compile(full, cfile=cfile, dfile=rel, doraise=True, **kw)
        except Exception:
            continue
        report(rel, cfile)
`;

/**
 * Compiles the `.py` files among `sources` (paths relative to `prefix`)
 * with `python` (relative to `prefix`). Returns, per source that compiled,
 * its `.pyc` path relative to the prefix. Returns an empty map when the
 * environment has no such interpreter.
 *
 * @throws {PonchoError} (exit 3) when the interpreter cannot be run or fails.
 */
export async function compilePyc(
  prefix: string,
  python: string,
  sources: readonly string[],
): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  const py = sources.filter((s) => s.endsWith(".py"));
  if (py.length === 0) return result;
  const exe = join(prefix, python);
  // No interpreter there: nothing to compile with (a failure to look is an error, not "none").
  const st = statOrNullSync(exe, {
    role: "store",
    what: "cannot look for the environment's python at",
  });
  if (!st?.isFile) return result;
  const env = Deno.env.toObject();
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(exe, {
      args: ["-E", "-s", "-B", "-Wi", "-c", DRIVER, prefix],
      env,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw new BuildError(
      `cannot run ${exe} to byte-compile noarch python files: ${(err as Error).message}`,
    );
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(py.join("\n") + "\n"));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    const detail = new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "";
    throw new BuildError(
      `byte-compiling noarch python files with ${exe} failed (exit ${out.code})` +
        (detail ? `: ${detail}` : ""),
    );
  }
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const [src, pyc] = line.split("\t");
    if (src && pyc) result.set(src, pyc);
  }
  return result;
}
