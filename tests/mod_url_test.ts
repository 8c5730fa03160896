/**
 * `mod.ts` must work when imported by URL: serve this checkout over loopback
 * HTTP, import it from a directory with no deno.json or package.json, and call
 * `analyze()` on a small source tree.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));

Deno.test("mod.ts imported over loopback HTTP analyzes a script", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("no", { status: 400 });
    try {
      const body = await Deno.readFile(join(repo, path));
      const type = path.endsWith(".json") ? "application/json" : "application/typescript";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const dir = await Deno.makeTempDir({ prefix: "poncho-url-" });
  try {
    const { port } = server.addr as Deno.NetAddr;
    await Deno.writeTextFile(
      join(dir, "app.py"),
      "import os\nimport taggit\nimport dj_database_url\nfrom . import x\n",
    );
    await Deno.writeTextFile(
      join(dir, "main.ts"),
      `import { analyze } from "http://127.0.0.1:${port}/mod.ts";
const r = await analyze({ sources: [${JSON.stringify(join(dir, "app.py"))}], python: "3.11" });
console.log(JSON.stringify(r.spec));`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      // --reload: Deno caches remote modules by URL, and an earlier run (another checkout,
      // another version) may have served other code on this port; it must not be reused.
      args: [
        "run",
        "-A",
        "--quiet",
        "--no-lock",
        `--reload=http://127.0.0.1:${port}/`,
        join(dir, "main.ts"),
      ],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const spec = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.ok(spec.conda.dependencies.includes("python=3.11"), JSON.stringify(spec));
    // the shipped import map (a data file beside the modules) is fetched over HTTP too
    assert.ok(spec.conda.dependencies.includes("django-taggit"), JSON.stringify(spec));
    assert.ok(spec.conda.dependencies.includes("dj-database-url"), JSON.stringify(spec));
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
