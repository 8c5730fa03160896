/**
 * Hostile input through the CLI: every case of the corpus (`fixtures/hostile.ts`)
 * is refused with one line naming the archive or package, the member and the
 * rule, exit 3; nothing lands outside the allowed roots (the victim directory
 * stays as it was, and no file carrying the corpus token exists anywhere in
 * the machine's temp dirs or the store); the store stays usable. Benign
 * inputs of the same shapes still work.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  buildHostileCorpus,
  type HostileCase,
  type HostileCorpus,
  hostileToolsAvailable,
} from "./fixtures/hostile.ts";
import { type PonchoOutput, runPoncho } from "./util.ts";
import { CACHE_MARKER, isCompleteEntry } from "../lib/conda/extract.ts";

const available = hostileToolsAvailable();
if (!available) console.log("hostile_test: python3, zstd or cph missing; tests skipped");

/** Escapes `s` for use inside a RegExp. */
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Asserts a refusal: exit 3, one line naming `source`, the member and the rule. */
function assertRefused(r: PonchoOutput, c: HostileCase, source: RegExp): void {
  assert.equal(r.code, 3, `${c.name}: exit ${r.code}\n${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `${c.name}: more than one line:\n${r.stderr}`);
  const line = lines[0];
  assert.match(line, source, `${c.name}: the message does not name the source`);
  assert.match(line, new RegExp(`refusing (member|path) ${c.member!}: `), `${c.name}: ${line}`);
  assert.match(line, new RegExp(c.rule!), `${c.name}: the rule is not named: ${line}`);
}

/** Every path under the machine's temp dirs (and `extra`) whose name holds `token`. */
async function findToken(token: string, extra: string[]): Promise<string[]> {
  const roots = ["/tmp", "/var/tmp", "/dev/shm", Deno.env.get("TMPDIR") ?? "/tmp", ...extra];
  const out = await new Deno.Command("find", {
    args: [...new Set(roots)].filter((r) => {
      try {
        return Deno.statSync(r).isDirectory;
      } catch {
        return false;
      }
    }).concat(["-name", `*${token}*`, "-print"]),
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean);
}

/** The victim holds exactly what it held, and the store's temp and package dirs are clean. */
async function assertContained(corpus: HostileCorpus, store: string, what: string) {
  const names = (await Array.fromAsync(Deno.readDir(corpus.victim))).map((e) => e.name);
  assert.deepEqual(names, ["victim.txt"], `${what}: something was written into the victim`);
  assert.equal(await Deno.readTextFile(`${corpus.victim}/victim.txt`), "original\n", what);
  for (const sub of ["tmp", "pkgs", "envs"]) {
    const dir = join(store, "v1", sub);
    let entries: Deno.DirEntry[] = [];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch { /* not made yet */ }
    for (const e of entries) {
      if (sub === "tmp") assert.fail(`${what}: ${dir}/${e.name} left behind`);
      if (sub === "pkgs") {
        // Only complete package cache entries: no temp dirs, no partial or foreign entries.
        assert.ok(
          isCompleteEntry(join(dir, e.name), e.name),
          `${what}: ${dir}/${e.name} is not a complete cache entry`,
        );
      }
      if (sub === "envs" && !e.name.endsWith(".lock")) {
        assert.ok(e.isDirectory, `${what}: ${dir}/${e.name} is not a directory`);
      }
    }
  }
}

async function withCorpus(fn: (corpus: HostileCorpus, work: string) => Promise<void>) {
  const work = await Deno.makeTempDir({ prefix: "poncho-hostile-" });
  try {
    await fn(await buildHostileCorpus(work), work);
  } finally {
    await new Deno.Command("chmod", { args: ["-R", "u+rwX", work] }).output();
    await Deno.remove(work, { recursive: true });
  }
}

function specFile(work: string, name: string, spec: unknown): string {
  const path = join(work, `${name}.json`);
  Deno.writeTextFileSync(path, JSON.stringify(spec));
  return path;
}

Deno.test({
  name: "hostile corpus: every crafted archive, package and http: tarball is refused, contained",
  ignore: !available,
  async fn(t) {
    await withCorpus(async (corpus, work) => {
      const store = join(work, "store");
      const channels = [corpus.channelUrl];
      for (const c of corpus.cases) {
        if (c.kind === "benign-create") continue;
        await t.step(`${c.kind}: ${c.name}`, async () => {
          if (c.kind === "run") {
            const r = await runPoncho(["run", "--store", store, "-e", c.file!, "--", "true"]);
            assertRefused(r, c, new RegExp(literal(c.file!)));
          } else if (c.kind === "create") {
            const spec = specFile(work, c.name, { conda: { channels, dependencies: c.deps } });
            const out = join(work, `${c.name}.tar.zst`);
            const r = await runPoncho(["create", "-q", "--store", store, spec, out]);
            // The package by name (link time) or by URL (extraction).
            const pkg = c.deps![0];
            assertRefused(
              r,
              c,
              new RegExp(`package ${literal(pkg)}-1\\.0-0 |${literal(corpus.channelUrl)}.*${pkg}`),
            );
            await assert.rejects(Deno.lstat(out), Deno.errors.NotFound);
          } else {
            const url = pathToFileURL(c.file!).href;
            const spec = specFile(work, c.name, {
              conda: { channels, dependencies: ["good"] },
              http: { DATA: { type: "tar", url } },
            });
            const out = join(work, `${c.name}.tar.zst`);
            const r = await runPoncho(["create", "-q", "--store", store, spec, out]);
            assertRefused(r, c, new RegExp(`http\\.DATA \\(${literal(url)}\\)`));
            await assert.rejects(Deno.lstat(out), Deno.errors.NotFound);
          }
          await assertContained(corpus, store, c.name);
        });
      }

      await t.step("the refused packages left no cache entry that could be trusted", async () => {
        // Extraction refusals: their cache entries must not exist at all.
        const repodata = JSON.parse(
          await Deno.readTextFile(join(corpus.channel, "noarch", "repodata.json")),
        );
        const bySha = new Map<string, string>();
        for (const group of ["packages", "packages.conda"]) {
          for (const rec of Object.values(repodata[group]) as { name: string; sha256: string }[]) {
            bySha.set(rec.sha256, rec.name);
          }
        }
        for await (const e of Deno.readDir(join(store, "v1", "pkgs"))) {
          const name = bySha.get(e.name);
          assert.ok(name, `pkgs/${e.name} is no package of the channel`);
          assert.ok(await Deno.lstat(join(store, "v1", "pkgs", e.name, CACHE_MARKER)));
        }
        const extractionRefusals = ["repro2-cache-escape", "pkg-link-info-writes-through"];
        for (const [sha, name] of bySha) {
          if (extractionRefusals.includes(name)) {
            await assert.rejects(Deno.lstat(join(store, "v1", "pkgs", sha)), Deno.errors.NotFound);
          }
        }
        // Reproduction 2 aimed at pkgs/aaaa…/: nothing there.
        await assert.rejects(
          Deno.lstat(join(store, "v1", "pkgs", "a".repeat(64))),
          Deno.errors.NotFound,
        );
      });

      await t.step(
        "an on-disk symlink where an env is unpacked is replaced, not followed",
        async () => {
          const path = (await runPoncho([
            "store",
            "path",
            "--planned",
            "--store",
            store,
            corpus.benignArchive,
          ]))
            .stdout.trim();
          assert.ok(path.startsWith(store), path);
          await Deno.mkdir(join(path, ".."), { recursive: true });
          await Deno.symlink(corpus.victim, path);
          let r = await runPoncho(["run", "--store", store, "-e", corpus.benignArchive, "tool"]);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout, "benign\n");
          assert.ok(!(await Deno.lstat(path)).isSymlink);
          await assertContained(corpus, store, "planted slot link");
          // A half-made slot (no ready marker) holding `bin -> victim`.
          await Deno.remove(path, { recursive: true });
          await Deno.mkdir(path);
          await Deno.symlink(corpus.victim, join(path, "bin"));
          r = await runPoncho(["run", "--store", store, "-e", corpus.benignArchive, "tool"]);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout, "benign\n");
          assert.ok((await Deno.lstat(join(path, "bin"))).isDirectory);
          await assertContained(corpus, store, "planted bin link in a half-made slot");
        },
      );

      await t.step("benign inputs of the same shapes work, with the same store", async () => {
        const r = await runPoncho(["run", "--store", store, "-e", corpus.benignArchive, "tool"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "benign\n");
        const benign = corpus.cases.find((c) => c.kind === "benign-create")!;
        const spec = specFile(work, "benign", {
          conda: { channels, dependencies: benign.deps },
          http: { DATA: { type: "tar", url: pathToFileURL(corpus.benignHttp).href } },
        });
        const prefix = join(work, "benign-prefix");
        const c = await runPoncho(["create", "-q", "--store", store, "--prefix", prefix, spec]);
        assert.equal(c.code, 0, c.stderr);
        assert.equal(await Deno.readTextFile(join(prefix, "lib/link.txt")), "benign\n");
        assert.equal(await Deno.readTextFile(join(prefix, "lib/hard.txt")), "benign\n");
        assert.equal(
          await Deno.readTextFile(join(prefix, "share/a/b/c/deep/file.txt")),
          "benign\n",
        );
        assert.ok((await Deno.stat(join(prefix, "bin/good-cmd"))).isFile);
        const data = join(prefix, "share/poncho/http/DATA");
        assert.equal(await Deno.readTextFile(join(data, "db/latest.fa")), ">x\nACGT\n");
        assert.equal(await Deno.readTextFile(join(data, "db/hard.fa")), ">x\nACGT\n");
        assert.equal(await Deno.readLink(join(data, "db/a/b/c")), "../..");
        await assertContained(corpus, store, "benign");
      });

      await t.step(
        "nothing carrying the corpus token exists in the temp dirs or the store",
        async () => {
          assert.deepEqual(await findToken(corpus.token, [store]), []);
        },
      );
    });
  },
});
