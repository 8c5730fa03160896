/**
 * PEP 723 inline script metadata: a `# /// script` ... `# ///` comment block
 * whose content is TOML. Only the two keys Poncho uses are read, with a small
 * parser for what they may hold: `requires-python` (a string) and
 * `dependencies` (an array of PEP 508 strings, possibly across lines).
 *
 * @module
 */

/** The metadata of one `# /// script` block. */
export interface ScriptMetadata {
  /** `dependencies`, exactly as written (PEP 508 strings). */
  dependencies: string[];
  /** `requires-python`, as written (a PEP 440 specifier), if present. */
  requiresPython?: string;
  /** 1-based line of the opening `# /// script`. */
  line: number;
  /** Problems found (the block is still used as far as it could be read). */
  problems: { line: number; message: string }[];
}

const OPEN = /^# \/\/\/ ([a-zA-Z0-9-]+)[ \t]*$/;
const CLOSE = /^# \/\/\/[ \t]*$/;

/** Reads one TOML basic (`"..."`) or literal (`'...'`) string at `i`; null if none. */
function readString(text: string, i: number): { value: string; end: number } | null {
  const q = text[i];
  if (q !== '"' && q !== "'") return null;
  let value = "";
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (c === q) return { value, end: j + 1 };
    if (c === "\n") return null;
    if (c === "\\" && q === '"') {
      const n = text[++j];
      const esc: Record<string, string> = { n: "\n", t: "\t", '"': '"', "\\": "\\", r: "\r" };
      if (n === "u" || n === "U") {
        const len = n === "u" ? 4 : 8;
        value += String.fromCodePoint(parseInt(text.slice(j + 1, j + 1 + len), 16));
        j += len;
      } else value += esc[n] ?? n;
    } else value += c;
  }
  return null;
}

/** Skips whitespace, newlines and `#` comments. */
function skip(text: string, i: number): number {
  while (i < text.length) {
    if (/\s/.test(text[i])) i++;
    else if (text[i] === "#") {
      while (i < text.length && text[i] !== "\n") i++;
    } else break;
  }
  return i;
}

/** Where the `# /// script` block is: its opening and closing line indexes (-1 when none). */
interface BlockPlace {
  start: number;
  end: number;
  problems: ScriptMetadata["problems"];
}

/** Finds the one `# /// script` block among `lines`; unclosed and second blocks are problems. */
function findScriptBlock(lines: string[]): BlockPlace {
  const place: BlockPlace = { start: -1, end: -1, problems: [] };
  for (let i = 0; i < lines.length; i++) {
    const m = OPEN.exec(lines[i]);
    if (!m || m[1] !== "script") continue;
    let close = -1;
    for (let j = i + 1; j < lines.length; j++) {
      if (CLOSE.test(lines[j])) close = j; // the last closing line before a non-comment ends it
      else if (!(lines[j] === "#" || lines[j].startsWith("# "))) break;
    }
    if (close < 0) {
      place.problems.push({ line: i + 1, message: "unclosed `# /// script` block; ignored" });
      continue;
    }
    if (place.start >= 0) {
      place.problems.push({ line: i + 1, message: "a second `# /// script` block; ignored" });
      continue;
    }
    place.start = i;
    place.end = close;
    i = close;
  }
  return place;
}

/** The block's TOML text being read: the text, and its 1-based source line of an offset. */
interface BlockText {
  content: string;
  lineAt: (offset: number) => number;
  meta: ScriptMetadata;
}

/** Reads the `dependencies` array whose `[` is at `i`; returns the offset after it. */
function readDependencies(block: BlockText, i: number): number {
  const { content, meta } = block;
  i++;
  for (;;) {
    i = skip(content, i);
    if (content[i] === "]" || i >= content.length) return i + 1;
    const s = readString(content, i);
    if (!s) {
      meta.problems.push({ line: block.lineAt(i), message: "dependencies holds a non-string" });
      return content.indexOf("]", i) < 0 ? content.length : content.indexOf("]", i) + 1;
    }
    meta.dependencies.push(s.value.trim());
    i = skip(content, s.end);
    if (content[i] === ",") i++;
  }
}

/** Skips a value Poncho does not use at `i`: to the end of its line, or past an array. */
function skipValue(content: string, i: number, lineEnd: number): number {
  if (content[i] !== "[") return lineEnd;
  const close = content.indexOf("]", i);
  return close < 0 ? content.length : close + 1;
}

/** Reads one `key = value` line at `i` into the metadata; returns the offset after it. */
function readKey(block: BlockText, i: number, lineEnd: number, inTable: boolean): number {
  const { content, meta } = block;
  const key = /^([A-Za-z0-9_-]+|"[^"]*")[ \t]*=[ \t]*/.exec(content.slice(i, lineEnd));
  if (!key) {
    meta.problems.push({
      line: block.lineAt(i),
      message: "unreadable line in `# /// script` block",
    });
    return lineEnd;
  }
  const name = key[1].replace(/^"|"$/g, "");
  i += key[0].length;
  if (!inTable && name === "requires-python") {
    const s = readString(content, i);
    if (s) {
      meta.requiresPython = s.value.trim();
      return s.end;
    }
    meta.problems.push({ line: block.lineAt(i), message: "requires-python is not a string" });
    return i;
  }
  if (!inTable && name === "dependencies" && content[i] === "[") return readDependencies(block, i);
  return skipValue(content, i, lineEnd);
}

/**
 * Finds and reads the `# /// script` block of a Python source text.
 *
 * @returns null when the source has no such block.
 */
export function parseScriptMetadata(source: string): ScriptMetadata | null {
  const lines = source.split(/\r?\n|\r/);
  const { start, end, problems } = findScriptBlock(lines);
  if (start < 0) {
    return problems.length ? { dependencies: [], line: problems[0].line, problems } : null;
  }
  const content = lines.slice(start + 1, end).map((l) => l.slice(2)).join("\n");
  const block: BlockText = {
    content,
    lineAt: (offset) => start + 2 + content.slice(0, offset).split("\n").length - 1,
    meta: { dependencies: [], line: start + 1, problems },
  };
  let i = 0;
  let inTable = false;
  while ((i = skip(content, i)) < content.length) {
    const lineEnd = content.indexOf("\n", i) < 0 ? content.length : content.indexOf("\n", i);
    if (content[i] === "[") {
      inTable = true; // keys below a [table] header (e.g. [tool.uv]) are not ours
      i = lineEnd;
    } else i = readKey(block, i, lineEnd, inTable);
  }
  return block.meta;
}

/**
 * Turns a PEP 440 `requires-python` specifier into a conda spec for python:
 * `>=3.10` gives `python>=3.10`, `~=3.10` gives `python>=3.10,<4`,
 * `==3.11.*` gives `python=3.11`.
 */
export function pythonSpecFromRequires(requires: string): string {
  const clauses = requires.split(",").map((c) => c.replace(/\s+/g, "")).filter(Boolean);
  if (clauses.length === 1) {
    const star = /^==(\d+(?:\.\d+)*)\.\*$/.exec(clauses[0]);
    if (star) return `python=${star[1]}`;
  }
  const out: string[] = [];
  for (const c of clauses) {
    const compat = /^~=(\d+(?:\.\d+)+)$/.exec(c);
    if (compat) {
      const parts = compat[1].split(".").map(Number);
      const upper = parts.slice(0, -1);
      upper[upper.length - 1]++;
      out.push(`>=${compat[1]}`, `<${upper.join(".")}`);
    } else if (/^==\d+(\.\d+)*\.\*$/.test(c)) {
      out.push(c.slice(2));
    } else if (/^\d/.test(c)) {
      out.push(`==${c}`);
    } else out.push(c);
  }
  return `python${out.join(",")}`;
}
