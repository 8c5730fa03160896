/**
 * Decodes Python source bytes the way Python does: a UTF-8 BOM, else a PEP 263
 * `coding:` cookie on the first or second line (the second only when the
 * first is blank or a comment), else UTF-8. Bytes that are invalid in the
 * chosen encoding fall back to Latin-1, so decoding never fails and never
 * loses a file.
 *
 * @module
 */

/** The decoded text and how it was decoded. */
export interface DecodedSource {
  /** The source text, without a BOM. */
  text: string;
  /** The encoding used, normalised (`utf-8`, `latin-1`, or a WHATWG name such as `koi8-r`). */
  encoding: string;
  /** Set when the declared or default encoding could not be used; says what happened. */
  warning?: string;
}

const COOKIE = /^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)/;
const BLANK_OR_COMMENT = /^[ \t\f]*(?:#.*)?$/;

/** Decodes bytes as true ISO-8859-1 (every byte is the code point of the same value). */
function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** The first two physical lines (as Latin-1 text, enough for an ASCII cookie). */
function firstLines(bytes: Uint8Array): [string, string] {
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length && lines.length < 2 && i < 4096; i++) {
    const b = bytes[i];
    if (b === 10 || b === 13) {
      lines.push(latin1(bytes.subarray(start, i)));
      if (b === 13 && bytes[i + 1] === 10) i++;
      start = i + 1;
    }
  }
  if (lines.length < 2) lines.push(latin1(bytes.subarray(start, Math.min(bytes.length, 4096))));
  return [lines[0], lines[1] ?? ""];
}

/** Python's own normalisation of an encoding name, mapped to what this module decodes. */
function normalise(name: string): string {
  const n = name.toLowerCase().replace(/_/g, "-");
  if (n === "utf-8" || n.startsWith("utf-8-") || n === "utf8" || n === "u8") return "utf-8";
  if (
    ["latin-1", "iso-8859-1", "iso-latin-1", "latin1", "iso8859-1", "l1", "cp819", "8859"]
      .some((l) => n === l || n.startsWith(l + "-"))
  ) {
    return "latin-1";
  }
  if (n === "ascii" || n === "us-ascii" || n === "646") return "ascii";
  return n;
}

/** Finds the PEP 263 cookie, or undefined. */
function cookie(bytes: Uint8Array): string | undefined {
  const [l1, l2] = firstLines(bytes);
  const m = COOKIE.exec(l1);
  if (m) return m[1];
  if (BLANK_OR_COMMENT.test(l1)) return COOKIE.exec(l2)?.[1];
  return undefined;
}

/** Decodes with a WHATWG decoder, or returns undefined when the label or the bytes are bad. */
function tryDecode(label: string, bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder(label, { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (err) {
    // RangeError: a label WHATWG does not know; TypeError: bytes invalid in that encoding.
    if (err instanceof RangeError || err instanceof TypeError) return undefined;
    throw err;
  }
}

/**
 * Decodes Python source bytes as Python would (BOM, `coding:` cookie,
 * UTF-8 default), falling back to Latin-1 with a warning when the bytes are
 * not valid in that encoding or the encoding is unknown. Never throws.
 *
 * @param bytes The raw file contents.
 * @returns The text (BOM removed), the encoding used and an optional warning.
 *
 * @example
 * ```ts
 * const { text, encoding } = decodePythonSource(new TextEncoder().encode("import os\n"));
 * // text === "import os\n", encoding === "utf-8"
 * ```
 */
export function decodePythonSource(bytes: Uint8Array): DecodedSource {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    const body = bytes.subarray(3);
    const text = tryDecode("utf-8", body);
    if (text !== undefined) return { text, encoding: "utf-8" };
    return {
      text: latin1(body),
      encoding: "latin-1",
      warning: "invalid UTF-8 after a UTF-8 BOM; read as Latin-1",
    };
  }
  const declared = cookie(bytes);
  const enc = declared === undefined ? "utf-8" : normalise(declared);
  if (enc === "latin-1") return { text: latin1(bytes), encoding: "latin-1" };
  let text: string | undefined;
  if (enc === "ascii") {
    text = bytes.every((b) => b < 128) ? latin1(bytes) : undefined;
  } else {
    text = tryDecode(enc, bytes) ??
      (declared !== undefined ? tryDecode(declared.toLowerCase(), bytes) : undefined);
  }
  if (text !== undefined) return { text, encoding: enc };
  const why = declared === undefined
    ? "not valid UTF-8"
    : `not decodable as declared encoding '${declared}'`;
  return { text: latin1(bytes), encoding: "latin-1", warning: why + "; read as Latin-1" };
}
