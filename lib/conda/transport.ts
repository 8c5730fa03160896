/**
 * HTTP GETs of repodata, shard indexes and shards, with retries on network
 * errors, 5xx and 429. The one place the repodata code talks to the network,
 * so that it can be routed through a shared HTTP client.
 *
 * @module
 */

import { PonchoError } from "../errors.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * GETs `url` with `headers`, up to `attempts` times on network errors and
 * 5xx/429 answers (backing off 200 ms, 400 ms, ...); returns the last
 * response. Throws a {@linkcode PonchoError} (exit 3) naming the URL when the
 * server cannot be reached at all.
 */
export async function getWithRetry(
  url: string,
  headers: Record<string, string> = {},
  attempts = 3,
): Promise<Response> {
  let lastErr: unknown;
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await sleep(200 * 2 ** (i - 1));
    try {
      const res = await fetch(url, { headers });
      if ((res.status >= 500 || res.status === 429) && i < attempts - 1) {
        await res.body?.cancel();
        continue;
      }
      return res;
    } catch (err) {
      lastErr = err;
    }
  }
  const reason = lastErr instanceof Error ? lastErr.message : String(lastErr);
  throw new PonchoError(
    `cannot reach channel at ${url} (${
      reason.split("\n")[0]
    }); check the URL, the network or use --offline`,
    undefined,
    { cause: lastErr },
  );
}

/** Throws the error for an unexpected HTTP status of `url`. */
export function httpFailure(res: Response, url: string): never {
  throw new PonchoError(
    `channel ${url} answered HTTP ${res.status} ${res.statusText}; check the channel URL`,
  );
}
