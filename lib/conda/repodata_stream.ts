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
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let buf = "";
  let pos = 0;
  /** Chars dropped from the front of `buf` so far (for error offsets). */
  let base = 0;
  let state: S = S.Start;
  let topKey = "";
  let fn = "";
  // Value capture: start index in buf, scan position, nesting depth, inside a string.
  let capturing = false;
  let capStart = 0;
  let capPos = 0;
  let depth = 0;
  let inStr = false;
  let primitive = false;

  const fail = (what: string, at = pos): never => {
    throw new Error(`${what} at offset ${base + at}`);
  };

  /** Reads a JSON string starting at `pos` (a quote); returns null when incomplete. */
  const readString = (): string | null => {
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
    pos = j + 1;
    return raw.includes("\\") ? JSON.parse(raw) : raw.slice(1, -1);
  };

  /** Advances the value capture; returns true when the value is complete. */
  const scanValue = (): boolean => {
    let p = capPos;
    const n = buf.length;
    if (primitive) {
      while (p < n) {
        const c = buf.charCodeAt(p);
        if (c === 0x2c || c === 0x7d || c === 0x5d || WS(c)) {
          capPos = p;
          return true;
        }
        p++;
      }
      capPos = p;
      return false;
    }
    while (p < n) {
      if (inStr) {
        const j = buf.indexOf('"', p);
        if (j < 0) {
          // Escapes are counted backwards from the closing quote, so all of it is scanned.
          capPos = n;
          return false;
        }
        let k = j - 1;
        while (buf.charCodeAt(k) === 0x5c) k--;
        p = j + 1;
        if ((j - 1 - k) % 2 === 0) {
          inStr = false;
          if (depth === 0) {
            capPos = p;
            return true;
          }
        }
        continue;
      }
      const c = buf.charCodeAt(p++);
      if (c === 0x22) inStr = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (--depth === 0) {
          capPos = p;
          return true;
        }
      }
    }
    capPos = p;
    return false;
  };

  const startValue = (c: number) => {
    capturing = true;
    capStart = pos;
    primitive = c !== 0x7b && c !== 0x5b && c !== 0x22;
    inStr = c === 0x22;
    depth = c === 0x22 || primitive ? 0 : 1;
    capPos = primitive ? pos : pos + 1;
  };

  const finishValue = async (): Promise<void> => {
    const text = buf.slice(capStart, capPos);
    pos = capPos;
    capturing = false;
    if (state === S.SecValue) {
      if (text.charCodeAt(0) !== 0x7b) fail(`record ${fn} is not an object`, capStart);
      await handler.record(topKey as RepodataSection, fn, text);
      state = S.SecComma;
    } else {
      if (topKey === "info") {
        let info: unknown;
        try {
          info = JSON.parse(text);
        } catch (err) {
          fail(`info is not valid JSON (${(err as Error).message})`, capStart);
        }
        if (typeof info === "object" && info !== null && !Array.isArray(info)) {
          handler.info?.(info as Record<string, unknown>);
        }
      }
      state = S.TopComma;
    }
  };

  /** Runs the state machine over `buf`; returns when more input is needed. */
  const run = async (final: boolean): Promise<void> => {
    for (;;) {
      if (capturing) {
        const done = scanValue();
        if (!done) {
          if (final) {
            if (primitive && capPos > capStart) {
              await finishValue();
              continue;
            }
            fail("unexpected end of data inside a value");
          }
          return;
        }
        await finishValue();
        continue;
      }
      while (pos < buf.length && WS(buf.charCodeAt(pos))) pos++;
      if (pos >= buf.length) {
        if (final && state !== S.Done) fail("unexpected end of data (truncated repodata)");
        return;
      }
      const c = buf.charCodeAt(pos);
      switch (state) {
        case S.Start:
          if (c !== 0x7b) fail("repodata is not a JSON object");
          pos++;
          state = S.TopKeyOrEnd;
          break;
        case S.TopKeyOrEnd:
        case S.TopKey: {
          if (c === 0x7d && state === S.TopKeyOrEnd) {
            pos++;
            state = S.Done;
            break;
          }
          if (c !== 0x22) fail("expected a key");
          const key = readString();
          if (key === null) {
            if (final) fail("unexpected end of data in a key");
            return;
          }
          topKey = key;
          state = S.TopColon;
          break;
        }
        case S.TopColon:
          if (c !== 0x3a) fail("expected ':'");
          pos++;
          state = topKey === "packages" || topKey === "packages.conda" ? S.SecOpen : S.TopValue;
          break;
        case S.TopValue:
          startValue(c);
          break;
        case S.SecOpen:
          if (c === 0x6e && buf.length - pos < 4 && !final) return;
          if (c === 0x6e && buf.startsWith("null", pos)) {
            pos += 4;
            state = S.TopComma;
            break;
          }
          if (c !== 0x7b) fail(`${topKey} is not an object`);
          pos++;
          state = S.SecKeyOrEnd;
          break;
        case S.SecKeyOrEnd:
        case S.SecKey: {
          if (c === 0x7d && state === S.SecKeyOrEnd) {
            pos++;
            state = S.TopComma;
            break;
          }
          if (c !== 0x22) fail(`expected a file name in ${topKey}`);
          const key = readString();
          if (key === null) {
            if (final) fail("unexpected end of data in a file name");
            return;
          }
          fn = key;
          state = S.SecColon;
          break;
        }
        case S.SecColon:
          if (c !== 0x3a) fail("expected ':'");
          pos++;
          state = S.SecValue;
          break;
        case S.SecValue:
          if (c !== 0x7b) fail(`record ${fn} is not an object`);
          startValue(c);
          break;
        case S.SecComma:
          if (c === 0x2c) state = S.SecKey;
          else if (c === 0x7d) state = S.TopComma;
          else fail(`expected ',' or '}' in ${topKey}`);
          pos++;
          break;
        case S.TopComma:
          if (c === 0x2c) state = S.TopKey;
          else if (c === 0x7d) state = S.Done;
          else fail("expected ',' or '}'");
          pos++;
          break;
        case S.Done:
          fail("unexpected data after the end of the repodata object");
      }
    }
  };

  const feed = (text: string) => {
    const keep = capturing ? capStart : pos;
    base += keep;
    buf = buf.slice(keep) + text;
    if (capturing) {
      capPos -= capStart;
      capStart = 0;
    }
    pos -= keep;
  };

  const decode = (bytes?: Uint8Array) => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    } catch (err) {
      // The fatal decoder's only failure: invalid UTF-8.
      if (err instanceof TypeError) {
        throw new Error(`not valid UTF-8 near offset ${base + buf.length}`);
      }
      throw err;
    }
  };
  for await (const chunk of chunks) {
    // Small pieces keep every string V8 makes here out of its large-object space, which only
    // a full GC empties: with large chunks, dead strings pile up to hundreds of MB.
    for (let i = 0; i < chunk.length; i += PIECE) {
      feed(decode(chunk.subarray(i, i + PIECE)));
      await run(false);
    }
  }
  feed(decode());
  await run(true);
}
