/**
 * HTTP GETs of repodata, shard indexes and shards, with retries on network
 * errors, 5xx and 429. The one place the repodata code talks to the network,
 * so that it can be routed through a shared HTTP client.
 *
 * @module
 */

import { NetworkError } from "../errors.ts";
import { httpGet } from "../net/http.ts";

/**
 * GETs `url` with `headers` through `lib/net/http.ts` (connect and idle
 * timeouts), up to `attempts` times on network errors, timeouts and
 * 5xx/429 answers (with backoff); returns the last response. Throws a
 * {@linkcode NetworkError} (exit 3) naming the URL when the server cannot be
 * reached at all.
 */
export async function getWithRetry(
  url: string,
  headers: Record<string, string> = {},
  attempts = 3,
): Promise<Response> {
  try {
    return await httpGet(url, { headers, attempts, backoffMs: 200 });
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    throw new NetworkError(`${err.message}; check the URL, the network or use --offline`, {
      url,
      cause: err,
      transient: true,
    });
  }
}

/** Throws the error for an unexpected HTTP status of `url`. */
export function httpFailure(res: Response, url: string): never {
  throw new NetworkError(
    `channel ${url} answered HTTP ${res.status} ${res.statusText}; check the channel URL`,
    { url },
  );
}
