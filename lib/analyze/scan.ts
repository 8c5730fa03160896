/**
 * The Python import scanner: finds every `import`/`from ... import` statement
 * and every `__import__("x")` / `importlib.import_module("x")` call with a
 * literal argument in one decoded source text, with the context the analysis
 * needs (module level or not, enclosing functions, conditional or not).
 *
 * It reads the token stream of {@linkcode Tokenizer} as a statement-level
 * parser: logical lines, indentation blocks (including one-line bodies such as
 * `if x: import y`), compound statement headers and `;`-separated statements.
 * It never throws and runs in time linear in the input.
 *
 * @module
 */

import { StrFlag, Tok, Tokenizer } from "./tokenize.ts";
import type { ImportRecord, ScanResult } from "./types.ts";

export type { ImportRecord, ScanResult } from "./types.ts";

/** The outcome of a `try` statement: does one of its handlers catch a failed import? */
interface TryGroup {
  catches: boolean;
}

// Block kinds.
const B_DEF = 1;
const B_CLASS = 2;
const B_IF = 3; // if / elif / else of an if chain
const B_TRY = 4; // try body, except body, else body of a try
const B_LOOP = 5; // for / while (their `else` is not conditional)
const B_OTHER = 6; // with, finally, match, case, loop-else, ...

/** An open indented block, from its header line to the dedent. */
interface Block {
  /** Indentation column of the header line. */
  indent: number;
  kind: number;
  /** Function name for `B_DEF`. */
  name: string;
  /** The body is conditional (TYPE_CHECKING / platform / version test in its if chain). */
  cond: boolean;
  /** For `B_IF`: whether a test so far in the chain was a conditional-import test. */
  chain: boolean;
  /** The body runs only for type checkers (`if TYPE_CHECKING:`, not its `else`). */
  typing: boolean;
  /** For `B_TRY`: the try statement it belongs to. */
  group: TryGroup | null;
}

/** An `else` block continues its `if` chain or its `try`; a loop's `else` is plain. */
function elseBlock(b: Block, sib: Block | null): void {
  if (sib !== null && sib.kind === B_IF) {
    b.kind = B_IF;
    b.cond = b.chain = sib.chain;
  } else if (sib !== null && sib.kind === B_TRY) {
    b.kind = B_TRY;
    b.group = sib.group;
  }
}

// Header kinds, while a compound statement header is being read.
const H_NONE = 0;
const H_IF = 1;
const H_ELIF = 2;
const H_ELSE = 3;
const H_TRY = 4;
const H_EXCEPT = 5;
const H_FINALLY = 6;
const H_LOOP = 7;
const H_DEF = 8;
const H_CLASS = 9;
const H_ASYNC = 10;
const H_OTHER = 11;
const H_WITH = 12;

// Codes of the previous tokens, for `sys.platform` and `importlib.import_module` patterns.
const P_OTHER = 0;
const P_DOT = 1;
const P_SYS = 2;
const P_OS = 3;
const P_PLATFORM = 4;
const P_IMPORTLIB = 5;

/** Exception names whose handlers catch a failed import. */
const CATCHES_IMPORT = new Set([
  "ImportError",
  "ModuleNotFoundError",
  "Exception",
  "BaseException",
]);
/** Attributes of `sys` whose tests make a branch conditional. */
const SYS_TESTS = new Set(["version_info", "version", "hexversion", "platform", "implementation"]);
/** Statement keywords that cannot occur inside brackets: seeing one first on a line resyncs. */
const RESYNC = new Set([
  "import",
  "def",
  "class",
  "try",
  "except",
  "finally",
  "while",
  "with",
  "return",
  "pass",
  "raise",
  "del",
  "global",
  "nonlocal",
  "assert",
  "break",
  "continue",
  "elif",
]);
/** A module name given to `__import__`/`import_module`: optional dots, dotted identifiers. */
const MODULE_LITERAL =
  /^(\.*)((?:[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*)(?:\.[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*)*)?$/u;

/** A record plus what is needed to settle `optional` once every handler is known. */
interface Pending {
  rec: ImportRecord;
  groups: TryGroup[] | null;
}

class Scanner {
  private readonly tk: Tokenizer;
  private readonly out: Pending[] = [];
  private readonly defs: string[] = [];
  private readonly defSet = new Set<string>();
  private readonly stack: Block[] = [];
  private readonly problems: { line: number; message: string }[] = [];
  private sibling: Block | null = null; // block closed by this line at the same indent
  private stmtStart = true;
  private lambdas = 0;
  // Header being read.
  private hdr = H_NONE;
  private hdrIndent = 0;
  private hdrName = "";
  private hdrCond = false;
  /** The if/elif test names `TYPE_CHECKING` (and no `not`). */
  private hdrTyping = false;
  private hdrNot = false;
  private hdrTokens = 0;
  private hdrCatches = false;
  // Previous two tokens (P_* codes).
  private p1 = P_OTHER;
  private p2 = P_OTHER;
  // Dynamic import call: 0 idle, 1 want "(", 2 want string, 3 want ")" or ",".
  private dyn = 0;
  private dynLine = 0;
  private dynModule = "";
  private readonly importlibNames = new Set(["importlib"]);
  private readonly importModuleNames = new Set<string>();
  private aliases = false; // an alias of importlib or import_module was imported

  constructor(src: string) {
    this.tk = new Tokenizer(src);
  }

  run(): ScanResult {
    try {
      this.loop();
    } catch (err) {
      // Defensive: the scanner is written not to throw; if it ever does, keep what was found.
      this.problems.push({
        line: this.tk.line,
        message: "scanner stopped early: " + (err instanceof Error ? err.message : String(err)),
      });
    }
    const imports = this.out.map(({ rec, groups }) => {
      if (!rec.optional && groups !== null) rec.optional = groups.some((g) => g.catches);
      return rec;
    });
    const problems = [...this.tk.problems, ...this.problems].sort((a, b) => a.line - b.line);
    return { imports, functions: this.defs, problems };
  }

  private loop(): void {
    const tk = this.tk;
    let k = tk.next();
    while (k !== Tok.EOF) {
      if (k === Tok.NAME && tk.depth > 0 && tk.physStart && RESYNC.has(tk.text())) {
        tk.closeBrackets();
      }
      if (tk.lineStart) this.beginLine();
      if (k === Tok.NEWLINE) {
        this.hdr = H_NONE;
        this.stmtStart = true;
        this.dyn = 0;
        k = tk.next();
        continue;
      }
      if (this.dyn !== 0) this.dynStep(k);
      if (k === Tok.NAME) {
        if (this.stmtStart) {
          this.stmtStart = false;
          if (tk.lineStart && this.header()) {
            this.p2 = this.p1;
            this.p1 = P_OTHER;
            k = tk.next();
            continue;
          }
          if (tk.isName("from")) {
            this.parseFrom();
            k = tk.kind;
            continue;
          }
        }
        if (tk.isName("import")) {
          this.parseImport();
          k = tk.kind;
          continue;
        }
        this.name();
      } else {
        if (k === Tok.OP) this.op();
        else {
          if (this.hdr !== H_NONE) this.hdrTokens++;
          this.p2 = this.p1;
          this.p1 = P_OTHER;
          this.stmtStart = false;
        }
      }
      k = tk.next();
    }
  }

  /** First token of a logical line: close the blocks it dedents out of. */
  private beginLine(): void {
    const c = this.tk.indent;
    const st = this.stack;
    let sib: Block | null = null;
    while (st.length > 0 && st[st.length - 1].indent >= c) {
      const b = st.pop()!;
      if (b.indent === c) sib = b;
    }
    this.sibling = sib;
    this.hdr = H_NONE;
    this.lambdas = 0;
    this.stmtStart = true;
    this.dyn = 0;
    this.p1 = P_OTHER;
    this.p2 = P_OTHER;
  }

  /** At the first name of a logical line: starts reading a compound header if it is one. */
  private header(): boolean {
    const tk = this.tk;
    const len = tk.end - tk.start;
    let h = H_NONE;
    switch (len) {
      case 2:
        if (tk.isName("if")) h = H_IF;
        break;
      case 3:
        if (tk.isName("def")) h = H_DEF;
        else if (tk.isName("for")) h = H_LOOP;
        else if (tk.isName("try")) h = H_TRY;
        break;
      case 4:
        if (tk.isName("elif")) h = H_ELIF;
        else if (tk.isName("else")) h = H_ELSE;
        else if (tk.isName("with")) h = H_WITH;
        else if (tk.isName("case")) h = H_OTHER;
        break;
      case 5:
        if (tk.isName("while")) h = H_LOOP;
        else if (tk.isName("class")) h = H_CLASS;
        else if (tk.isName("async")) h = H_ASYNC;
        else if (tk.isName("match")) h = H_OTHER;
        break;
      case 6:
        if (tk.isName("except")) h = H_EXCEPT;
        break;
      case 7:
        if (tk.isName("finally")) h = H_FINALLY;
        break;
    }
    if (h === H_NONE) return false;
    this.hdr = h;
    this.hdrIndent = tk.indent;
    this.hdrName = "";
    this.hdrCond = false;
    this.hdrTyping = false;
    this.hdrNot = false;
    this.hdrTokens = 0;
    this.hdrCatches = false;
    return true;
  }

  /** A name that is not an import keyword: header details, patterns, dynamic calls. */
  private name(): void {
    if (this.hdr !== H_NONE) this.headerName();
    let code = this.nameCode();
    if (this.aliases) code = this.aliasName(code);
    if (this.p1 === P_DOT) code = P_OTHER; // `x.sys` is not `sys`
    this.p2 = this.p1;
    this.p1 = code;
    this.stmtStart = false;
  }

  /** A name inside a compound statement header: what it tells about the block. */
  private headerName(): void {
    const tk = this.tk;
    const h = this.hdr;
    this.hdrTokens++;
    if (h === H_DEF || h === H_CLASS) {
      if (this.hdrName === "") this.hdrName = tk.text();
    } else if (h === H_ASYNC) {
      if (tk.isName("def")) this.hdr = H_DEF;
      else if (tk.isName("for")) this.hdr = H_LOOP;
      else if (tk.isName("with")) this.hdr = H_WITH;
      else this.hdr = H_OTHER;
      this.hdrTokens = 0;
    } else if (h === H_IF || h === H_ELIF) {
      if (this.conditionalName()) this.hdrCond = true;
      if (tk.isName("TYPE_CHECKING")) this.hdrTyping = true;
      else if (tk.isName("not")) this.hdrNot = true;
    } else if (h === H_EXCEPT) {
      if (CATCHES_IMPORT.has(tk.text())) this.hdrCatches = true;
    } else if (h === H_WITH) {
      // `with suppress(ImportError):` (contextlib) makes its body optional.
      if (tk.isName("ImportError") || tk.isName("ModuleNotFoundError")) this.hdrCond = true;
    }
  }

  /**
   * The pattern code of the current name (`os`, `sys`, `platform`,
   * `importlib`), counting `lambda`s and starting dynamic import calls.
   */
  private nameCode(): number {
    const tk = this.tk;
    const s = tk.src;
    const a = tk.start;
    switch (tk.end - a) {
      case 2:
        return s.startsWith("os", a) ? P_OS : P_OTHER;
      case 3:
        return s.startsWith("sys", a) ? P_SYS : P_OTHER;
      case 6:
        if (tk.depth === 0 && s.startsWith("lambda", a)) this.lambdas++;
        return P_OTHER;
      case 8:
        return s.startsWith("platform", a) ? P_PLATFORM : P_OTHER;
      case 9:
        return s.startsWith("importlib", a) ? P_IMPORTLIB : P_OTHER;
      case 10:
        if (this.p1 !== P_DOT && s.startsWith("__import__", a)) this.dynStart();
        return P_OTHER;
      case 13:
        if (
          s.startsWith("import_module", a) &&
          (this.p1 === P_DOT
            ? this.p2 === P_IMPORTLIB
            : this.importModuleNames.has("import_module"))
        ) {
          this.dynStart();
        }
        return P_OTHER;
      default:
        return P_OTHER;
    }
  }

  /** Slow path when `import importlib as X` or `from importlib import import_module as Y` was seen. */
  private aliasName(code: number): number {
    const t = this.tk.text();
    if (this.importlibNames.has(t)) code = P_IMPORTLIB;
    if (this.p1 !== P_DOT && t !== "import_module" && this.importModuleNames.has(t)) {
      this.dynStart();
    }
    return code;
  }

  /** In an if/elif test: is the current name part of a conditional-import test? */
  private conditionalName(): boolean {
    const tk = this.tk;
    if (tk.isName("TYPE_CHECKING") || tk.isName("PY2") || tk.isName("PY3")) return true;
    if (this.p1 !== P_DOT) return false;
    switch (this.p2) {
      case P_SYS:
        return SYS_TESTS.has(tk.text());
      case P_OS:
        return tk.isName("name");
      case P_PLATFORM:
        return true;
      default:
        return false;
    }
  }

  /** An operator token. */
  private op(): void {
    const tk = this.tk;
    const c = tk.src.charCodeAt(tk.start);
    let code = P_OTHER;
    if (tk.end - tk.start === 1) {
      if (c === 46) code = P_DOT;
      else if (tk.depth === 0) {
        if (c === 58) { // ':'
          if (this.lambdas > 0) this.lambdas--;
          else {
            if (this.hdr !== H_NONE) this.endHeader();
            this.stmtStart = true;
            this.p2 = this.p1;
            this.p1 = P_OTHER;
            return;
          }
        } else if (c === 59) { // ';'
          this.hdr = H_NONE;
          this.stmtStart = true;
          this.p2 = this.p1;
          this.p1 = P_OTHER;
          return;
        }
      }
      if (this.hdr === H_EXCEPT && c !== 42) this.hdrTokens++; // `except*` is still bare-less
      else if (this.hdr !== H_NONE) this.hdrTokens++;
    }
    this.p2 = this.p1;
    this.p1 = code;
    this.stmtStart = false;
  }

  /** The header's `:` was reached: open its block. */
  private endHeader(): void {
    const h = this.hdr;
    this.hdr = H_NONE;
    const sib = this.sibling;
    this.sibling = null;
    const b: Block = {
      indent: this.hdrIndent,
      kind: B_OTHER,
      name: "",
      cond: false,
      chain: false,
      typing: false,
      group: null,
    };
    switch (h) {
      case H_IF:
      case H_ELIF:
        this.ifBlock(b, h, sib);
        break;
      case H_ELSE:
        elseBlock(b, sib);
        break;
      case H_TRY:
        b.kind = B_TRY;
        b.group = { catches: false };
        break;
      case H_EXCEPT:
        this.exceptBlock(b, sib);
        break;
      case H_LOOP:
        b.kind = B_LOOP;
        break;
      case H_WITH:
        b.cond = this.hdrCond;
        break;
      case H_DEF:
        this.defBlock(b);
        break;
      case H_CLASS:
        b.kind = B_CLASS;
        break;
    }
    this.stack.push(b);
  }

  /** An `if` or `elif` block: conditional when its test (or, for `elif`, the chain's) is. */
  private ifBlock(b: Block, h: number, sib: Block | null): void {
    b.kind = B_IF;
    b.typing = this.hdrTyping && !this.hdrNot;
    b.cond = b.chain = this.hdrCond ||
      (h === H_ELIF && sib !== null && sib.kind === B_IF && sib.chain);
  }

  /** An `except` block: joins its `try`, which catches a failed import if this handler does. */
  private exceptBlock(b: Block, sib: Block | null): void {
    b.kind = B_TRY;
    b.group = sib !== null && sib.kind === B_TRY && sib.group !== null
      ? sib.group
      : { catches: false };
    if (this.hdrTokens === 0 || this.hdrCatches) b.group.catches = true;
  }

  /** A `def` block: named, and its name remembered (for `--function`). */
  private defBlock(b: Block): void {
    b.kind = B_DEF;
    b.name = this.hdrName;
    if (b.name !== "" && !this.defSet.has(b.name)) {
      this.defSet.add(b.name);
      this.defs.push(b.name);
    }
  }

  /** Records one import found at `line` in the current context. */
  private record(module: string, level: number, names: string[], line: number, dyn: boolean): void {
    let toplevel = true;
    let cond = false;
    let typing = false;
    let groups: TryGroup[] | null = null;
    const functions: string[] = [];
    for (const b of this.stack) {
      if (b.kind === B_DEF) {
        toplevel = false;
        functions.push(b.name);
      } else if (b.kind === B_CLASS) toplevel = false;
      if (b.cond) cond = true;
      if (b.typing) typing = true;
      if (b.group !== null) (groups ??= []).push(b.group);
    }
    const rec: ImportRecord = {
      module,
      level,
      names,
      line,
      optional: cond,
      toplevel,
      functions,
      dynamic: dyn,
    };
    if (typing) rec.typing = true;
    this.out.push({ rec, groups });
  }

  /** True at a token that must end the statement being parsed (a resync keyword). */
  private resyncHere(): boolean {
    const tk = this.tk;
    return tk.depth > 0 && tk.physStart && RESYNC.has(tk.text());
  }

  /** Reads a dotted name at the current token (advancing past it); "" when none. */
  private dotted(): string {
    const tk = this.tk;
    if (tk.kind !== Tok.NAME || this.resyncHere()) return "";
    let name = tk.text();
    for (;;) {
      tk.next();
      if (!tk.isOp(46)) break;
      tk.next();
      if (tk.kind !== Tok.NAME || tk.isName("import") || this.resyncHere()) break;
      name += "." + tk.text();
    }
    return name;
  }

  /** `import a.b as c, d` at the `import` keyword; stops at the first token not part of it. */
  private parseImport(): void {
    const tk = this.tk;
    const line = tk.line;
    this.stmtStart = false;
    tk.next();
    for (;;) {
      const module = this.dotted();
      if (module === "") {
        this.problems.push({ line, message: "'import' without a module name" });
        break;
      }
      this.record(module, 0, [], line, false);
      let alias = module;
      if (tk.isName("as")) {
        tk.next();
        if (tk.kind === Tok.NAME) {
          alias = tk.text();
          tk.next();
        }
      }
      if (module === "importlib" && alias !== "importlib") {
        this.importlibNames.add(alias);
        this.aliases = true;
      }
      if (!tk.isOp(44)) break; // ','
      tk.next();
    }
    this.p1 = this.p2 = P_OTHER;
  }

  /** `from ..a.b import (c as d, e)` at the `from` keyword. */
  private parseFrom(): void {
    const tk = this.tk;
    const line = tk.line;
    let level = 0;
    tk.next();
    while (tk.isOp(46)) {
      level++;
      tk.next();
    }
    const module = tk.isName("import") ? "" : this.dotted();
    if (!tk.isName("import")) {
      // `from` not followed by an import: not an import statement (or a broken one).
      if (level > 0 || module !== "") {
        this.problems.push({ line, message: "'from " + module + "' without 'import'" });
      }
      this.p1 = this.p2 = P_OTHER;
      return;
    }
    tk.next();
    const names: string[] = [];
    let paren = false;
    if (tk.isOp(40)) {
      paren = true;
      tk.next();
    }
    for (;;) {
      if (tk.isOp(42)) {
        names.push("*");
        tk.next();
      } else if (tk.kind === Tok.NAME && !tk.isName("import") && !this.resyncHere()) {
        const name = tk.text();
        let alias = name;
        names.push(name);
        tk.next();
        if (tk.isName("as")) {
          tk.next();
          if (tk.kind === Tok.NAME) {
            alias = tk.text();
            tk.next();
          }
        }
        if (module === "importlib" && level === 0 && name === "import_module") {
          this.importModuleNames.add(alias);
          if (alias !== "import_module") this.aliases = true;
        }
      } else break;
      if (!tk.isOp(44)) break;
      tk.next();
    }
    if (paren && tk.isOp(41)) tk.next();
    this.record(module, level, names, line, false);
    this.p1 = this.p2 = P_OTHER;
  }

  /** A `__import__`/`import_module` name: watch for `("literal"` then `)` or `,`. */
  private dynStart(): void {
    this.dyn = 1;
    this.dynLine = this.tk.line;
  }

  /** Advances the dynamic-call pattern with the current token. */
  private dynStep(k: number): void {
    const tk = this.tk;
    switch (this.dyn) {
      case 1:
        this.dyn = tk.isOp(40) ? 2 : 0;
        return;
      case 2: {
        this.dyn = 0;
        const f = tk.strFlags;
        if (k !== Tok.STRING) return;
        if (f & (StrFlag.FORMAT | StrFlag.TEMPLATE | StrFlag.BYTES | StrFlag.UNTERMINATED)) return;
        const body = tk.src.slice(tk.bodyStart, tk.bodyEnd);
        const m = MODULE_LITERAL.exec(body);
        if (m === null || body === "") return;
        this.dynModule = body;
        this.dyn = 3;
        return;
      }
      case 3: {
        this.dyn = 0;
        if (!tk.isOp(41) && !tk.isOp(44)) return;
        const m = MODULE_LITERAL.exec(this.dynModule)!;
        this.record(m[2] ?? "", m[1].length, [], this.dynLine, true);
        return;
      }
    }
  }
}

/**
 * Finds the imports in one Python source text (already decoded; see
 * `decodePythonSource`). Handles Python 2.7 and 3.x up to 3.14 syntax, never
 * throws, and reports unreadable parts in `problems`.
 *
 * - Absolute and relative `import`/`from` statements anywhere in the file, in
 *   source order, with `names` for `from` imports.
 * - `toplevel`: not inside a `def` or `class` body; `functions`: the enclosing
 *   `def`/`async def` names, outermost first.
 * - `optional`: inside a `try` (or its `except`/`else`) with a handler for
 *   `ImportError`, `ModuleNotFoundError`, `Exception`, `BaseException` or a
 *   bare `except`; or in an `if`/`elif`/`else` chain testing `TYPE_CHECKING`,
 *   `sys.version_info`/`version`/`hexversion`/`platform`/`implementation`,
 *   `os.name`, `platform.*`, `PY2` or `PY3` (from the first such test on);
 *   or in the body of a `with` naming `ImportError`/`ModuleNotFoundError`
 *   (`with contextlib.suppress(ImportError):`).
 * - `dynamic`: `__import__("m")`, `importlib.import_module("m")` (and aliases
 *   of `importlib` or of `import_module` imported from it) whose first argument
 *   is one plain string literal; leading dots give a relative `level`.
 *
 * @param source The decoded source text.
 * @returns The imports, the names of all functions, and problems found.
 *
 * @example
 * ```ts
 * const { imports } = scanImports("import os\ntry:\n    import yaml\nexcept ImportError:\n    yaml = None\n");
 * // imports[1]: { module: "yaml", optional: true, toplevel: true, ... }
 * ```
 */
export function scanImports(source: string): ScanResult {
  try {
    return new Scanner(typeof source === "string" ? source : String(source)).run();
  } catch (err) {
    return {
      imports: [],
      functions: [],
      problems: [{
        line: 1,
        message: "cannot scan: " + (err instanceof Error ? err.message : err),
      }],
    };
  }
}
