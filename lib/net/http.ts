/**
 * Every HTTP request Poncho makes (channels, repodata, packages, `http:`
 * sources) goes through this module, so none can hang:
 *
 * - **connect timeout**: the response headers must arrive within the
 *   timeout (a server that accepts the connection and never answers fails);
 * - **idle timeout**: while the body streams, no gap between two chunks may
 *   exceed the timeout (a server that sends half a response and stalls fails);
 * - **retries** ({@linkcode httpGet}): network errors, timeouts, HTTP 5xx and
 *   429 are tried again with exponential backoff;
 * - every error is a {@linkcode NetworkError} naming the URL.
 *
 * The timeout is `PONCHO_HTTP_TIMEOUT` seconds (default 30, both timeouts).
 *
 * @module
 */

import { errorLine, NetworkError, UsageError } from "../errors.ts";

/** Default connect and idle timeout, in seconds. */
export const DEFAULT_HTTP_TIMEOUT = 30;

/** Options of {@linkcode httpFetch}. */
export interface HttpFetchOptions {
  /** Request headers. */
  headers?: Record<string, string>;
  /** Aborts the request (and the body) from outside. */
  signal?: AbortSignal;
  /** Milliseconds until the response headers (default from `PONCHO_HTTP_TIMEOUT`). */
  connectTimeoutMs?: number;
  /** Milliseconds allowed between two body chunks (default from `PONCHO_HTTP_TIMEOUT`). */
  idleTimeoutMs?: number;
}

/** Options of {@linkcode httpGet}. */
export interface HttpGetOptions extends HttpFetchOptions {
  /** Attempts in all (default 3). */
  attempts?: number;
  /** Delay before the first retry in milliseconds, doubled each time (default 250). */
  backoffMs?: number;
  /** Receives one line per retry (for `--verbose`). */
  log?: (line: string) => void;
}

/**
 * The timeout in milliseconds from `PONCHO_HTTP_TIMEOUT` (seconds, may be
 * fractional), else {@linkcode DEFAULT_HTTP_TIMEOUT}.
 *
 * @throws {UsageError} when the variable is not a positive number.
 */
export function httpTimeoutMs(): number {
  const raw = Deno.env.get("PONCHO_HTTP_TIMEOUT");
  if (raw === undefined || raw === "") return DEFAULT_HTTP_TIMEOUT * 1000;
  const secs = Number(raw);
  if (!Number.isFinite(secs) || secs <= 0) {
    throw new UsageError(
      `PONCHO_HTTP_TIMEOUT='${raw}' is not a positive number of seconds (default ${DEFAULT_HTTP_TIMEOUT})`,
    );
  }
  return secs * 1000;
}

/** Whether an HTTP status is worth retrying (5xx, 429, 408). */
export function transientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** Joins several abort signals. */
function anySignal(signals: (AbortSignal | undefined)[]): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
}

/**
 * One GET with a connect and an idle timeout. The returned response's body
 * fails with a {@linkcode NetworkError} when it stalls. HTTP error statuses
 * are returned, not thrown.
 *
 * @throws {NetworkError} (transient) when the host cannot be reached or does
 *   not answer in time.
 */
export async function httpFetch(url: string, opts: HttpFetchOptions = {}): Promise<Response> {
  const connectMs = opts.connectTimeoutMs ?? httpTimeoutMs();
  const idleMs = opts.idleTimeoutMs ?? httpTimeoutMs();
  const timer = new AbortController();
  const signal = anySignal([timer.signal, opts.signal]);
  let timedOut = "";
  const arm = (ms: number, why: string) =>
    setTimeout(() => {
      timedOut = why;
      timer.abort(new Error(why));
    }, ms);
  let handle = arm(connectMs, `no answer within ${connectMs / 1000} s`);
  let res: Response;
  try {
    res = await fetch(url, { headers: opts.headers, signal, redirect: "follow" });
  } catch (err) {
    clearTimeout(handle);
    if (opts.signal?.aborted) throw err;
    throw new NetworkError(
      `cannot reach ${url}: ${timedOut || errorLine(err)}${timeoutHint(timedOut)}`,
      { url, cause: err, transient: true },
    );
  }
  clearTimeout(handle);
  if (res.body === null) return res;
  const reader = res.body.getReader();
  const idle = `download stalled: no data for ${idleMs / 1000} s`;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      handle = arm(idleMs, idle);
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        throw new NetworkError(
          `download of ${url} broke off: ${timedOut || errorLine(err)}${timeoutHint(timedOut)}`,
          { url, cause: err, transient: true },
        );
      } finally {
        clearTimeout(handle);
      }
    },
    cancel(reason) {
      clearTimeout(handle);
      return reader.cancel(reason);
    },
  });
  const wrapped = new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
  Object.defineProperty(wrapped, "url", { value: res.url });
  return wrapped;
}

function timeoutHint(timedOut: string): string {
  return timedOut ? " (raise PONCHO_HTTP_TIMEOUT, in seconds, for a slow server)" : "";
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

/**
 * A GET with timeouts ({@linkcode httpFetch}) and retries with exponential
 * backoff on network errors, timeouts, 5xx, 429 and 408. Returns the
 * response (a non-transient error status such as 404 at once; a transient
 * one once the attempts are used up), so that callers can tell "not there"
 * from "not reachable".
 *
 * @throws {NetworkError} when every attempt failed to get an answer.
 */
export async function httpGet(url: string, opts: HttpGetOptions = {}): Promise<Response> {
  const attempts = Math.max(1, opts.attempts ?? 3);
  const backoff = opts.backoffMs ?? 250;
  let last: NetworkError | undefined;
  for (let i = 1;; i++) {
    try {
      const res = await httpFetch(url, opts);
      if (!transientStatus(res.status) || i >= attempts) return res;
      await res.body?.cancel();
      opts.log?.(`${url}: HTTP ${res.status}; retrying`);
    } catch (err) {
      if (!(err instanceof NetworkError) || !err.transient) throw err;
      last = err;
      if (i >= attempts) break;
      opts.log?.(`${err.message}; retrying`);
    }
    await sleep(backoff * 2 ** (i - 1), opts.signal);
    if (opts.signal?.aborted) throw opts.signal.reason;
  }
  throw new NetworkError(`${last!.message} (after ${attempts} attempts)`, {
    url,
    cause: last,
    transient: true,
  });
}
