/**
 * A per-name on-disk index of a monolithic `repodata.json`, so that a later
 * process reads only the names it needs.
 *
 * An index is a directory of two files:
 * - `records.json`: for each package name, one JSON object
 *   `{"packages": {...}, "packages.conda": {...}}` (the shape of a CEP-16
 *   shard), one after another;
 * - `names.json`: `{format, info, records, names: {name: [offset, length]}}`
 *   (byte ranges in `records.json`).
 *
 * {@linkcode buildRepodataIndex} streams the document ({@link parseRepodataStream})
 * into 64 bucket files by name hash, then groups each bucket by name; memory
 * stays at about one bucket (1/64 of the document). It writes into a temp
 * directory and renames it into place only when the whole document parsed,
 * so a corrupt or truncated input leaves nothing behind.
 *
 * @module
 */

import { open } from "node:fs/promises";
import { CorruptError } from "../errors.ts";
import { join } from "node:path";
import { publishDir } from "../fs/atomic.ts";
import { parseRepodataStream, type RepodataSection } from "./repodata_stream.ts";
import type { NameRecords, RecordSource } from "./records.ts";
import { concatBytes } from "../bytes.ts";
import { writeAllSync } from "../fs/io.ts";

const FORMAT = 1;
const BUCKETS = 64;
/** Pending characters per bucket before they are written out. */
const FLUSH_CHARS = 48 * 1024;
/** Bytes gathered before a write of `records.json`. */
const WRITE_BYTES = 4 << 20;

/** What {@linkcode buildRepodataIndex} indexed. */
export interface IndexStats {
  /** Records indexed. */
  records: number;
  /** Distinct package names. */
  names: number;
}

/** Progress of an index build: decoded bytes read so far. */
export type IndexProgress = (bytes: number) => void;

function bucketOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return (h >>> 0) % BUCKETS;
}

/**
 * Writes whole buffers to an open file. Synchronously on purpose: thousands of
 * async writes spread over the runtime's blocking threads grow the process's
 * memory (one malloc arena per thread) far beyond the data in flight.
 */
const NAME_OK = /^[^\t\n]+$/;

/**
 * Reads `repodata.json` bytes from `chunks` and writes its per-name index to
 * the new directory `dest` (which must not exist), using `tmpDir` for work
 * files. Throws an `Error` describing the defect when the document is
 * malformed or truncated; `dest` is then not created.
 */
export async function buildRepodataIndex(
  chunks: AsyncIterable<Uint8Array>,
  dest: string,
  tmpDir: string,
  progress?: IndexProgress,
): Promise<IndexStats> {
  await Deno.mkdir(tmpDir, { recursive: true });
  const work = await Deno.makeTempDir({ dir: tmpDir, prefix: "repodata-index-" });
  try {
    const { info, records } = await bucketRecords(counted(chunks, progress), work);
    const { table, names } = groupBuckets(work);
    await Deno.writeTextFile(
      join(work, "names.json"),
      JSON.stringify({ format: FORMAT, info, records, names: table }),
    );
    await publishDir(work, dest);
    return { records, names };
  } catch (err) {
    // Best effort: the build's own error is what counts; a work dir left behind only takes space.
    await Deno.remove(work, { recursive: true }).catch(() => {});
    throw err;
  }
}

/** Passes `chunks` on, reporting the bytes seen so far to `progress`. */
async function* counted(
  chunks: AsyncIterable<Uint8Array>,
  progress?: IndexProgress,
): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  for await (const c of chunks) {
    bytes += c.length;
    progress?.(bytes);
    yield c;
  }
}

/**
 * The bucket line of one record: `p|c <tab> name <tab> fn <tab> length <tab>
 * json`, and its bucket. Throws when the record is not JSON or has no usable name.
 */
function bucketEntry(section: RepodataSection, fn: string, json: string): [number, string] {
  let name: unknown;
  try {
    name = JSON.parse(json).name;
  } catch (err) {
    throw new Error(`record ${fn} is not valid JSON (${(err as Error).message})`);
  }
  if (typeof name !== "string" || !NAME_OK.test(name) || !NAME_OK.test(fn)) {
    throw new Error(`record ${fn} has no valid name`);
  }
  const tag = section === "packages" ? "p" : "c";
  return [bucketOf(name), `${tag}\t${name}\t${fn}\t${json.length}\t${json}`];
}

/** The 64 bucket files of a build, each written in pieces of {@linkcode FLUSH_CHARS}. */
class BucketFiles {
  readonly #files: Deno.FsFile[];
  readonly #pending: string[][] = Array.from({ length: BUCKETS }, () => []);
  readonly #chars = new Array<number>(BUCKETS).fill(0);
  readonly #enc = new TextEncoder();

  constructor(work: string) {
    this.#files = Array.from(
      { length: BUCKETS },
      (_, i) => Deno.openSync(join(work, `b${i}`), { write: true, create: true }),
    );
  }

  add(b: number, entry: string): void {
    this.#pending[b].push(entry);
    this.#chars[b] += entry.length;
    if (this.#chars[b] >= FLUSH_CHARS) this.flush(b);
  }

  flush(b: number): void {
    if (this.#pending[b].length === 0) return;
    writeAllSync(this.#files[b], this.#enc.encode(this.#pending[b].join("")));
    this.#pending[b] = [];
    this.#chars[b] = 0;
  }

  flushAll(): void {
    for (let b = 0; b < BUCKETS; b++) this.flush(b);
  }

  close(): void {
    for (const f of this.#files) f.close();
  }
}

/** Streams the document into the bucket files `work/b<i>`; returns `info` and the record count. */
async function bucketRecords(
  chunks: AsyncIterable<Uint8Array>,
  work: string,
): Promise<{ info: Record<string, unknown>; records: number }> {
  const buckets = new BucketFiles(work);
  let info: Record<string, unknown> = {};
  let records = 0;
  try {
    await parseRepodataStream(chunks, {
      info: (i) => info = i,
      record: (section, fn, json) => {
        const [b, entry] = bucketEntry(section, fn, json);
        buckets.add(b, entry);
        records++;
      },
    });
    buckets.flushAll();
  } finally {
    buckets.close();
  }
  return { info, records };
}

/** One name's records of a bucket: `"fn":{...}` pairs per section. */
interface NameGroup {
  p: string[];
  c: string[];
}

/** Groups the lines of one bucket file by package name. */
function parseBucket(text: string): Map<string, NameGroup> {
  const groups = new Map<string, NameGroup>();
  let i = 0;
  while (i < text.length) {
    const t1 = text.indexOf("\t", i);
    const t2 = text.indexOf("\t", t1 + 1);
    const t3 = text.indexOf("\t", t2 + 1);
    const t4 = text.indexOf("\t", t3 + 1);
    const name = text.slice(t1 + 1, t2);
    const fn = text.slice(t2 + 1, t3);
    const len = Number(text.slice(t3 + 1, t4));
    const json = text.slice(t4 + 1, t4 + 1 + len);
    let g = groups.get(name);
    if (!g) groups.set(name, g = { p: [], c: [] });
    (text.charCodeAt(i) === 0x70 ? g.p : g.c).push(`${JSON.stringify(fn)}:${json}`);
    i = t4 + 1 + len;
  }
  return groups;
}

/** Appends to `records.json` in batches of {@linkcode WRITE_BYTES}, counting offsets. */
class RecordsWriter {
  readonly #out: Deno.FsFile;
  #offset = 0;
  #batch: Uint8Array[] = [];
  #batchBytes = 0;

  constructor(path: string) {
    this.#out = Deno.openSync(path, { write: true, create: true });
  }

  /** Queues `data`; returns its byte range `[offset, length]` in the file. */
  add(data: Uint8Array): [number, number] {
    const range: [number, number] = [this.#offset, data.length];
    this.#offset += data.length;
    this.#batch.push(data);
    this.#batchBytes += data.length;
    if (this.#batchBytes >= WRITE_BYTES) this.flush();
    return range;
  }

  flush(): void {
    if (this.#batchBytes) writeAllSync(this.#out, concatBytes(this.#batch));
    this.#batch = [];
    this.#batchBytes = 0;
  }

  [Symbol.dispose](): void {
    this.#out.close();
  }
}

/**
 * Groups each bucket by name into `work/records.json` (removing the bucket
 * files); returns the name table (byte ranges) and the number of names.
 */
function groupBuckets(work: string): { table: Record<string, [number, number]>; names: number } {
  const table: Record<string, [number, number]> = {};
  let names = 0;
  using out = new RecordsWriter(join(work, "records.json"));
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  for (let b = 0; b < BUCKETS; b++) {
    const path = join(work, `b${b}`);
    const text = dec.decode(Deno.readFileSync(path));
    Deno.removeSync(path);
    for (const [name, g] of parseBucket(text)) {
      table[name] = out.add(
        enc.encode(`{"packages":{${g.p.join(",")}},"packages.conda":{${g.c.join(",")}}}\n`),
      );
      names++;
    }
  }
  out.flush();
  return { table, names };
}

/** An opened per-name index: the name table in memory, records read on demand. */
export class RepodataIndex implements RecordSource {
  /** The document's `info` object. */
  readonly info: Record<string, unknown>;
  /** Records in the index. */
  readonly records: number;
  #dir: string;
  #names: Record<string, [number, number]>;
  #file: Promise<import("node:fs/promises").FileHandle> | undefined;

  private constructor(dir: string, table: {
    info?: Record<string, unknown>;
    records?: number;
    names: Record<string, [number, number]>;
  }) {
    this.#dir = dir;
    this.info = table.info ?? {};
    this.records = table.records ?? 0;
    this.#names = table.names;
  }

  /**
   * Opens the index in `dir`; throws `Deno.errors.NotFound` when it is
   * missing, a `SyntaxError` or {@linkcode CorruptError} when it is damaged
   * or not an index of this format.
   */
  static async open(dir: string): Promise<RepodataIndex> {
    const path = join(dir, "names.json");
    const table = JSON.parse(await Deno.readTextFile(path));
    if (table?.format !== FORMAT || typeof table.names !== "object" || table.names === null) {
      throw new CorruptError(`${dir} is not a repodata index of format ${FORMAT}`, { path });
    }
    return new RepodataIndex(dir, table);
  }

  /** Package names in the index. */
  get size(): number {
    return Object.keys(this.#names).length;
  }

  /** Whether the index has records named `name`. */
  has(name: string): boolean {
    return Object.hasOwn(this.#names, name);
  }

  /** The records named `name` (empty sections when there are none). */
  async read(name: string): Promise<NameRecords> {
    if (!this.has(name)) return { packages: {}, "packages.conda": {} };
    const [offset, length] = this.#names[name];
    this.#file ??= open(join(this.#dir, "records.json"), "r");
    const fh = await this.#file;
    const buf = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
      if (bytesRead === 0) {
        const path = join(this.#dir, "records.json");
        throw new CorruptError(
          `${path} is truncated (a damaged repodata cache entry); remove it and try again`,
          { path },
        );
      }
      got += bytesRead;
    }
    return JSON.parse(new TextDecoder().decode(buf));
  }

  /** Closes the records file. */
  async close(): Promise<void> {
    const f = this.#file;
    this.#file = undefined;
    if (f) await (await f).close();
  }
}
