/**
 * Small helpers shared by the test files: is a tool on PATH, spawn the CLI,
 * temporary directories and stores that clean up after themselves.
 *
 * @module
 */
import { concatBytes } from "../lib/bytes.ts";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_ROOT } from "../cli/compile.ts";
import { type StoreLayout, storeLayout } from "../store/layout.ts";
import {
  buildTestChannel,
  fixtureToolsAvailable,
  serveChannel,
  type ServedChannel,
  type ServeOptions,
  type TestChannel,
} from "./fixtures/channel.ts";

/** The CLI entry point, `cli/main.ts`, as a file path. */
export const MAIN: string = fileURLToPath(new URL("../cli/main.ts", import.meta.url));

/** True when `sh -c "command -v <name>"` finds `name` (false if that cannot even run). */
export function hasCommand(name: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/**
 * Whether the fixture channel's tools are there (see `fixtureToolsAvailable`);
 * when not, prints `<what> skipped: missing <tools>` so the log says why.
 */
export async function fixtureTools(what: string): Promise<{ ok: boolean; missing: string[] }> {
  const tools = await fixtureToolsAvailable();
  if (!tools.ok) console.log(`${what} skipped: missing ${tools.missing.join(", ")}`);
  return tools;
}

/** Where `sh -c "command -v <name>"` finds `name`, or "" when it does not. */
export function commandPath(name: string): string {
  const o = new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "piped" })
    .outputSync();
  return o.success ? new TextDecoder().decode(o.stdout).trim() : "";
}

/** Whether {@linkcode runUnprivileged} can drop root's power to read any file (setpriv). */
export const canDropFileCapabilities: boolean = Deno.uid() !== 0 || hasCommand("setpriv");

/**
 * Runs the TypeScript module `code` (imports by absolute URL) with `deno run
 * -A` in a child that lacks the capabilities letting root read any file
 * (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, dropped through `setpriv`), so
 * that a mode-000 file is unreadable to it even when the tests run as root.
 * Returns the child's stdout; throws when it fails.
 */
export async function runUnprivileged(code: string, args: string[] = []): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "poncho-unpriv-" });
  try {
    const script = `${dir}/main.ts`;
    await Deno.writeTextFile(script, code);
    const deno = [Deno.execPath(), "run", "-A", "--quiet", script, ...args];
    const drop = "-dac_override,-dac_read_search";
    const cmd = Deno.uid() === 0
      ? ["setpriv", `--inh-caps=${drop}`, `--bounding-set=${drop}`, ...deno]
      : deno;
    const out = await new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A `deno eval` child started by {@link evalChild}. */
export interface EvalChild {
  /** The child (its stdin is piped: it may wait for that to close). */
  child: Deno.ChildProcess;
  /** The first chunk the child wrote to stdout, trimmed. */
  first: string;
  /** Sends `signal` (when given), closes its stdin, waits for it to exit and closes its stdout. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Spawns `deno eval code` (stdin and stdout piped, stderr inherited) and
 * waits for its first stdout chunk: for helper processes that hold a lock or
 * a temp dir and say so before they wait on stdin.
 */
export async function evalChild(code: string): Promise<EvalChild> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value).trim();
  return {
    child,
    first,
    async stop(signal) {
      if (signal) child.kill(signal);
      // A killed child may have closed its end already; that is the point of the kill.
      await child.stdin.close().catch(() => {});
      const status = await child.status;
      reader.releaseLock();
      await child.stdout.cancel();
      return status;
    },
  };
}

/** Writes a spec of `deps` over the one channel `channelUrl` to `dir/spec.json`; returns that path. */
export async function writeSpec(dir: string, channelUrl: string, deps: unknown[]): Promise<string> {
  const spec = `${dir}/spec.json`;
  await Deno.writeTextFile(
    spec,
    JSON.stringify({ conda: { channels: [channelUrl], dependencies: deps } }),
  );
  return spec;
}

/** Concatenates every chunk of `data` into one buffer. */
export async function collectBytes(data: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of data) parts.push(c.slice()); // a copy: the source may reuse its buffers
  return concatBytes(parts);
}

/** Runs `script` with `sh -c` in `cwd`; throws with its stderr when it fails. */
export async function sh(script: string, cwd: string): Promise<void> {
  const out = await new Deno.Command("sh", { args: ["-c", script], cwd, stderr: "piped" }).output();
  if (!out.success) throw new Error(`${script}: ${new TextDecoder().decode(out.stderr)}`);
}

/** Reads `reader` to its end; the text it gave. */
export async function readToEnd(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  let text = "";
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text + dec.decode();
    text += dec.decode(value, { stream: true });
  }
}

/**
 * The error that `p` (a promise, or a function returning one) rejects with,
 * checked to be an instance of `cls` when given; fails when it fulfils.
 */
export async function rejection<E = unknown>(
  p: Promise<unknown> | (() => Promise<unknown>),
  cls?: new (...a: never[]) => E,
): Promise<E> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    if (cls) assert.ok(err instanceof cls, `expected ${cls.name}, got ${err}`);
    return err as E;
  }
  throw new Error("expected a rejection");
}

/** How to spawn the CLI. */
export interface PonchoOptions {
  /** Extra environment variables (added to the inherited environment). */
  env?: Record<string, string>;
  /** The working directory. */
  cwd?: string;
  /** Deno flags placed before `cli/main.ts`; `["--no-check"]` unless given. */
  denoFlags?: string[];
}

/** What a finished CLI run returned. */
export interface PonchoOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The command `deno run -A --quiet <denoFlags> cli/main.ts <args>` with stdin
 * closed and stdout and stderr piped, not yet started.
 */
export function ponchoCommand(args: string[], opts: PonchoOptions = {}): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", ...(opts.denoFlags ?? ["--no-check"]), MAIN, ...args],
    env: opts.env,
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * The CLI arguments of `poncho run` that unpack `archive` at `unpackTo` (in
 * the store `store` when given) and run `cmd` there.
 */
export function runArgs(
  archive: string,
  unpackTo: string,
  cmd: string[],
  store?: string,
): string[] {
  return ["run", ...(store ? ["--store", store] : []), "-u", unpackTo, "-e", archive, "--", ...cmd];
}

/** Runs the CLI (see {@link ponchoCommand}) to the end; its exit code and decoded output. */
export async function runPoncho(args: string[], opts: PonchoOptions = {}): Promise<PonchoOutput> {
  const out = await ponchoCommand(args, opts).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Whether tests can act as another user (root, with `setpriv`): the shared-store cases. */
export const canActAsOtherUser: boolean = Deno.uid() === 0 && hasCommand("setpriv");

/**
 * Runs the CLI as user and group `uid` (through `setpriv`, with no
 * supplementary groups and a Deno cache of its own), as another user of a
 * shared store would; its exit code and output.
 */
export async function runPonchoAs(uid: number, args: string[]): Promise<PonchoOutput> {
  const home = await Deno.makeTempDir({ prefix: "poncho-user-" });
  try {
    await Deno.chown(home, uid, uid);
    const out = await new Deno.Command("setpriv", {
      args: [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", Deno.execPath(), "run", "-A"]
        .concat(["--quiet", "--no-check", MAIN, ...args]),
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: home, DENO_DIR: `${home}/deno` },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

/** Calls `fn` with a new temporary directory named `prefix…`, removed afterwards. */
export async function withTempDir<T>(
  prefix: string,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Calls `fn` with the test channel (see `buildTestChannel`) and a new directory `prefix…`, removed afterwards. */
export async function withChannelDir<T>(
  prefix: string,
  fn: (ch: TestChannel, dir: string) => Promise<T>,
): Promise<T> {
  const ch = await buildTestChannel();
  return await withTempDir(prefix, (dir) => fn(ch, dir));
}

/** Writes `files` (path relative to `dir` → text or bytes) under `dir`, making parent directories. */
export async function writeTree(
  dir: string,
  files: Record<string, string | Uint8Array>,
): Promise<void> {
  for (const [rel, content] of Object.entries(files)) await writeFileAt(join(dir, rel), content);
}

/** Writes `content` to `path`, making its parent directories, then sets `mode` when given. */
export async function writeFileAt(
  path: string,
  content: string | Uint8Array,
  mode?: number,
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  if (mode !== undefined) await Deno.chmod(path, mode);
}

/** A new temporary directory (named `prefix…` when given) holding `files` (see {@link writeTree}); the caller removes it. */
export async function tempTree(
  files: Record<string, string | Uint8Array>,
  prefix?: string,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  await writeTree(dir, files);
  return dir;
}

/** A store layout in a new temporary directory (`poncho-store-…`); the caller removes it. */
export async function tempLayout(): Promise<StoreLayout> {
  return storeLayout(await Deno.makeTempDir({ prefix: "poncho-store-" }));
}

/**
 * Serves `dir` over loopback HTTP (see `serveChannel`) and makes a temporary
 * store layout, calls `fn` with both, then stops the server and removes the store.
 */
export async function withServedStore<T>(
  dir: string,
  options: ServeOptions,
  fn: (srv: ServedChannel, layout: StoreLayout) => Promise<T>,
): Promise<T> {
  const srv = serveChannel(dir, options);
  const layout = await tempLayout();
  try {
    return await fn(srv, layout);
  } finally {
    await srv.close();
    await Deno.remove(layout.root, { recursive: true });
  }
}

/** Calls `fn` with a store layout in a new temporary directory, removed afterwards. */
export async function withTempLayout<T>(fn: (layout: StoreLayout) => Promise<T>): Promise<T> {
  const layout = await tempLayout();
  try {
    return await fn(layout);
  } finally {
    await Deno.remove(layout.root, { recursive: true });
  }
}

/**
 * Runs `cmd args` (in `cwd`, with `env` added to the environment). Returns
 * trimmed stdout; throws with the command's stderr when it fails.
 */
export async function commandText(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/**
 * Runs `git` in `cwd` with a fixed identity and no user configuration, for
 * tests that build repositories. Returns trimmed stdout; throws with git's
 * stderr when it fails.
 */
export function git(cwd: string, ...args: string[]): Promise<string> {
  return commandText("git", args, {
    cwd,
    env: {
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.org",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.org",
      GIT_CONFIG_GLOBAL: "/dev/null",
    },
  });
}

/** A raw TCP server on 127.0.0.1 (see {@link rawServer}). */
export interface RawServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** How many connections were accepted so far. */
  readonly accepted: number;
  /** Stops listening, releases every stalled handler and closes every connection. */
  close(): Promise<void>;
}

/**
 * A raw TCP server on 127.0.0.1 whose connections are handed to `handle`
 * (with their number and a promise resolved on close, for handlers that
 * stall until then): for clients facing servers that accept and never
 * answer, or send half a response.
 */
export function rawServer(
  handle: (conn: Deno.Conn, n: number, closed: Promise<void>) => Promise<void>,
): RawServer {
  const { promise: closed, resolve: closing } = Promise.withResolvers<void>();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const tasks: Promise<void>[] = [];
  let accepted = 0;
  const loop = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      tasks.push(handle(conn, accepted++, closed).catch(() => {}));
    }
  })().catch(() => {});
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    async close() {
      closing();
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed by the handler */ }
      }
      await loop;
      await Promise.all(tasks);
    },
  };
}

/** Reads (the start of) an HTTP request from `conn`, so that the client sees it accepted. */
export async function readRequest(conn: Deno.Conn): Promise<void> {
  await conn.read(new Uint8Array(8192));
}

/**
 * What temps are left in a store's `tmp/`: its entries, with the temp dirs
 * of processes (`o-<pid>-*`, see `store/owner.ts`) replaced by their
 * contents (their `.owner.lock` aside), so that a test in the process that
 * wrote the store sees `[]` when nothing is left.
 */
export function leftoverTemps(layout: StoreLayout): string[] {
  const names: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(layout.tmp)];
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^o-\d+-[0-9a-f]{8}$/.test(e.name)) names.push(e.name);
    else {
      for (const f of Deno.readDirSync(`${layout.tmp}/${e.name}`)) {
        if (f.name !== ".owner.lock") names.push(`${e.name}/${f.name}`);
      }
    }
  }
  return names.sort();
}

/** The checkout's root directory (holds deno.json). */
export { REPO_ROOT };

let distBuild: Promise<string> | undefined;

/**
 * The single-file Poncho (`dist/poncho`, see `lib/dist/build.ts`) of this
 * checkout, built at most once per test run and cached across runs in
 * `.cache/dist/<fingerprint>/poncho`, where the fingerprint covers every
 * payload member (path, mode, size, mtime) and the Deno binary. Concurrent
 * test processes build it once (a lock). Returns the file's path.
 */
export function distPoncho(): Promise<string> {
  distBuild ??= (async () => {
    const { buildDist, payloadFiles } = await import("../lib/dist/build.ts");
    const { withLock } = await import("../store/lock.ts");
    const { createHash } = await import("node:crypto");
    const hash = createHash("sha256");
    for (const f of await payloadFiles(REPO_ROOT, Deno.execPath())) {
      const st = f.source ? await Deno.stat(f.source) : undefined;
      hash.update(JSON.stringify([f.path, f.mode, st?.size, st?.mtime?.getTime(), f.data?.length]));
      if (f.data) hash.update(f.data);
    }
    hash.update(await Deno.readFile(new URL("../lib/dist/launcher.sh", import.meta.url)));
    const dir = `${REPO_ROOT}/.cache/dist/${hash.digest("hex").slice(0, 16)}`;
    const path = `${dir}/poncho`;
    return await withLock(`${REPO_ROOT}/.cache/dist/build.lock`, async () => {
      const ready = await Deno.stat(path).then((s) => s.isFile, () => false);
      if (ready) return path;
      await buildDist({ root: REPO_ROOT, output: path });
      // Builds of older trees are no longer reachable: keep only this one.
      for await (const e of Deno.readDir(`${REPO_ROOT}/.cache/dist`)) {
        if (e.isDirectory && `${REPO_ROOT}/.cache/dist/${e.name}` !== dir) {
          await Deno.remove(`${REPO_ROOT}/.cache/dist/${e.name}`, { recursive: true });
        }
      }
      return path;
    }, { timeoutMs: 300_000, what: "the test build of dist/poncho" });
  })();
  return distBuild;
}

/**
 * `n` random bytes (incompressible), filled 64 KiB at a time (the most
 * `crypto.getRandomValues` gives in one call).
 */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return bytes;
}

/**
 * Writes a `.tar.zst` at `path` (a small `.poncho/manifest.json`, then a
 * `size`-byte file of random bytes: frames of 4 MiB of tar) and returns its
 * tar bytes.
 */
export async function writeZstArchive(path: string, size = 3_000_000): Promise<Uint8Array> {
  const { writeTar } = await import("../lib/archive/tar.ts");
  const { compress, writeFileChunks } = await import("../lib/archive/compress.ts");
  const big = randomBytes(size);
  const entries = [
    { path: ".poncho/manifest.json", type: "file" as const, data: new TextEncoder().encode("{}") },
    { path: "big", type: "file" as const, data: big },
  ];
  await writeFileChunks(path, compress(writeTar(entries), "zst"));
  return await collectBytes(writeTar(entries));
}

/**
 * How many of this process's descriptors are open on `path`, or on a file
 * that was at `path` and is deleted since (`/proc/self/fd`).
 */
export function openDescriptors(path: string): number {
  return [...Deno.readDirSync("/proc/self/fd")].filter((e) => {
    try {
      const target = Deno.readLinkSync(`/proc/self/fd/${e.name}`);
      return target === path || target === `${path} (deleted)`;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return false; // the directory's own descriptor
      throw err;
    }
  }).length;
}
