/**
 * A fast, forgiving tokenizer for Python source, covering Python 2.7 and 3.x
 * up to 3.14: every kind of string literal (prefixes `r b u f t` in any case
 * and order, triple quotes, PEP 701 f-strings and PEP 750 t-strings with nested
 * quotes, format specs and comments), comments, backslash continuations,
 * brackets across lines and indentation.
 *
 * It yields only what an import scanner needs: names, numbers, strings,
 * operators and logical-line ends, with the indentation column of each logical
 * line. It never throws: malformed input (unterminated strings, unbalanced
 * brackets, binary junk) is tokenized as well as possible and reported in
 * {@linkcode Tokenizer.problems}. Every character is visited a bounded number
 * of times, so time is linear in the input.
 *
 * The hot loop works on `charCodeAt` codes and never allocates per character;
 * token text is only sliced by callers that need it.
 *
 * @module
 */

/** Token kinds returned by {@linkcode Tokenizer.next}. */
export const Tok = {
  /** End of input (returned forever once reached). */
  EOF: 0,
  /** An identifier or keyword. */
  NAME: 1,
  /** A numeric literal (scanned loosely). */
  NUMBER: 2,
  /** A string literal of any kind, prefix included. */
  STRING: 3,
  /** An operator or delimiter: one character, except `:=`. Unknown characters too. */
  OP: 4,
  /** The end of a logical line (a newline outside brackets, or end of input). */
  NEWLINE: 5,
} as const;

/** Bit flags describing a {@linkcode Tok.STRING} token, in {@linkcode Tokenizer.strFlags}. */
export const StrFlag = {
  /** `r` prefix. */
  RAW: 1,
  /** `b` prefix. */
  BYTES: 2,
  /** `f` prefix (f-string). */
  FORMAT: 4,
  /** `t` prefix (template string, Python 3.14). */
  TEMPLATE: 8,
  /** `u` prefix. */
  UNICODE: 16,
  /** Triple-quoted. */
  TRIPLE: 32,
  /** Not terminated before the end of its line (single quotes) or of the input. */
  UNTERMINATED: 64,
} as const;

/** A non-fatal problem found while reading source. */
export interface Problem {
  /** 1-based line. */
  line: number;
  /** One line describing the problem. */
  message: string;
}

/** Nesting limit for f-strings inside f-strings; deeper input is reported and skipped. */
const MAX_FSTRING_NESTING = 64;

// Character classes for ASCII codes: 1 = identifier start, 2 = identifier part (digit).
const ID = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95) ID[c] = 1;
  else if (c >= 48 && c <= 57) ID[c] = 2;
}

/** True when `c` can continue an identifier (non-ASCII counts, as Python's tokenizer does). */
function isIdPart(c: number): boolean {
  return c >= 128 || ID[c] !== 0;
}

/** String prefix letter to its flag, or 0 when `c` is not a prefix letter. */
function prefixFlag(c: number): number {
  switch (c | 32) {
    case 114: // r
      return StrFlag.RAW;
    case 98: // b
      return StrFlag.BYTES;
    case 102: // f
      return StrFlag.FORMAT;
    case 116: // t
      return StrFlag.TEMPLATE;
    case 117: // u
      return StrFlag.UNICODE;
    default:
      return 0;
  }
}

/**
 * The {@linkcode StrFlag} bits of the string prefix `src[p..q)`, or -1 when
 * one of its characters is not a prefix letter.
 */
function prefixFlags(src: string, p: number, q: number): number {
  let flags = 0;
  for (let i = p; i < q; i++) {
    const f = prefixFlag(src.charCodeAt(i));
    if (f === 0) return -1;
    flags |= f;
  }
  return flags;
}

/**
 * Pull tokenizer over one source text. Call {@linkcode Tokenizer.next} until it
 * returns {@linkcode Tok.EOF}; after each call the public fields describe the
 * current token.
 *
 * @example
 * ```ts
 * const tk = new Tokenizer("import os\n");
 * while (tk.next() !== Tok.EOF) console.log(tk.kind, tk.text());
 * ```
 */
export class Tokenizer {
  /** The source text. */
  readonly src: string;
  /** Kind of the current token (a {@linkcode Tok} value). */
  kind: number = Tok.EOF;
  /** Offset of the current token's first character. */
  start = 0;
  /** Offset just past the current token. */
  end = 0;
  /** 1-based line where the current token starts. */
  line = 1;
  /** True when the current token is the first of a logical line. */
  lineStart = false;
  /** Indentation column (tabs to multiples of 8) of the current logical line. */
  indent = 0;
  /** True when the current token is the first on its physical line. */
  physStart = false;
  /** Indentation column of the current token's physical line. */
  physIndent = 0;
  /** Open brackets after the current token. */
  depth = 0;
  /** For strings: {@linkcode StrFlag} bits. */
  strFlags = 0;
  /** For strings: offset of the first character after the opening quote(s). */
  bodyStart = 0;
  /** For strings: offset of the closing quote(s) (or where the string was cut off). */
  bodyEnd = 0;
  /** Problems found so far, in source order. */
  readonly problems: Problem[] = [];

  private pos = 0;
  private cur = 1; // line at `pos`
  private bol = true; // `pos` is at the beginning of a physical line
  private open = false; // tokens were produced since the last NEWLINE
  private pendingPhys = true; // next token is the first on its physical line
  private unterminated = false; // the string being scanned was cut off
  private brackets: number[] = []; // lines of open brackets

  /**
   * Creates a tokenizer positioned before the first token.
   *
   * @param src Decoded source text.
   */
  constructor(src: string) {
    this.src = src;
  }

  /** The current token's text (allocates; use sparingly in hot paths). */
  text(): string {
    return this.src.slice(this.start, this.end);
  }

  /** True when the current token is the name `word` (no allocation). */
  isName(word: string): boolean {
    return this.kind === Tok.NAME && this.end - this.start === word.length &&
      this.src.startsWith(word, this.start);
  }

  /** True when the current token is the one-character operator `ch` (a char code). */
  isOp(ch: number): boolean {
    return this.kind === Tok.OP && this.end - this.start === 1 &&
      this.src.charCodeAt(this.start) === ch;
  }

  /**
   * Forgets every open bracket (used by a caller that found a statement
   * keyword where no bracket can be open) and reports the oldest one.
   */
  closeBrackets(): void {
    if (this.depth > 0) {
      this.problem(this.brackets[0], "unclosed bracket; resumed at line " + this.line);
    }
    this.depth = 0;
    this.brackets.length = 0;
    this.lineStart = true;
    this.indent = this.physIndent;
  }

  /** Advances to the next token and returns its kind. */
  next(): number {
    const s = this.src;
    const n = s.length;
    let p = this.pos;
    for (;;) {
      if (this.bol) p = this.measureIndent(p);
      if (p >= n) return this.atEnd(p);
      const c = s.charCodeAt(p);
      switch (c) {
        case 32:
        case 9:
        case 12:
          p++;
          continue;
        case 10:
        case 13:
          p = this.lineBreak(p, c);
          if (this.open && this.depth === 0) return this.newline(p);
          continue;
        case 35: // '#'
          p = this.skipComment(p + 1);
          continue;
        case 92: { // '\\': a line continuation, or an operator
          const q = this.continuation(p);
          if (q < 0) return this.op1(p);
          p = q;
          continue;
        }
        case 34: // '"'
        case 39: // "'"
          return this.string(p, p, 0);
        case 40: // '('
        case 91: // '['
        case 123: // '{'
          return this.openBracket(p);
        case 41: // ')'
        case 93: // ']'
        case 125: // '}'
          return this.closeBracket(p);
        case 58: // ':' or ':='
          return this.colon(p);
        case 46: { // '.'
          const d = s.charCodeAt(p + 1);
          return d >= 48 && d <= 57 ? this.number(p) : this.op1(p);
        }
      }
      const k = c < 128 ? ID[c] : 1;
      if (k !== 1) return k === 2 ? this.number(p) : this.op1(p);
      // A name (kept inline: names are the most frequent token), or a string prefix.
      let q = p + 1;
      while (q < n && isIdPart(s.charCodeAt(q))) q++;
      const d = s.charCodeAt(q);
      if (q - p <= 3 && (d === 34 || d === 39)) return this.prefixedString(p, q);
      this.pos = q;
      return this.emit(Tok.NAME, p, q, true);
    }
  }

  /** Steps over the line break at `p` (first code `c`); returns the offset after it. */
  private lineBreak(p: number, c: number): number {
    this.cur++;
    this.bol = true;
    return p + (c === 13 && this.src.charCodeAt(p + 1) === 10 ? 2 : 1);
  }

  /**
   * Steps over a line break at `p` (first code `c`) inside a string or a
   * replacement field, where it starts no logical line; returns the offset after it.
   */
  private innerBreak(p: number, c: number): number {
    this.cur++;
    return p + (c === 13 && this.src.charCodeAt(p + 1) === 10 ? 2 : 1);
  }

  /** The offset after a backslash-newline at `p`, or -1 when the backslash is not one. */
  private continuation(p: number): number {
    const s = this.src;
    const d = s.charCodeAt(p + 1);
    if (d !== 10 && d !== 13) return -1;
    this.cur++;
    return p + (d === 13 && s.charCodeAt(p + 2) === 10 ? 3 : 2);
  }

  /** `:` or `:=` at `p`. */
  private colon(p: number): number {
    this.pos = this.src.charCodeAt(p + 1) === 61 ? p + 2 : p + 1;
    return this.emit(Tok.OP, p, this.pos, true);
  }

  /** The name `src[p..q)` before a quote at `q`: a string when it is a string prefix. */
  private prefixedString(p: number, q: number): number {
    const flags = prefixFlags(this.src, p, q);
    if (flags > 0) return this.string(p, q, flags);
    this.pos = q;
    return this.emit(Tok.NAME, p, q, true);
  }

  /** At the beginning of a physical line: measures its indentation, returns the offset after it. */
  private measureIndent(p: number): number {
    const s = this.src;
    const n = s.length;
    let col = 0;
    for (; p < n; p++) {
      const c = s.charCodeAt(p);
      if (c === 32) col++;
      else if (c === 9) col = (col & ~7) + 8;
      else if (c === 12) col = 0;
      else break;
    }
    this.bol = false;
    this.pendingPhys = true;
    this.physIndent = col;
    return p;
  }

  /** At the end of the input: the last NEWLINE, then EOF (reporting a bracket left open). */
  private atEnd(p: number): number {
    this.pos = p;
    if (this.open) return this.newline(p);
    if (this.depth > 0) {
      this.problem(this.brackets[0], "bracket never closed");
      this.depth = 0;
      this.brackets.length = 0;
    }
    return this.emit(Tok.EOF, p, p, false);
  }

  /** Skips a comment's text from `p` (after the `#`) to the end of its line. */
  private skipComment(p: number): number {
    const s = this.src;
    const n = s.length;
    while (p < n) {
      const d = s.charCodeAt(p);
      if (d === 10 || d === 13) break;
      p++;
    }
    return p;
  }

  /** Makes the one-character operator at `p` the current token. */
  private op1(p: number): number {
    this.pos = p + 1;
    return this.emit(Tok.OP, p, p + 1, true);
  }

  /** An opening bracket at `p`: remembers its line. */
  private openBracket(p: number): number {
    this.depth++;
    this.brackets.push(this.cur);
    return this.op1(p);
  }

  /** A closing bracket at `p`: closes the innermost one, or reports it unmatched. */
  private closeBracket(p: number): number {
    if (this.depth > 0) {
      this.depth--;
      this.brackets.pop();
    } else {
      this.problem(this.cur, "unmatched '" + this.src[p] + "'");
    }
    return this.op1(p);
  }

  /** Makes the current token `kind` over `start..end`; `real` tokens open a logical line. */
  private emit(kind: number, start: number, end: number, real: boolean): number {
    this.kind = kind;
    this.start = start;
    this.end = end;
    this.line = this.cur;
    if (real) {
      this.lineStart = !this.open;
      if (this.lineStart) this.indent = this.physIndent;
      this.physStart = this.pendingPhys;
      this.pendingPhys = false;
      this.open = true;
    } else {
      this.lineStart = false;
      this.physStart = false;
    }
    return kind;
  }

  /** Makes the current token the NEWLINE ending the logical line at `p`. */
  private newline(p: number): number {
    this.pos = p;
    this.open = false;
    this.kind = Tok.NEWLINE;
    this.start = p;
    this.end = p;
    this.lineStart = false;
    this.physStart = false;
    return Tok.NEWLINE;
  }

  /** Records a problem. */
  private problem(line: number, message: string): void {
    this.problems.push({ line, message });
  }

  /** Scans a number loosely (digits, letters, `_`, `.`, exponent signs) from `p`. */
  private number(p: number): number {
    const s = this.src;
    const n = s.length;
    const hex = s.charCodeAt(p) === 48 && (s.charCodeAt(p + 1) | 32) === 120;
    let q = p + 1;
    while (q < n) {
      const c = s.charCodeAt(q);
      if (c < 128 && ID[c] !== 0) {
        q++;
        if (!hex && (c | 32) === 101) { // exponent sign
          const d = s.charCodeAt(q);
          if (d === 43 || d === 45) q++;
        }
      } else if (c === 46) q++;
      else break;
    }
    this.pos = q;
    return this.emit(Tok.NUMBER, p, q, true);
  }

  /** Scans a string whose prefix starts at `p` and whose opening quote is at `q`. */
  private string(p: number, q: number, flags: number): number {
    const s = this.src;
    const startLine = this.cur;
    const quote = s.charCodeAt(q);
    const triple = s.charCodeAt(q + 1) === quote && s.charCodeAt(q + 2) === quote;
    if (triple) flags |= StrFlag.TRIPLE;
    const body = q + (triple ? 3 : 1);
    this.unterminated = false;
    let r: number;
    if (flags & (StrFlag.FORMAT | StrFlag.TEMPLATE)) {
      r = this.fstring(body, quote, triple, (flags & StrFlag.RAW) !== 0, 0);
    } else {
      r = this.plain(body, quote, triple);
    }
    const end = -r - 1;
    if (this.unterminated) {
      flags |= StrFlag.UNTERMINATED;
      this.problem(startLine, (triple ? "unterminated triple-quoted" : "unterminated") + " string");
      this.bodyEnd = end;
    } else {
      this.bodyEnd = end - (triple ? 3 : 1);
    }
    this.strFlags = flags;
    this.bodyStart = body;
    this.pos = end;
    this.emit(Tok.STRING, p, end, true);
    this.line = startLine;
    return Tok.STRING;
  }

  /** Marks the string being scanned as cut off at `p`; returns the "ended" code for `p`. */
  private cut(p: number): number {
    this.unterminated = true;
    return -(p + 1);
  }

  /**
   * Scans the body of a non-formatted string from `p` (after the opening
   * quotes). Returns `-(end + 1)` where `end` is the offset after the closing
   * quotes, or where the string was cut off (then `unterminated` is set).
   */
  private plain(p: number, quote: number, triple: boolean): number {
    const s = this.src;
    const n = s.length;
    while (p < n) {
      const c = s.charCodeAt(p);
      if (c === quote) {
        if (!triple) return -(p + 2);
        if (s.charCodeAt(p + 1) === quote && s.charCodeAt(p + 2) === quote) return -(p + 4);
        p++;
      } else if (c === 92) {
        p = this.escape(p);
      } else if (c === 10 || c === 13) {
        if (!triple) return this.cut(p);
        p = this.innerBreak(p, c);
      } else {
        p++;
      }
    }
    return this.cut(n);
  }

  /** Skips a backslash and the character it escapes (counting an escaped newline). */
  private escape(p: number): number {
    const s = this.src;
    const d = s.charCodeAt(p + 1);
    if (d === 10 || d === 13) {
      this.cur++;
      return p + (d === 13 && s.charCodeAt(p + 2) === 10 ? 3 : 2);
    }
    return p + (p + 1 < s.length ? 2 : 1);
  }

  /**
   * Scans the literal part of an f-string or t-string from `p`: text, `{{`,
   * `}}`, escapes and replacement fields. Same return convention as `plain`.
   */
  private fstring(p: number, quote: number, triple: boolean, raw: boolean, nest: number): number {
    const s = this.src;
    const n = s.length;
    if (nest > MAX_FSTRING_NESTING) {
      this.problem(this.cur, "f-strings nested too deeply; skipped to the end of the line");
      while (p < n && s.charCodeAt(p) !== 10 && s.charCodeAt(p) !== 13) p++;
      return this.cut(p);
    }
    while (p < n) {
      const c = s.charCodeAt(p);
      if (c === quote) {
        if (!triple) return -(p + 2);
        if (s.charCodeAt(p + 1) === quote && s.charCodeAt(p + 2) === quote) return -(p + 4);
        p++;
      } else if (c === 92) {
        const d = s.charCodeAt(p + 1);
        if (d === 123 || d === 125) p++; // a brace after a backslash is still a brace
        else if (!raw && d === 78 && s.charCodeAt(p + 2) === 123) { // \N{NAME}
          p += 3;
          while (p < n) {
            const e = s.charCodeAt(p);
            if (e === 125 || e === quote || e === 10 || e === 13) break;
            p++;
          }
          if (s.charCodeAt(p) === 125) p++;
        } else p = this.escape(p);
      } else if (c === 10 || c === 13) {
        if (!triple) return this.cut(p);
        p = this.innerBreak(p, c);
      } else if (c === 123) { // '{'
        if (s.charCodeAt(p + 1) === 123) p += 2;
        else {
          p = this.field(p + 1, quote, triple, raw, nest);
          if (p < 0) return p;
        }
      } else {
        p++;
      }
    }
    return this.cut(n);
  }

  /**
   * Scans a replacement field from just after its `{`: the expression (with
   * nested strings, brackets and, in triple-quoted strings, comments), an
   * optional `!conversion` and an optional format spec with nested fields.
   * Returns the offset after the closing `}`, or a negative "string ended"
   * code (see `plain`) when the enclosing string ends inside the field.
   */
  private field(p: number, quote: number, triple: boolean, raw: boolean, nest: number): number {
    const s = this.src;
    const n = s.length;
    let depth = 0;
    while (p < n) {
      const c = s.charCodeAt(p);
      if (c === 34 || c === 39) {
        // Python 3.12+ reads a nested string here, even with the enclosing quote. Older
        // code never has one there, so a lone enclosing quote with no partner later on
        // the line means a broken field: end the string at it rather than lose the line.
        if (c === quote && !triple && !this.quoteAhead(p + 1, c)) {
          this.unterminated = true;
          return -(p + 2);
        }
        const r = this.nestedString(p, nest);
        if (r < 0) return r;
        p = r;
      } else if ((c < 128 && ID[c] === 1) || c >= 128) {
        p = this.fieldName(p, nest);
        if (p < 0) return p;
      } else if (c === 40 || c === 91 || c === 123) {
        depth++;
        p++;
      } else if (c === 41 || c === 93) {
        if (depth > 0) depth--;
        p++;
      } else if (c === 125) { // '}'
        if (depth === 0) return p + 1;
        depth--;
        p++;
      } else if (c === 58 && depth === 0) { // ':' starts the format spec
        return this.formatSpec(p + 1, quote, triple, raw, nest);
      } else if (c === 35 && triple) { // comment inside a multi-line field
        while (p < n && s.charCodeAt(p) !== 10 && s.charCodeAt(p) !== 13) p++;
      } else if (c === 10 || c === 13) {
        p = this.innerBreak(p, c);
      } else if (c === 92) {
        p = this.escape(p);
      } else {
        p++;
      }
    }
    return this.cut(n);
  }

  /**
   * Skips a name in a replacement field, or the string it prefixes (`f"{rb'x'}"`).
   * Returns the offset after it, or a negative "string ended" code.
   */
  private fieldName(p: number, nest: number): number {
    const s = this.src;
    const n = s.length;
    let q = p + 1;
    while (q < n && isIdPart(s.charCodeAt(q))) q++;
    const d = s.charCodeAt(q);
    if (q - p <= 3 && (d === 34 || d === 39)) {
      const flags = prefixFlags(s, p, q);
      if (flags > 0) return this.nestedString(q, nest, flags);
    }
    return q;
  }

  /** True when a `quote` occurs at or after `p` before the end of the line. */
  private quoteAhead(p: number, quote: number): boolean {
    const s = this.src;
    const n = s.length;
    for (; p < n; p++) {
      const c = s.charCodeAt(p);
      if (c === quote) return true;
      if (c === 10 || c === 13) return false;
    }
    return false;
  }

  /**
   * Scans a string nested in a replacement field, opening quote at `q`.
   * Returns the offset after it, or a negative "string ended" code when it
   * runs to the end of the input.
   */
  private nestedString(q: number, nest: number, flags = 0): number {
    const s = this.src;
    const quote = s.charCodeAt(q);
    const triple = s.charCodeAt(q + 1) === quote && s.charCodeAt(q + 2) === quote;
    const body = q + (triple ? 3 : 1);
    const r = flags & (StrFlag.FORMAT | StrFlag.TEMPLATE)
      ? this.fstring(body, quote, triple, (flags & StrFlag.RAW) !== 0, nest + 1)
      : this.plain(body, quote, triple);
    if (this.unterminated) return r; // ran off the line or the input: the outer string ends too
    return -r - 1;
  }

  /** Scans a format spec up to the `}` closing its field, with nested fields. */
  private formatSpec(
    p: number,
    quote: number,
    triple: boolean,
    raw: boolean,
    nest: number,
  ): number {
    const s = this.src;
    const n = s.length;
    while (p < n) {
      const c = s.charCodeAt(p);
      if (c === 125) return p + 1;
      if (c === 123) {
        p = this.field(p + 1, quote, triple, raw, nest);
        if (p < 0) return p;
      } else if (c === quote) {
        if (!triple) {
          this.unterminated = true;
          return -(p + 2);
        }
        if (s.charCodeAt(p + 1) === quote && s.charCodeAt(p + 2) === quote) {
          this.unterminated = true;
          return -(p + 4);
        }
        p++;
      } else if (c === 10 || c === 13) { // allowed since Python 3.12, as in the expression
        p = this.innerBreak(p, c);
      } else if (c === 92) {
        p = this.escape(p);
      } else {
        p++;
      }
    }
    return this.cut(n);
  }
}
