/**
 * Environment archives for the worker-side benchmarks (issue 16), built once
 * into `<repo>/.cache/bench/`:
 *
 * - {@link realEnvArchive}: a 90-100 MB environment with a real interpreter:
 *   `poncho create --prefix` of python (this machine's CPython, from the
 *   test channel), hello (a C program with a 255-character placeholder),
 *   pyhello, pip and dill (noarch python packages), plus GCC's `cc1` (a
 *   33 MB C binary), Debian's `python3.11` and `libgcc.a`, packed with the packages' pristine
 *   placeholders as `create` packs it (so `poncho run` relocates text and
 *   binary files);
 * - {@link stdlibArchive}: the small-file case, this machine's Python
 *   standard library (`lib/pythonX.Y` without `site-packages`, about 7,700
 *   files) packed as an environment.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildTestChannel } from "../tests/fixtures/channel.ts";
import { createEnvironment } from "../lib/create.ts";
import { packPrefix } from "../lib/env/pack.ts";
import { pristineFromCondaMeta } from "../lib/env/pristine.ts";

const CACHE = fileURLToPath(new URL("../.cache/bench/", import.meta.url));
/** Bump when what the archives hold changes. */
const VERSION = 3;
/** Real binaries added to the created prefix (to reach 90-100 MB): source -> path in it. */
const EXTRA: [string, string][] = [
  ["/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "libexec/cc1"],
  ["/usr/bin/python3.11", "libexec/python3.11"],
  ["/usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a", "lib/libgcc.a"],
];

/** A benchmark archive and what it holds. */
export interface BenchArchive {
  /** The `.tar.zst`. */
  archive: string;
  /** Regular files in it. */
  files: number;
  /** Bytes of regular files. */
  bytes: number;
}

function manifest(id: string) {
  return { format: 1, id, platform: "linux-64", created: "2026-12-01T00:00:00Z", poncho: "bench" };
}

function countFiles(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) {
      const sub = countFiles(p);
      files += sub.files;
      bytes += sub.bytes;
    } else if (e.isFile) {
      files++;
      bytes += Deno.statSync(p).size;
    }
  }
  return { files, bytes };
}

/** Builds `name` once (temp prefix, pack, rename); `fill` populates the prefix. */
async function cached(
  name: string,
  fill: (prefix: string, work: string) => Promise<void>,
): Promise<BenchArchive> {
  const archive = join(CACHE, `${name}-v${VERSION}.tar.zst`);
  const meta = `${archive}.json`;
  try {
    return { archive, ...JSON.parse(Deno.readTextFileSync(meta)) };
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  Deno.mkdirSync(CACHE, { recursive: true });
  const work = Deno.makeTempDirSync({ dir: CACHE, prefix: `.build-${name}-` });
  try {
    const prefix = join(work, "prefix");
    await fill(prefix, work);
    const tmp = join(work, "out.tar.zst");
    await packPrefix({
      prefix,
      output: tmp,
      pristine: await pristineFromCondaMeta(prefix),
      manifest: manifest(`bench-${name}-v${VERSION}`),
    });
    const counts = countFiles(prefix);
    Deno.renameSync(tmp, archive);
    Deno.writeTextFileSync(meta, JSON.stringify(counts));
    return { archive, ...counts };
  } finally {
    Deno.removeSync(work, { recursive: true });
  }
}

/** The 90-100 MB environment with a real interpreter (see the module documentation). */
export function realEnvArchive(): Promise<BenchArchive> {
  return cached("real-env", async (prefix, work) => {
    const ch = await buildTestChannel();
    const spec = {
      channels: [ch.url],
      conda: ["python", "hello", "pyhello", "pip", "dill"],
      pip: [],
      git: {},
      http: {},
    };
    await createEnvironment({ spec, prefix, store: join(work, "store"), quiet: true });
    Deno.mkdirSync(join(prefix, "libexec"));
    for (const [src, rel] of EXTRA) {
      Deno.copyFileSync(src, join(prefix, rel));
      Deno.chmodSync(join(prefix, rel), Deno.statSync(src).mode! & 0o777);
    }
  });
}

/** The Python standard library as an environment (the small-file case). */
export function stdlibArchive(): Promise<BenchArchive> {
  return cached("stdlib", (prefix) => {
    const probe = new Deno.Command("python3", {
      args: ["-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
      stdout: "piped",
    }).outputSync();
    const stdlib = new TextDecoder().decode(probe.stdout).trim();
    const rel = `lib/${stdlib.split("/").pop()}`;
    Deno.mkdirSync(join(prefix, "lib"), { recursive: true });
    const cp = new Deno.Command("sh", {
      args: [
        "-c",
        `cp -a "$1" "$2" && rm -rf "$2/site-packages"`,
        "sh",
        stdlib,
        join(prefix, rel),
      ],
    }).outputSync();
    if (!cp.success) throw new Error(`cannot copy ${stdlib}`);
    return Promise.resolve();
  });
}

if (import.meta.main) {
  for (const a of [await realEnvArchive(), await stdlibArchive()]) {
    console.log(`${a.archive}: ${a.files} files, ${(a.bytes / 1e6).toFixed(1)} MB`);
  }
}
