/**
 * Byte-compiling `noarch: python` packages at create time, as conda does at
 * link time, with the environment's own Python, so that the first import on
 * a worker finds valid `.pyc` files and writes nothing into the store.
 *
 * The `.pyc` files record the source path relative to the prefix (never the
 * build prefix) and use checked-hash invalidation (valid whatever the files'
 * mtimes after packing and unpacking). Files that do not compile (Python 2
 * only syntax, say) are skipped, as conda skips them.
 *
 * @module
 */

import { join } from "node:path";
import { PonchoError } from "../errors.ts";

/** The driver run by the environment's Python: reads source paths, prints the `.pyc` written. */
const DRIVER = `
import sys, importlib.util, py_compile
prefix = sys.argv[1]
kw = {}
if hasattr(py_compile, "PycInvalidationMode"):
    kw["invalidation_mode"] = py_compile.PycInvalidationMode.CHECKED_HASH
for line in sys.stdin:
    rel = line.rstrip("\\n")
    if not rel:
        continue
    full = prefix + "/" + rel
    cfile = importlib.util.cache_from_source(full)
    try:
        py_compile.compile(full, cfile=cfile, dfile=rel, doraise=True, **kw)
    except Exception:
        continue
    print(rel + "\\t" + cfile[len(prefix) + 1:])
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
  try {
    if (!Deno.statSync(exe).isFile) return result;
  } catch {
    return result;
  }
  const env = Deno.env.toObject();
  delete env.PYTHONPATH;
  delete env.PYTHONHOME;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(exe, {
      args: ["-E", "-s", "-Wi", "-c", DRIVER, prefix],
      env,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw new PonchoError(
      `cannot run ${exe} to byte-compile noarch python files: ${(err as Error).message}`,
    );
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(py.join("\n") + "\n"));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    const detail = new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "";
    throw new PonchoError(
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
