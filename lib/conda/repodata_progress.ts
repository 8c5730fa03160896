/**
 * Progress of the repodata phase on a terminal: one line on stderr,
 * redrawn at most every 100 ms, with index bytes read and shards fetched.
 *
 * @module
 */

const fmtBytes = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${Math.round(n / 1024)} KiB`;

/** Counts what the repodata phase did and shows it on stderr when enabled. */
export class RepodataProgress {
  /** Decoded repodata bytes indexed so far. */
  indexBytes = 0;
  /** Shards asked for (cached or not). */
  shardsWanted = 0;
  /** Shards read (from the cache or downloaded). */
  shardsDone = 0;
  /** Shards downloaded. */
  shardsFetched = 0;
  /** Bytes of shards downloaded. */
  shardBytes = 0;
  #show: boolean;
  #last = 0;
  #drawn = false;

  /** `show`: draw the line (only sensible when stderr is a terminal). */
  constructor(show: boolean) {
    this.#show = show;
  }

  /** Redraws the line if enough time passed. */
  tick(): void {
    if (!this.#show) return;
    const now = performance.now();
    if (now - this.#last < 100) return;
    this.#last = now;
    const parts = [];
    if (this.indexBytes) parts.push(`indexed ${fmtBytes(this.indexBytes)} of repodata.json`);
    if (this.shardsWanted) {
      parts.push(
        `shards ${this.shardsDone}/${this.shardsWanted} (${this.shardsFetched} downloaded, ${
          fmtBytes(this.shardBytes)
        })`,
      );
    }
    if (!parts.length) return;
    Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[Krepodata: ${parts.join(", ")}`));
    this.#drawn = true;
  }

  /** Clears the line. */
  done(): void {
    if (this.#drawn) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
    this.#drawn = false;
  }
}
