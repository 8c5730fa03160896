/**
 * Differential test: the scanner against CPython's own `ast` over the whole
 * standard library of `python3` (tests included, site-packages excluded).
 *
 * python3 is run once with a small script that walks the tree and, for every
 * file `ast.parse` accepts (given the raw bytes, so Python applies the BOM and
 * `coding:` cookie itself), prints the sorted top-level names of its absolute
 * imports at any depth. The scanner must find exactly the same set for every
 * such file; files ast rejects must only not crash it.
 *
 * Extra interpreters can be checked the same way by listing them, separated
 * by `:`, in `PONCHO_DIFF_PYTHONS` (e.g. a Python 2.7 and a 3.13).
 *
 * @module
 */

import { decodePythonSource } from "../lib/analyze/decode.ts";
import { scanImports } from "../lib/analyze/scan.ts";

/**
 * Python 2.7/3.x script. Prints a JSON map from relative path to null (ast
 * rejects the file) or `{names, stmts}`: the sorted top-level names of the
 * absolute imports, and one `[line, level, module, toplevel, functions,
 * optional]` per imported module (`import a, b` gives two) in any order.
 * `optional` follows the scanner's documented rules, computed on the ast.
 */
const TRUTH = `
import ast, json, os, sys, warnings
warnings.simplefilter("ignore")
root = sys.argv[1]
FUNCS = (ast.FunctionDef, getattr(ast, "AsyncFunctionDef", ast.FunctionDef))
TRYS = tuple(getattr(ast, n) for n in ("Try", "TryStar", "TryExcept") if hasattr(ast, n))
WITHS = tuple(getattr(ast, n) for n in ("With", "AsyncWith") if hasattr(ast, n))
CATCH = set(["ImportError", "ModuleNotFoundError", "Exception", "BaseException"])
SYS = set(["version_info", "version", "hexversion", "platform", "implementation"])

def words(node):
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
    return out

def is_cond(test):
    for n in ast.walk(test):
        if isinstance(n, ast.Name) and n.id in ("TYPE_CHECKING", "PY2", "PY3"):
            return True
        if isinstance(n, ast.Attribute):
            if n.attr in ("TYPE_CHECKING", "PY2", "PY3"):
                return True
            if isinstance(n.value, ast.Name):
                v = n.value.id
                if (v == "sys" and n.attr in SYS) or (v == "os" and n.attr == "name") or v == "platform":
                    return True
    return False

def visit_if(node, ctx, chain):
    funcs, top, opt, names, stmts = ctx
    c = chain or is_cond(node.test)
    visit(node.test, ctx)
    visit_list(node.body, (funcs, top, opt or c, names, stmts))
    if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
        visit_if(node.orelse[0], (funcs, top, opt or c, names, stmts), c)
    else:
        visit_list(node.orelse, (funcs, top, opt or c, names, stmts))

def visit_list(nodes, ctx):
    for n in nodes:
        visit_one(n, ctx)

def visit(node, ctx):
    for child in ast.iter_child_nodes(node):
        visit_one(child, ctx)

def visit_one(child, ctx):
    funcs, top, opt, names, stmts = ctx
    if isinstance(child, ast.Import):
        for a in child.names:
            names.add(a.name.split(".")[0])
            stmts.append([child.lineno, 0, a.name, top, funcs, opt])
    elif isinstance(child, ast.ImportFrom):
        level = child.level or 0
        if not level and child.module:
            names.add(child.module.split(".")[0])
        stmts.append([child.lineno, level, child.module or "", top, funcs, opt])
    if isinstance(child, FUNCS):
        visit(child, (funcs + [child.name], False, opt, names, stmts))
    elif isinstance(child, ast.ClassDef):
        visit(child, (funcs, False, opt, names, stmts))
    elif isinstance(child, ast.If):
        visit_if(child, ctx, False)
    elif TRYS and isinstance(child, TRYS):
        catches = any(h.type is None or words(h.type) & CATCH for h in child.handlers)
        inner = (funcs, top, opt or catches, names, stmts)
        visit_list(child.body, inner)
        visit_list(child.handlers, inner)
        visit_list(child.orelse, inner)
        visit_list(getattr(child, "finalbody", []), ctx)
    elif isinstance(child, WITHS):
        items = getattr(child, "items", None) or [child]
        guard = any(words(i.context_expr) & set(["ImportError", "ModuleNotFoundError"]) for i in items)
        visit(child, (funcs, top, opt or guard, names, stmts))
    else:
        visit(child, ctx)

out = {}
for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = [d for d in dirnames if d not in ("site-packages", "dist-packages")]
    for fn in filenames:
        if not fn.endswith(".py"):
            continue
        path = os.path.join(dirpath, fn)
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        try:
            with open(path, "rb") as f:
                data = f.read()
            tree = ast.parse(data)
            names, stmts = set(), []
            visit(tree, ([], True, False, names, stmts))
        except Exception:
            out[rel] = None
            continue
        out[rel] = {"names": sorted(names), "stmts": stmts}
sys.stdout.write(json.dumps(out))
`;

/** `[line, level, module, toplevel, functions, optional]` of one imported module. */
type Stmt = [number, number, string, boolean, string[], boolean];

/** One file's truth: imported top-level names and per-module statements. */
interface Truth {
  names: string[];
  stmts: Stmt[];
}

/** Runs `python` with args; returns stdout, or undefined when it cannot be run. */
function runPython(python: string, args: string[]): string | undefined {
  try {
    const r = new Deno.Command(python, { args, stdout: "piped", stderr: "piped" }).outputSync();
    if (!r.success) return undefined;
    return new TextDecoder().decode(r.stdout);
  } catch {
    return undefined;
  }
}

/** The stdlib directory of `python`, or undefined. */
function stdlibOf(python: string): string | undefined {
  const out = runPython(python, [
    "-c",
    'import sysconfig; print(sysconfig.get_paths()["stdlib"])',
  ]);
  return out?.trim() || undefined;
}

/** Every `.py` file under root (relative, `/`-separated), skipping site/dist-packages. */
function walk(root: string, rel = "", out: string[] = []): string[] {
  for (const e of Deno.readDirSync(root + (rel ? "/" + rel : ""))) {
    const r = rel ? rel + "/" + e.name : e.name;
    if (e.isDirectory) {
      if (e.name !== "site-packages" && e.name !== "dist-packages") walk(root, r, out);
    } else if (e.name.endsWith(".py")) {
      out.push(r);
    }
  }
  return out;
}

/** What the scanner finds in one file, in the shapes the truth script prints. */
function scannerView(bytes: Uint8Array): { names: string[]; stmts: string[] } {
  const { text } = decodePythonSource(bytes);
  const names = new Set<string>();
  const stmts: string[] = [];
  for (const rec of scanImports(text).imports) {
    if (rec.dynamic) continue;
    if (rec.level === 0 && rec.module !== "") names.add(rec.module.split(".")[0]);
    stmts.push(
      stmtKey([rec.line, rec.level, rec.module, rec.toplevel, rec.functions, rec.optional]),
    );
  }
  return { names: [...names].sort(), stmts: stmts.sort() };
}

/** One statement as a comparable string. */
function stmtKey(s: Stmt): string {
  return `${s[0]}:${".".repeat(s[1])}${s[2]}${s[3] ? " toplevel" : ""} in [${s[4].join(".")}]` +
    (s[5] ? " optional" : "");
}

/** Items of `a` not in `b` (multiset difference). */
function minus(a: string[], b: string[]): string[] {
  const left = [...b];
  return a.filter((x) => {
    const i = left.indexOf(x);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

/** Compares scanner and ast over one interpreter's stdlib; throws listing the mismatches. */
function differential(python: string, stdlib: string): void {
  const raw = runPython(python, ["-c", TRUTH, stdlib]);
  if (raw === undefined) throw new Error(`${python} failed to compute the ast truth`);
  const truth: Record<string, Truth | null> = JSON.parse(raw);
  const files = walk(stdlib).sort();
  const missing = Object.keys(truth).filter((f) => !files.includes(f));
  if (missing.length > 0) throw new Error(`files python walked but we did not: ${missing}`);

  const mismatches: string[] = [];
  const stmtMismatches: string[] = [];
  let parsed = 0;
  let rejected = 0;
  let statements = 0;
  for (const file of files) {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(stdlib + "/" + file);
    } catch {
      continue; // unreadable (e.g. a dangling link): python saw it as rejected too
    }
    const got = scannerView(bytes); // must not throw for any file
    const want = truth[file];
    if (want === null || want === undefined) {
      rejected++;
      continue;
    }
    parsed++;
    if (got.names.join(",") !== want.names.join(",")) {
      const extra = minus(got.names, want.names);
      const lost = minus(want.names, got.names);
      mismatches.push(`${file}: scanner extra [${extra}] missing [${lost}]`);
    }
    const wantStmts = want.stmts.map(stmtKey).sort();
    statements += wantStmts.length;
    if (got.stmts.join("|") !== wantStmts.join("|")) {
      const extra = minus(got.stmts, wantStmts).slice(0, 3);
      const lost = minus(wantStmts, got.stmts).slice(0, 3);
      stmtMismatches.push(`${file}: scanner extra [${extra}] missing [${lost}]`);
    }
  }
  console.log(
    `${python}: ${files.length} files, ${parsed} parsed by ast and compared, ` +
      `${rejected} rejected by ast (scanned for crashes only), ${statements} imported modules; ` +
      `${mismatches.length} name-set ` +
      `mismatches, ${stmtMismatches.length} statement (line/level/module/toplevel/functions/optional) ` +
      `mismatches`,
  );
  if (parsed < 100) throw new Error(`only ${parsed} files compared under ${stdlib}`);
  if (mismatches.length > 0 || stmtMismatches.length > 0) {
    throw new Error(
      `${mismatches.length} of ${parsed} files differ from ast in imported names, ` +
        `${stmtMismatches.length} in statements (${python}):\n` +
        [...mismatches.slice(0, 20), ...stmtMismatches.slice(0, 20)].join("\n"),
    );
  }
}

const python3Stdlib = stdlibOf("python3");
if (python3Stdlib === undefined) {
  console.log("analyze_stdlib_diff_test: skipped, python3 is not available");
}

Deno.test({
  name: "scanner matches python3's ast on every stdlib file ast parses",
  ignore: python3Stdlib === undefined,
  fn() {
    differential("python3", python3Stdlib!);
  },
});

for (const python of (Deno.env.get("PONCHO_DIFF_PYTHONS") ?? "").split(":").filter(Boolean)) {
  const stdlib = stdlibOf(python);
  if (stdlib === undefined) {
    console.log(`analyze_stdlib_diff_test: skipped ${python}, not runnable`);
  }
  Deno.test({
    name: `scanner matches ${python}'s ast on every stdlib file ast parses`,
    ignore: stdlib === undefined,
    fn() {
      differential(python, stdlib!);
    },
  });
}
