import assert from "node:assert/strict";
import { PonchoError, UsageError } from "../errors.ts";
import { fetchHttpSource, sniffCompression, urlBasename } from "./http.ts";
import { rejection } from "../../tests/util.ts";

async function has(cmd: string): Promise<boolean> {
  return await new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" })
    .output().then((o) => o.success, () => false);
}
const tarAvailable = await has("tar") && await has("gzip") && await has("bzip2") &&
  await has("zstd");
if (!tarAvailable) {
  console.log("http_test.ts: tar tests skipped, GNU tar, gzip, bzip2 or zstd is not installed");
}

async function run(cwd: string, cmd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr)}`);
}

/** The PonchoError `p` rejects with (fails the test otherwise). */
const failure = (p: Promise<unknown>) => rejection(p, PonchoError);

/** Serves the files of `dir` on a loopback port; 404 for anything else. */
function serveDir(dir: string): { url: string; server: Deno.HttpServer; hits: string[] } {
  const hits: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    hits.push(path);
    try {
      const f = await Deno.open(`${dir}${path}`);
      return new Response(f.readable);
    } catch {
      return new Response("not here", { status: 404, statusText: "Not Found" });
    }
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, server, hits };
}

/** Builds `files/` (a small tree) and tarballs of it in every compression with GNU tar. */
async function makeTarballs(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/tree/db/idx`, { recursive: true });
  await Deno.writeTextFile(`${dir}/tree/db/ref.fa`, ">chr1\nACGT\n");
  await Deno.writeTextFile(`${dir}/tree/db/idx/ref.idx`, "index\n");
  await Deno.symlink("ref.fa", `${dir}/tree/db/latest.fa`);
  await run(`${dir}/tree`, "tar", "-czf", "../ref.tar.gz", "db");
  await run(`${dir}/tree`, "tar", "-cjf", "../ref.tar.bz2", "db");
  await run(`${dir}/tree`, "tar", "--zstd", "-cf", "../ref.tar.zst", "db");
  await run(`${dir}/tree`, "tar", "-cf", "../ref.tar", "db");
  await Deno.copyFile(`${dir}/ref.tar.gz`, `${dir}/ref-tarball`); // no telling suffix
}

Deno.test("urlBasename and sniffCompression", () => {
  assert.equal(urlBasename("https://h/a/b/ref%20db.dat?x=1"), "ref db.dat");
  assert.equal(urlBasename("https://h/"), "data");
  assert.equal(urlBasename("file:///tmp/x.txt"), "x.txt");
  assert.equal(sniffCompression(new Uint8Array([0x1f, 0x8b, 8])), "gz");
  assert.equal(sniffCompression(new TextEncoder().encode("BZh91AY")), "bz2");
  assert.equal(sniffCompression(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd])), "zst");
  assert.equal(sniffCompression(new TextEncoder().encode("ustar")), "none");
});

Deno.test("fetchHttpSource downloads a file over http and file://", async () => {
  const tmp = await Deno.makeTempDir();
  const { url, server, hits } = serveDir(`${tmp}/srv`);
  try {
    await Deno.mkdir(`${tmp}/srv/data`, { recursive: true });
    await Deno.writeTextFile(`${tmp}/srv/data/ref.dat`, "reference\n");
    const rel = await fetchHttpSource(
      "REF_DB",
      { type: "file", url: `${url}/data/ref.dat` },
      `${tmp}/env/http/REF_DB`,
    );
    assert.equal(rel, "ref.dat");
    assert.equal(await Deno.readTextFile(`${tmp}/env/http/REF_DB/ref.dat`), "reference\n");
    assert.deepEqual(hits, ["/data/ref.dat"]);

    const local = await fetchHttpSource(
      "LOCAL",
      { type: "file", url: `file://${tmp}/srv/data/ref.dat` },
      `${tmp}/env/http/LOCAL`,
    );
    assert.equal(await Deno.readTextFile(`${tmp}/env/http/LOCAL/${local}`), "reference\n");

    // A gzip-compressed "file" is stored decompressed, without its .gz suffix (as CCTools does).
    const gz = new Response(
      ReadableStream.from([new TextEncoder().encode("zipped\n")]).pipeThrough(
        new CompressionStream("gzip"),
      ),
    );
    await Deno.writeFile(`${tmp}/srv/data/notes.txt.gz`, new Uint8Array(await gz.arrayBuffer()));
    const unz = await fetchHttpSource(
      "NOTES",
      { type: "file", url: `${url}/data/notes.txt.gz`, compression: "gzip" },
      `${tmp}/env/http/NOTES`,
    );
    assert.equal(unz, "notes.txt");
    assert.equal(await Deno.readTextFile(`${tmp}/env/http/NOTES/notes.txt`), "zipped\n");
  } finally {
    await server.shutdown();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test({
  name: "fetchHttpSource unpacks tarballs built by GNU tar in every compression",
  ignore: !tarAvailable,
  fn: async () => {
    const tmp = await Deno.makeTempDir();
    const { url, server } = serveDir(tmp);
    try {
      await makeTarballs(tmp);
      const cases: [string, string | undefined][] = [
        ["ref.tar.gz", "gzip"],
        ["ref.tar.bz2", "bzip2"],
        ["ref.tar.zst", "zstd"],
        ["ref.tar", "none"],
        ["ref-tarball", undefined], // compression recognised from the bytes
        ["ref.tar.zst", undefined],
      ];
      for (const [i, [name, compression]] of cases.entries()) {
        const dest = `${tmp}/env/${i}`;
        const src = { type: "tar" as const, url: `${url}/${name}`, compression };
        assert.equal(await fetchHttpSource("REF", src, dest), "");
        assert.equal(await Deno.readTextFile(`${dest}/db/ref.fa`), ">chr1\nACGT\n", name);
        assert.equal(await Deno.readTextFile(`${dest}/db/idx/ref.idx`), "index\n", name);
        assert.equal(await Deno.readLink(`${dest}/db/latest.fa`), "ref.fa", name);
      }
      // file:// tarballs too.
      const dest = `${tmp}/env/local`;
      await fetchHttpSource("REF", { type: "tar", url: `file://${tmp}/ref.tar.bz2` }, dest);
      assert.equal(await Deno.readTextFile(`${dest}/db/ref.fa`), ">chr1\nACGT\n");
    } finally {
      await server.shutdown();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("fetchHttpSource errors name the key and the URL on one line", async () => {
  const tmp = await Deno.makeTempDir();
  const { url, server } = serveDir(tmp);
  try {
    await Deno.writeTextFile(`${tmp}/not-a-tar.tar.gz`, "plain text, not gzip\n");
    const check = (e: PonchoError, key: string, u: string) => {
      assert.ok(e.message.includes(`http.${key}`) && e.message.includes(u), e.message);
      assert.ok(!e.message.includes("\n"), e.message);
    };
    const missing = `${url}/missing.dat`;
    const e404 = await failure(
      fetchHttpSource("REF_DB", { type: "file", url: missing }, `${tmp}/a`),
    );
    check(e404, "REF_DB", missing);
    assert.ok(e404.message.includes("404"), e404.message);

    // Nothing listens on the port of a server that was shut down.
    const dead = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response(),
    );
    const deadUrl = `http://127.0.0.1:${dead.addr.port}/x.dat`;
    await dead.shutdown();
    check(
      await failure(fetchHttpSource("REF_DB", { type: "file", url: deadUrl }, `${tmp}/b`)),
      "REF_DB",
      deadUrl,
    );

    const noFile = `file://${tmp}/nope.dat`;
    check(
      await failure(fetchHttpSource("K", { type: "file", url: noFile }, `${tmp}/c`)),
      "K",
      noFile,
    );

    const corrupt = `${url}/not-a-tar.tar.gz`;
    check(
      await failure(
        fetchHttpSource("T", { type: "tar", url: corrupt, compression: "gzip" }, `${tmp}/d`),
      ),
      "T",
      corrupt,
    );

    const ftp = await failure(
      fetchHttpSource("F", { type: "file", url: "ftp://h/x" }, `${tmp}/e`),
    );
    assert.ok(ftp instanceof UsageError && ftp.message.includes("http.F.url"), ftp.message);
    const comp = await failure(
      fetchHttpSource("F", { type: "tar", url: missing, compression: "xz" }, `${tmp}/e`),
    );
    assert.ok(comp instanceof UsageError && comp.message.includes("compression"), comp.message);

    // Failures leave no destination and no scratch directories behind.
    const names: string[] = [];
    for await (const e of Deno.readDir(tmp)) names.push(e.name);
    assert.deepEqual(names, ["not-a-tar.tar.gz"]);
  } finally {
    await server.shutdown();
    await Deno.remove(tmp, { recursive: true });
  }
});
