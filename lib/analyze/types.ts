/**
 * Types shared by the import scanner and the analysis that builds a spec
 * from its results.
 *
 * @module
 */

/** One import found in Python source by the scanner. */
export interface ImportRecord {
  /**
   * The module as written, dotted, without leading dots: `import a.b.c` gives
   * `"a.b.c"`; `from .x import y` gives `"x"` with `level` 1; `from . import y`
   * gives `""` with `level` 1 (see `names`).
   */
  module: string;
  /** 0 for an absolute import; the number of leading dots for a relative one. */
  level: number;
  /** For `from M import a, b`: `["a", "b"]` (`["*"]` for a star import); else empty. */
  names: string[];
  /** 1-based line of the `import`/`from` keyword (or of the dynamic call). */
  line: number;
  /**
   * True when the import is conditional: inside a `try` whose handlers catch
   * `ImportError`/`ModuleNotFoundError` (or a bare/Exception handler), or
   * inside an `if`/`elif`/`else` testing `TYPE_CHECKING`, `sys.version_info`,
   * `sys.platform`, `os.name` or `platform.*`.
   */
  optional: boolean;
  /** True when the statement is at module level (not inside a def or class body). */
  toplevel: boolean;
  /**
   * Names of the enclosing `def`/`async def` functions, outermost first
   * (class names are not included). Empty at module level.
   */
  functions: string[];
  /** Present (true) when the import is only seen by type checkers: inside `if TYPE_CHECKING:`. */
  typing?: boolean;
  /** True for `__import__("x")` / `importlib.import_module("x")` with a literal string. */
  dynamic: boolean;
}

/** The result of scanning one Python source text. */
export interface ScanResult {
  /** Every import in source order. */
  imports: ImportRecord[];
  /** Names of every `def`/`async def` in the file (any depth), for `--function` checks. */
  functions: string[];
  /**
   * Non-fatal problems (e.g. unterminated string at a line); the scanner never
   * throws on any input.
   */
  problems: { line: number; message: string }[];
}
