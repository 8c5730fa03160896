/**
 * The parts of `seek-bzip@2.0.0` (an untyped CommonJS module) that `bz2.ts`
 * uses: the decoder's block-level internals, which let output be streamed
 * one bzip2 block at a time.
 *
 * @module
 */

/** A byte source as seek-bzip expects it. */
export interface BunzipInput {
  readByte(): number;
  read(buf: Uint8Array, off: number, len: number): number;
  seek(pos: number): void;
  eof(): boolean;
}

/** A byte sink as seek-bzip expects it. */
export interface BunzipOutput {
  writeByte(b: number): void;
  flush(): void;
}

/** The bzip2 decoder. */
declare class Bunzip {
  constructor(input: BunzipInput, output: BunzipOutput);
  /** The bit reader of the current stream. */
  reader: { read(bits: number): number };
  /** The CRC combined from the blocks decoded so far in this stream. */
  streamCRC: number;
  /** Reads the next block; false at the end-of-stream marker. */
  _init_block(): boolean;
  /** Writes the current block's bytes to the output and checks its CRC. */
  _read_bunzip(): number;
  /** Starts a new (concatenated) stream at the input's position. */
  _start_bunzip(input: BunzipInput, output: BunzipOutput): void;
}

export default Bunzip;
