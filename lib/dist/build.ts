/**
 * Builds the single-file Poncho (`deno task dist`): the POSIX sh launcher of
 * `launcher.sh` followed by a tar.gz payload holding
 *
 * ```
 * deno                the pinned Deno binary (the one running the build)
 * app/deno.json       {"nodeModulesDir": "manual", "lock": false}
 * app/cli/ lib/ store/  Poncho's code as JavaScript (Deno's emit, `emit.ts`; tests left out)
 * app/node_modules/   the non-dev packages of package-lock.json (rattler's WASM included)
 * PAYLOAD_COMPLETE    the last member: an unpack that has it is whole
 * ```
 *
 * The launcher runs `deno run --cached-only app/cli/main.js`, so a start never
 * needs the network: every npm package is in `app/node_modules`, which Deno
 * reads directly (`nodeModulesDir: manual`; the `npm:` specifiers of
 * `lib/deps/` name exact versions). There is deliberately no `package.json`:
 * with one, every start of Deno reads it and sets up a resolver for its
 * dependencies, about 1.5 ms of CPU on the warm path.
 *
 * The payload is deterministic (sorted members, fixed owners and times), so
 * the same tree and Deno always give the same payload hash, and the store
 * unpacks one runtime per distinct build.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { compress, writeFileChunks } from "../archive/compress.ts";
import { type TarWriteEntry, writeTar } from "../archive/tar_writer.ts";
import { CorruptError, fsError, NotFoundError, PonchoError } from "../errors.ts";
import { replaceFile } from "../fs/atomic.ts";
import { VERSION } from "../version.ts";
import { emitJavaScript } from "./emit.ts";
import { storeLayout } from "../../store/layout.ts";

/** The index bucket relative to the store root, as the launcher's fast path reads it. */
const INDEX_BUCKET = storeLayout("/").index.slice(1);
/** The locks bucket relative to the store root (archive identity locks: `source-<key>.lock`). */
const LOCKS_BUCKET = storeLayout("/").locks.slice(1);

/** The directories of Poncho's code carried in the payload. */
export const CODE_DIRS: readonly string[] = ["cli", "lib", "store"];

/** The name of the payload's last member. */
export const COMPLETE_MARKER = "PAYLOAD_COMPLETE";

/** The mtime (seconds) of every payload member: fixed, and recent enough that tar does not warn. */
const PAYLOAD_MTIME = 1_700_000_000;

/** One file or directory of the payload. */
export interface PayloadFile {
  /** The path inside the payload. */
  path: string;
  /** Where its bytes come from (undefined for directories and in-memory files). */
  source?: string;
  /** In-memory body. */
  data?: Uint8Array;
  /** Permission bits. */
  mode: number;
  /** Whether it is a directory. */
  directory: boolean;
}

/** What {@link buildDist} wrote. */
export interface DistResult {
  /** The single file. */
  path: string;
  /** Its size in bytes. */
  size: number;
  /** sha256 (hex) of the payload: the runtime's directory name in the store. */
  payloadSha256: string;
}

/** Options of {@link buildDist}. */
export interface DistOptions {
  /** The checkout to build from (holds `package.json`, `package-lock.json`, `cli/`). */
  root: string;
  /** The file to write (its directory is created). */
  output: string;
  /** The Deno binary to carry; default the running one, which must be the pinned version. */
  deno?: string;
}

const enc = new TextEncoder();

function isCodeFile(name: string): boolean {
  return !name.endsWith("_test.ts");
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`${path} is missing (run npm ci in the checkout first)`, { path });
    }
    if (err instanceof SyntaxError) {
      throw new CorruptError(`${path} is not JSON (${err.message}); restore it`, { path });
    }
    throw fsError(err, path, { what: "cannot read", role: "input" });
  }
}

/**
 * The `node_modules/...` directories of the packages Poncho needs at run
 * time: every entry of `package-lock.json` not marked `dev`, except those
 * nested in another one (`node_modules/a/node_modules/b` travels with `a`).
 */
export async function runtimePackages(root: string): Promise<string[]> {
  const lock = await readJson(`${root}/package-lock.json`);
  const packages = (lock.packages ?? {}) as Record<string, { dev?: boolean }>;
  const all = Object.entries(packages)
    .filter(([k, v]) => k.startsWith("node_modules/") && !v.dev)
    .map(([k]) => k)
    .sort();
  return all.filter((p) => !all.some((q) => p.startsWith(`${q}/`)));
}

/** Adds `root/rel` (a file, directory tree or symlink-free tree) to `out`, as `prefix/rel`. */
async function addTree(
  out: PayloadFile[],
  root: string,
  rel: string,
  keep: (name: string) => boolean,
): Promise<void> {
  const full = `${root}/${rel}`;
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(full);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`${full} is missing (run npm ci in the checkout first)`, {
        path: full,
      });
    }
    throw fsError(err, full, { what: "cannot read", role: "input" });
  }
  if (!st.isDirectory) {
    out.push({ path: `app/${rel}`, source: full, mode: st.mode! & 0o755, directory: false });
    return;
  }
  out.push({ path: `app/${rel}`, mode: 0o755, directory: true });
  const names: string[] = [];
  for await (const e of Deno.readDir(full)) if (keep(e.name)) names.push(e.name);
  for (const name of names.sort()) await addTree(out, root, `${rel}/${name}`, keep);
}

/** The Deno binary to carry: `deno`, or the running Deno when it is the version `package.json` pins. */
async function denoBinary(root: string, deno?: string): Promise<string> {
  if (deno) return deno;
  const pkg = await readJson(`${root}/package.json`);
  const pinned = (pkg.devDependencies as Record<string, string> | undefined)?.deno;
  if (pinned !== Deno.version.deno) {
    throw new PonchoError(
      `the running Deno is ${Deno.version.deno} but package.json pins deno ${pinned}; ` +
        "run the task with the pinned one (npx deno task dist)",
    );
  }
  return Deno.execPath();
}

/**
 * Every member of the payload, in archive order (the completion marker
 * last), for the checkout at `root` carrying the Deno binary `deno`.
 */
export async function payloadFiles(root: string, deno: string): Promise<PayloadFile[]> {
  const out: PayloadFile[] = [
    { path: "deno", source: deno, mode: 0o755, directory: false },
    { path: "app", mode: 0o755, directory: true },
    {
      path: "app/deno.json",
      data: enc.encode(JSON.stringify({ nodeModulesDir: "manual", lock: false }) + "\n"),
      mode: 0o644,
      directory: false,
    },
  ];
  const code: PayloadFile[] = [];
  for (const dir of CODE_DIRS) await addTree(code, root, dir, isCodeFile);
  out.push(...await asJavaScript(code, root, deno));
  const parents = new Set<string>();
  for (const p of await runtimePackages(root)) {
    // Scoped packages (node_modules/@scope/name) need their scope directory first.
    const parts = p.split("/");
    for (let i = 1; i < parts.length - 1; i++) {
      const dir = parts.slice(0, i + 1).join("/");
      if (!parents.has(dir)) {
        parents.add(dir);
        out.push({ path: `app/${dir}`, mode: 0o755, directory: true });
      }
    }
    await addTree(out, root, p, () => true);
  }
  out.push({
    path: COMPLETE_MARKER,
    data: enc.encode(`poncho ${VERSION}\n`),
    mode: 0o644,
    directory: false,
  });
  return out;
}

/**
 * The code members with every TypeScript module replaced by its JavaScript
 * emit (`x.ts` by `x.js`, `emit.ts`); other files (data, the launcher's
 * template, declaration files) as they are.
 */
async function asJavaScript(
  code: PayloadFile[],
  root: string,
  deno: string,
): Promise<PayloadFile[]> {
  const isModule = (f: PayloadFile) => /(?<!\.d)\.ts$/.test(f.source ?? "");
  const emitted = await emitJavaScript(deno, root, code.filter(isModule).map((f) => f.source!));
  return code.map((f) =>
    isModule(f)
      ? {
        path: `${f.path.slice(0, -3)}.js`,
        data: enc.encode(emitted.get(f.source!)!),
        mode: 0o644,
        directory: false,
      }
      : f
  );
}

/** Passes `chunks` through, feeding each to `hash`. */
async function* hashed(
  chunks: AsyncIterable<Uint8Array>,
  hash: ReturnType<typeof createHash>,
): AsyncGenerator<Uint8Array> {
  for await (const c of chunks) {
    hash.update(c);
    yield c;
  }
}

async function* tarEntries(files: PayloadFile[]): AsyncGenerator<TarWriteEntry> {
  for (const f of files) {
    if (f.directory) yield { path: f.path, type: "directory", mode: f.mode };
    else if (f.data) yield { path: f.path, type: "file", mode: f.mode, data: f.data };
    else {
      const size = (await Deno.stat(f.source!)).size;
      yield { path: f.path, type: "file", mode: f.mode, file: f.source, size };
    }
  }
}

/** The launcher for a payload of hash `sha256` starting right after it. */
export async function renderLauncher(sha256: string): Promise<string> {
  const template = await Deno.readTextFile(new URL("./launcher.sh", import.meta.url));
  const render = (offset: number) =>
    template.replaceAll("@VERSION@", VERSION).replaceAll("@PAYLOAD_SHA256@", sha256)
      .replaceAll("@PAYLOAD_OFFSET@", String(offset)).replaceAll("@INDEX_BUCKET@", INDEX_BUCKET)
      .replaceAll("@LOCKS_BUCKET@", LOCKS_BUCKET);
  // tail -c +N starts at byte N (1-based): one past the launcher. The offset's own digits
  // change the length, so iterate to the fixed point (two rounds at most in practice).
  let offset = enc.encode(render(0)).length + 1;
  while (enc.encode(render(offset)).length + 1 !== offset) {
    offset = enc.encode(render(offset)).length + 1;
  }
  return render(offset);
}

/**
 * Writes the single file to `options.output` (via a temp file beside it and
 * a rename: a failed build leaves nothing there) and returns what it wrote.
 */
export async function buildDist(options: DistOptions): Promise<DistResult> {
  const deno = await denoBinary(options.root, options.deno);
  const files = await payloadFiles(options.root, deno);
  const dir = options.output.replace(/\/[^/]*$/, "") || "/";
  await Deno.mkdir(dir, { recursive: true });
  const payloadTmp = `${options.output}.payload-${Deno.pid}`;
  try {
    const tar = writeTar(tarEntries(files), { mtime: PAYLOAD_MTIME, uid: 0, gid: 0 });
    const hash = createHash("sha256");
    await writeFileChunks(payloadTmp, hashed(compress(tar, "gz", { level: 6 }), hash));
    const sha256 = hash.digest("hex");
    await replaceFile(options.output, async (tmp) => {
      await Deno.writeFile(tmp, enc.encode(await renderLauncher(sha256)), { createNew: true });
      // pipeTo closes both files when the copy ends.
      const out = await Deno.open(tmp, { append: true });
      await (await Deno.open(payloadTmp)).readable.pipeTo(out.writable);
    }, { mode: 0o755 });
    const size = (await Deno.stat(options.output)).size;
    return { path: options.output, size, payloadSha256: sha256 };
  } finally {
    // Best effort: the payload is a scratch file; a failure to remove it must not hide the result.
    await Deno.remove(payloadTmp).catch(() => {});
  }
}
