import assert from "node:assert/strict";
import { NetworkError, PonchoError } from "../errors.ts";
import { httpFetch, httpGet, httpTimeoutMs } from "./http.ts";
import { rawServer, readRequest, rejection } from "../../tests/util.ts";

const enc = new TextEncoder();

Deno.test("httpFetch: a server that accepts and never answers times out, naming the URL", async () => {
  const srv = rawServer(async (conn, _n, closed) => {
    await readRequest(conn);
    await closed;
  });
  try {
    const t0 = Date.now();
    const err = await rejection(
      () => httpFetch(`${srv.url}/repodata.json`, { connectTimeoutMs: 300 }),
      NetworkError,
    );
    assert(Date.now() - t0 < 2500, "gave up in time");
    assert(err.message.includes(`${srv.url}/repodata.json`), err.message);
    assert(err.message.includes("PONCHO_HTTP_TIMEOUT"), err.message);
    assert.equal(err.kind, "network");
    assert.equal(err.exitCode, 3);
    assert.equal(err.url, `${srv.url}/repodata.json`);
  } finally {
    await srv.close();
  }
});

Deno.test("httpFetch: half a response, then a stall, fails on the idle timeout", async () => {
  const srv = rawServer(async (conn, _n, closed) => {
    await readRequest(conn);
    await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nhalf"));
    await closed;
  });
  try {
    const res = await httpFetch(`${srv.url}/pkg.conda`, { idleTimeoutMs: 300 });
    assert.equal(res.status, 200);
    const err = await rejection(() => res.arrayBuffer());
    // The body's error surfaces as a TypeError wrapping ours or as ours, depending on the reader.
    const net = err instanceof NetworkError ? err : (err as Error).cause;
    assert(net instanceof NetworkError, String(err));
    assert(net.message.includes(`${srv.url}/pkg.conda`), net.message);
    assert(net.message.includes("stalled"), net.message);
  } finally {
    await srv.close();
  }
});

Deno.test("httpGet: retries 503 with backoff, then succeeds; 404 is returned at once", async () => {
  const srv = rawServer(async (conn, n) => {
    await readRequest(conn);
    const reply = n < 2
      ? "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
      : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    await conn.write(enc.encode(reply));
    conn.close();
  });
  try {
    const lines: string[] = [];
    const res = await httpGet(`${srv.url}/x`, {
      attempts: 3,
      backoffMs: 10,
      log: (l) => lines.push(l),
    });
    assert.equal(await res.text(), "ok");
    assert.equal(lines.length, 2);
  } finally {
    await srv.close();
  }
  const nf = rawServer(async (conn) => {
    await readRequest(conn);
    await conn.write(
      enc.encode("HTTP/1.1 404 No\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    );
    conn.close();
  });
  try {
    const res = await httpGet(`${nf.url}/x`, { attempts: 3, backoffMs: 10 });
    assert.equal(res.status, 404);
    await res.body?.cancel();
  } finally {
    await nf.close();
  }
});

Deno.test("httpGet: a stalled server is retried, then fails naming the URL and the attempts", async () => {
  let seen = 0;
  const srv = rawServer(async (conn, _n, closed) => {
    seen++;
    await readRequest(conn);
    await closed;
  });
  try {
    const err = await rejection(
      () => httpGet(`${srv.url}/y`, { attempts: 2, backoffMs: 10, connectTimeoutMs: 200 }),
      NetworkError,
    );
    assert(err.message.includes(`${srv.url}/y`) && err.message.includes("after 2 attempts"));
    assert.equal(seen, 2);
  } finally {
    await srv.close();
  }
});

Deno.test("httpFetch: a refused connection is a network error naming the URL", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const err = await rejection(
    () => httpFetch(`http://127.0.0.1:${port}/z`, { connectTimeoutMs: 2000 }),
    NetworkError,
  );
  assert(err.message.includes(`http://127.0.0.1:${port}/z`));
  assert(err instanceof PonchoError);
});

Deno.test("httpTimeoutMs reads PONCHO_HTTP_TIMEOUT and refuses nonsense", () => {
  const old = Deno.env.get("PONCHO_HTTP_TIMEOUT");
  try {
    Deno.env.set("PONCHO_HTTP_TIMEOUT", "1.5");
    assert.equal(httpTimeoutMs(), 1500);
    Deno.env.delete("PONCHO_HTTP_TIMEOUT");
    assert.equal(httpTimeoutMs(), 30_000);
    Deno.env.set("PONCHO_HTTP_TIMEOUT", "soon");
    let code = 0;
    try {
      httpTimeoutMs();
    } catch (e) {
      code = (e as PonchoError).exitCode;
    }
    assert.equal(code, 1);
  } finally {
    if (old === undefined) Deno.env.delete("PONCHO_HTTP_TIMEOUT");
    else Deno.env.set("PONCHO_HTTP_TIMEOUT", old);
  }
});
