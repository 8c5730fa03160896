/**
 * A streaming reader of `repodata.json`: it walks the top-level object as
 * bytes arrive and hands over each record of `packages` / `packages.conda` as
 * its own small JSON text, and `info` parsed. The whole document is never one
 * string or one buffer (conda-forge's is larger than V8's longest string);
 * only one decoded chunk plus the record that straddles it are held.
 *
 * Anything malformed (bad UTF-8, a missing brace, a record that is not an
 * object, text after the end, or a stream that ends early) throws an `Error`
 * saying what and where (byte offsets are of the decoded text).
 *
 * @module
 */

/** The two sections of `repodata.json` that hold records. */
export type RepodataSection = "packages" | "packages.conda";

/** Receives what {@linkcode parseRepodataStream} finds. */
export interface RepodataStreamHandler {
  /** One record: its section, file name and JSON text (an object). */
  record(section: RepodataSection, fn: string, json: string): void | Promise<void>;
  /** The parsed `info` object, when present. */
  info?(info: Record<string, unknown>): void;
}

const enum S {
  Start,
  TopKey,
  TopKeyOrEnd,
  TopColon,
  TopValue,
  TopComma,
  SecOpen,
  SecKey,
  SecKeyOrEnd,
  SecColon,
  SecValue,
  SecComma,
  Done,
}

/** Bytes decoded at a time. */
const PIECE = 32 * 1024;

const WS = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * Parses `repodata.json` text from `chunks` (UTF-8 bytes), calling
 * `handler.record` for every record and `handler.info` for `info`. Other
 * top-level keys are skipped.
 */
export async function parseRepodataStream(
  chunks: AsyncIterable<Uint8Array>,
  handler: RepodataStreamHandler,
): Promise<void> {
  const parser = new StreamParser(handler);
  for await (const chunk of chunks) {
    // Small pieces keep every string V8 makes here out of its large-object space, which only
    // a full GC empties: with large chunks, dead strings pile up to hundreds of MB.
    for (let i = 0; i < chunk.length; i += PIECE) {
      parser.feed(parser.decode(chunk.subarray(i, i + PIECE)));
      await parser.run(false);
    }
  }
  parser.feed(parser.decode());
  await parser.run(true);
}

/**
 * The parser's state between chunks: the text not yet consumed (`buf` from
 * `pos`), where in the document it is, and the value being captured.
 */
class StreamParser {
  buf = "";
  pos = 0;
  /** Chars dropped from the front of `buf` so far (for error offsets). */
  base = 0;
  state: S = S.Start;
  topKey = "";
  fn = "";
  // Value capture: start index in buf, scan position, nesting depth, inside a string.
  capturing = false;
  capStart = 0;
  capPos = 0;
  depth = 0;
  inStr = false;
  primitive = false;

  readonly decoder = new TextDecoder("utf-8", { fatal: true });

  constructor(readonly handler: RepodataStreamHandler) {}

  /** Decodes the next bytes (none: the end of the stream); fails on bytes that are not UTF-8. */
  decode(bytes?: Uint8Array): string {
    try {
      return bytes ? this.decoder.decode(bytes, { stream: true }) : this.decoder.decode();
    } catch (err) {
      // A fatal decoder throws only a TypeError, and only for invalid UTF-8.
      if (!(err instanceof TypeError)) throw err;
      throw new Error(`not valid UTF-8 near offset ${this.base + this.buf.length}`);
    }
  }

  fail(what: string, at = this.pos): never {
    throw new Error(`${what} at offset ${this.base + at}`);
  }

  /** Appends decoded text, dropping what is consumed (all but a value being captured). */
  feed(text: string): void {
    const keep = this.capturing ? this.capStart : this.pos;
    this.base += keep;
    this.buf = this.buf.slice(keep) + text;
    if (this.capturing) {
      this.capPos -= this.capStart;
      this.capStart = 0;
    }
    this.pos -= keep;
  }

  /** Runs the state machine over `buf`; returns when more input is needed. */
  async run(final: boolean): Promise<void> {
    for (;;) {
      if (this.capturing) {
        if (!this.scanValue() && !this.endsPrimitive(final)) return;
        await this.finishValue();
        continue;
      }
      const { buf } = this;
      let pos = this.pos;
      while (pos < buf.length && WS(buf.charCodeAt(pos))) pos++;
      this.pos = pos;
      if (pos >= buf.length) {
        if (final && this.state !== S.Done) {
          this.fail("unexpected end of data (truncated repodata)");
        }
        return;
      }
      if (!this.step(buf.charCodeAt(pos), final)) return;
    }
  }

  /**
   * At an incomplete capture: whether it is a number, `true`, ... ended by
   * the end of the data (`final`); fails on a truncated string or object.
   */
  endsPrimitive(final: boolean): boolean {
    if (!final) return false;
    if (this.primitive && this.capPos > this.capStart) return true;
    this.fail("unexpected end of data inside a value");
  }

  /**
   * Consumes the structural character `c` at `pos`; false when more input is
   * needed. The states inside a section come first: they are the hot ones.
   */
  step(c: number, final: boolean): boolean {
    switch (this.state) {
      case S.SecComma:
        if (c === 0x2c) this.state = S.SecKey;
        else if (c === 0x7d) this.state = S.TopComma;
        else this.fail(`expected ',' or '}' in ${this.topKey}`);
        this.pos++;
        return true;
      case S.SecKeyOrEnd:
      case S.SecKey:
        return this.fileNameStep(c, final);
      case S.SecColon:
        if (c !== 0x3a) this.fail("expected ':'");
        this.pos++;
        this.state = S.SecValue;
        return true;
      case S.SecValue:
        if (c !== 0x7b) this.fail(`record ${this.fn} is not an object`);
        this.startValue(c);
        return true;
      case S.SecOpen:
        return this.sectionOpen(c, final);
    }
    return this.topStep(c, final);
  }

  /** The states outside the sections. */
  topStep(c: number, final: boolean): boolean {
    switch (this.state) {
      case S.Start:
        if (c !== 0x7b) this.fail("repodata is not a JSON object");
        this.pos++;
        this.state = S.TopKeyOrEnd;
        return true;
      case S.TopKeyOrEnd:
      case S.TopKey:
        return this.topKeyStep(c, final);
      case S.TopColon:
        if (c !== 0x3a) this.fail("expected ':'");
        this.pos++;
        this.state = this.topKey === "packages" || this.topKey === "packages.conda"
          ? S.SecOpen
          : S.TopValue;
        return true;
      case S.TopValue:
        this.startValue(c);
        return true;
      case S.TopComma:
        if (c === 0x2c) this.state = S.TopKey;
        else if (c === 0x7d) this.state = S.Done;
        else this.fail("expected ',' or '}'");
        this.pos++;
        return true;
    }
    return this.fail("unexpected data after the end of the repodata object");
  }

  /** A top-level key, or the `}` that ends an empty document. */
  topKeyStep(c: number, final: boolean): boolean {
    if (c === 0x7d && this.state === S.TopKeyOrEnd) {
      this.pos++;
      this.state = S.Done;
      return true;
    }
    if (c !== 0x22) this.fail("expected a key");
    const key = this.readString();
    if (key === null) {
      if (final) this.fail("unexpected end of data in a key");
      return false;
    }
    this.topKey = key;
    this.state = S.TopColon;
    return true;
  }

  /** The value of a section: `{`, or `null` (no records). */
  sectionOpen(c: number, final: boolean): boolean {
    const { buf, pos } = this;
    if (c === 0x6e && buf.length - pos < 4 && !final) return false;
    if (c === 0x6e && buf.startsWith("null", pos)) {
      this.pos += 4;
      this.state = S.TopComma;
      return true;
    }
    if (c !== 0x7b) this.fail(`${this.topKey} is not an object`);
    this.pos++;
    this.state = S.SecKeyOrEnd;
    return true;
  }

  /** A record's file name, or the `}` that ends the section. */
  fileNameStep(c: number, final: boolean): boolean {
    if (c === 0x7d && this.state === S.SecKeyOrEnd) {
      this.pos++;
      this.state = S.TopComma;
      return true;
    }
    if (c !== 0x22) this.fail(`expected a file name in ${this.topKey}`);
    const key = this.readString();
    if (key === null) {
      if (final) this.fail("unexpected end of data in a file name");
      return false;
    }
    this.fn = key;
    this.state = S.SecColon;
    return true;
  }

  /** Reads a JSON string starting at `pos` (a quote); returns null when incomplete. */
  readString(): string | null {
    const { buf, pos } = this;
    let j = pos + 1;
    for (;;) {
      j = buf.indexOf('"', j);
      if (j < 0) return null;
      let k = j - 1;
      while (buf.charCodeAt(k) === 0x5c) k--;
      if ((j - 1 - k) % 2 === 0) break;
      j++;
    }
    const raw = buf.slice(pos, j + 1);
    this.pos = j + 1;
    return raw.includes("\\") ? JSON.parse(raw) : raw.slice(1, -1);
  }

  /** Starts capturing the value whose first character `c` is at `pos`. */
  startValue(c: number): void {
    const primitive = c !== 0x7b && c !== 0x5b && c !== 0x22;
    this.capturing = true;
    this.capStart = this.pos;
    this.primitive = primitive;
    this.inStr = c === 0x22;
    this.depth = c === 0x22 || primitive ? 0 : 1;
    this.capPos = primitive ? this.pos : this.pos + 1;
  }

  /** Advances the value capture; returns true when the value is complete. */
  scanValue(): boolean {
    return this.primitive ? this.scanPrimitive() : this.scanNested();
  }

  /** A number, `true`, `false` or `null`: ends at a delimiter or whitespace. */
  scanPrimitive(): boolean {
    const { buf } = this;
    const n = buf.length;
    let p = this.capPos;
    while (p < n) {
      const c = buf.charCodeAt(p);
      if (c === 0x2c || c === 0x7d || c === 0x5d || WS(c)) {
        this.capPos = p;
        return true;
      }
      p++;
    }
    this.capPos = p;
    return false;
  }

  /** A string, object or array: ends where the nesting (outside strings) closes. */
  scanNested(): boolean {
    const { buf } = this;
    const n = buf.length;
    let p = this.capPos;
    let depth = this.depth;
    let inStr = this.inStr;
    let done = false;
    while (p < n) {
      if (inStr) {
        const j = buf.indexOf('"', p);
        if (j < 0) {
          // Escapes are counted backwards from the closing quote, so all of it is scanned.
          p = n;
          break;
        }
        let k = j - 1;
        while (buf.charCodeAt(k) === 0x5c) k--;
        p = j + 1;
        if ((j - 1 - k) % 2 === 0) {
          inStr = false;
          if (depth === 0) {
            done = true;
            break;
          }
        }
        continue;
      }
      const c = buf.charCodeAt(p++);
      if (c === 0x22) inStr = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (--depth === 0) {
          done = true;
          break;
        }
      }
    }
    this.capPos = p;
    this.depth = depth;
    this.inStr = inStr;
    return done;
  }

  /** Hands over the captured value: a record, or `info`; other values are dropped. */
  async finishValue(): Promise<void> {
    const text = this.buf.slice(this.capStart, this.capPos);
    const at = this.capStart;
    this.pos = this.capPos;
    this.capturing = false;
    if (this.state === S.SecValue) {
      if (text.charCodeAt(0) !== 0x7b) this.fail(`record ${this.fn} is not an object`, at);
      await this.handler.record(this.topKey as RepodataSection, this.fn, text);
      this.state = S.SecComma;
      return;
    }
    if (this.topKey === "info") this.finishInfo(text, at);
    this.state = S.TopComma;
  }

  /** Parses `info` and hands it over when it is an object. */
  finishInfo(text: string, at: number): void {
    let info: unknown;
    try {
      info = JSON.parse(text);
    } catch (err) {
      this.fail(`info is not valid JSON (${(err as Error).message})`, at);
    }
    if (typeof info === "object" && info !== null && !Array.isArray(info)) {
      this.handler.info?.(info as Record<string, unknown>);
    }
  }
}
