/**
 * `create`: a spec becomes a relocatable environment archive (or an
 * installed prefix). The pipeline: canonical spec and hash -> archive cache
 * lookup -> (under a per-spec lock) solve -> fetch and verify -> extract into
 * the package cache -> pre-link messages -> link (clobbers warned) -> `.pyc`
 * of noarch python -> post-link scripts -> conda-meta -> pip -> data sources
 * -> pack into the store's archive cache -> copy to the output. Any failure
 * about one package names it (`name-version-build`) and its URL.
 *
 * The same spec (channels in order, normalised requirements, platform) is
 * built at most once per store, even when several processes ask at once; a
 * spec whose environment an automatic run linked into the store is packed
 * from that environment instead of being built again.
 *
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { createHash } from "node:crypto";
import { EXIT_FAILED, fsError, PonchoError, UsageError } from "./errors.ts";
import { isSpecialFile, replaceFile } from "./fs/atomic.ts";
import type { SolvedRecord } from "./conda/solve.ts";
import type { PackageInfo } from "./conda/package_info.ts";
import type { LinkResult } from "./conda/link.ts";
import { VERSION } from "./version.ts";
import { type CanonicalSpec, canonicalSpec, specHash } from "./envspec/canonical.ts";
import type { EnvSpec } from "./envspec/types.ts";
import { defaultStoreRoot, ensureStore, type StoreLayout } from "../store/layout.ts";
import { acquireLock, describeHolder, withLock } from "../store/lock.ts";
import { buildCacheLockPath, touchUsed } from "../store/cache_gc.ts";
import { ownerTmp, recordExternal, sweepDeadOwners } from "../store/owner.ts";
import { readArchiveRecord, writeArchiveRecord } from "../store/index.ts";
import { readFileChunks } from "./archive/compress.ts";
import { condaPlatform, parsePlatform } from "./conda/platform.ts";
import { MANIFEST_FORMAT } from "./env/manifest.ts";
import { packPrefix } from "./env/pack.ts";
import { pristineFromCondaMeta } from "./env/pristine.ts";
import { fileSha256 } from "./digest.ts";
import { readSpecEnv } from "../store/auto.ts";
import { readMarker } from "../store/marker.ts";

/** Options of {@link createEnvironment}. */
export interface CreateOptions {
  /** The parsed spec. */
  spec: EnvSpec;
  /** Where the spec came from (for messages and the store index). */
  specSource?: string;
  /** The archive to write. Exactly one of `output` and `prefix` is required. */
  output?: string;
  /** Install into this directory instead of writing an archive. */
  prefix?: string;
  /** Channels to put before the spec's own. */
  channels?: string[];
  /** Target platform (default: this machine). */
  platform?: string;
  /** Use only cached repodata and packages. */
  offline?: boolean;
  /** Rebuild even when the archive cache has this spec. */
  force?: boolean;
  /** Delegate solve and install to conda, mamba or micromamba at this path. */
  condaExe?: string;
  /** Store root (default {@link defaultStoreRoot}). */
  store?: string;
  /** Print nothing but errors. */
  quiet?: boolean;
  /** Print each step on stderr. */
  verbose?: boolean;
  /** Only make sure the store's archive cache has the build (no `output`, no `prefix`). */
  cacheOnly?: boolean;
  /** Do not run packages' post-link scripts (for untrusted channels); a separate cache entry. */
  noLinkScripts?: boolean;
  /**
   * How long to wait for another process's build of the same spec, in
   * milliseconds (default {@linkcode DEFAULT_BUILD_WAIT_MS}).
   */
  waitForLockMs?: number;
  /** Only solve: report what would be installed; fetch nothing, write no output. */
  dryRun?: boolean;
}

/**
 * The file `create --prefix` keeps in the prefix until the install is
 * complete; `poncho run -e DIR` refuses a directory that has it.
 */
export const INCOMPLETE_MARKER = ".poncho/incomplete";

/** How long a create waits by default for another process's build of the same spec (6 h). */
export const DEFAULT_BUILD_WAIT_MS = 6 * 3600_000;

/** One installed conda package in a {@link CreateResult}. */
export interface CreatedPackage {
  /** Package name. */
  name: string;
  /** Version. */
  version: string;
  /** Build string. */
  build: string;
  /** Channel URL. */
  channel: string;
  /** Package file size in bytes (dry runs). */
  size?: number;
  /** Package download URL (dry runs). */
  url?: string;
}

/** What {@link createEnvironment} did. */
export interface CreateResult {
  /** sha256 of the canonical spec. */
  specHash: string;
  /** Environment identity written to the manifest (spec hash + solved packages). */
  envId?: string;
  /** Target platform. */
  platform: string;
  /** The archive written, if any. */
  output?: string;
  /** The prefix installed, if `prefix` was given. */
  prefix?: string;
  /** True when the archive came from the cache without building. */
  cached: boolean;
  /** True for a dry run: `packages` is what would be installed, nothing was written. */
  dryRun?: boolean;
  /** The store's cached archive. */
  cachedArchive?: string;
  /** Conda packages installed (empty when cached). */
  packages: CreatedPackage[];
  /** pip requirements installed. */
  pip: string[];
  /** Wall time in seconds. */
  seconds: number;
}

export { pristineFromCondaMeta } from "./env/pristine.ts";

/**
 * The spec with command-line channels put first (duplicates dropped, order
 * kept); they replace the default of a format without channels
 * ({@link EnvSpec.channelsImplied}).
 */
export function withChannels(spec: EnvSpec, channels: string[] = []): EnvSpec {
  const own = spec.channelsImplied && channels.length > 0 ? [] : spec.channels;
  const all = [...channels, ...own].map((c) => c.replace(/\/+$/, ""));
  return { ...spec, channels: [...new Set(all)] };
}

/** Archive extension of an output path, validated. */
function archiveExt(output: string): string {
  const m = output.match(/\.(tar\.zst|tar\.gz|tgz|tar)$/);
  if (!m) {
    throw new UsageError(
      `output ${output}: name it .tar.zst (recommended), .tar.gz, .tgz or .tar to choose the format`,
    );
  }
  return m[1] === "tar.zst" ? ".tar.zst" : m[1] === "tar" ? ".tar" : ".tar.gz";
}

/** Checks, before any work, that `output` can be written: its directory exists and is one. */
async function checkOutputDir(output: string): Promise<void> {
  const dir = dirname(output);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch {
    throw new UsageError(`output ${output}: directory ${dir} does not exist`);
  }
  if (!info.isDirectory) throw new UsageError(`output ${output}: ${dir} is not a directory`);
  if ((await Deno.lstat(output).catch(() => null))?.isDirectory) {
    throw new UsageError(`output ${output} is a directory; give a file name such as env.tar.zst`);
  }
  // A device or FIFO is written to in place (see copyAtomic): its directory need not be writable.
  if ((await Deno.stat(output).catch(() => null))?.isFile === false) return;
  // Writable (not read-only, not full of inodes)? Found now, not after the whole build.
  try {
    const probe = await Deno.makeTempFile({ dir, prefix: `.${basename(output)}.probe-` });
    await Deno.remove(probe);
  } catch (err) {
    throw fsError(err, dir, { what: `cannot write the output ${output} in`, role: "output" });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * Copies `src` to `dst` through a temp file beside `dst` and a rename (never
 * half-written); the temp is recorded in the store's owner dir, so that gc
 * removes it if this process is killed.
 */
async function copyAtomic(src: string, dst: string, layout: StoreLayout): Promise<void> {
  // A device or FIFO (`/dev/null`, a pipe) is written to, never replaced.
  if (await isSpecialFile(dst)) {
    using out = await Deno.open(dst, { write: true });
    for await (const chunk of readFileChunks(src)) {
      for (let off = 0; off < chunk.length;) off += await out.write(chunk.subarray(off));
    }
    return;
  }
  try {
    await replaceFile(dst, (tmp) => Deno.copyFile(src, tmp), {
      track: (tmp) => recordExternal(layout, tmp),
    });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && !(await exists(dirname(dst)))) {
      throw new UsageError(`output ${dst}: directory ${dirname(dst)} does not exist`);
    }
    throw fsError(err, dst, { what: "cannot write the output", role: "output" });
  }
}

/**
 * Whether the cached archive exists and matches the sha256 and size recorded
 * when it was built. A damaged archive (or one without a record) is not
 * reused: it is rebuilt, and the rebuild replaces it.
 */
async function archiveIntact(
  layout: StoreLayout,
  archive: string,
  log: (line: string) => void,
): Promise<boolean> {
  const info = await Deno.stat(archive).catch((err) => {
    if (err instanceof Deno.errors.NotFound) return null;
    throw fsError(err, archive, { what: "cannot read the cached archive" });
  });
  if (!info) return false;
  const rec = await readArchiveRecord(layout, basename(archive));
  const why = !rec
    ? "has no recorded digest"
    : rec.size !== info.size
    ? `is ${info.size} bytes, recorded ${rec.size}`
    : (await fileSha256(archive)) !== rec.sha256
    ? "does not match its recorded sha256"
    : "";
  if (why) log(`cached archive ${archive} ${why}: rebuilding it`);
  else await touchUsed(archive); // gc removes the least recently used first
  return why === "";
}

/** Reporter for details: lines on stderr with `verbose`, else nothing. */
function reporter(opts: CreateOptions): (line: string) => void {
  return opts.verbose && !opts.quiet ? (l) => console.error(`poncho create: ${l}`) : () => {};
}

/** Reporter for the main steps: shown with `verbose`, or on a terminal unless `quiet`. */
function stepper(opts: CreateOptions): (line: string) => void {
  const show = !opts.quiet && (opts.verbose || Deno.stderr.isTerminal());
  return show ? (l) => console.error(`poncho create: ${l}`) : () => {};
}

/** A native solution: the records the solver chose. */
export type SolvedRecords = SolvedRecord[];

/** A solved package on its way into the prefix. */
interface Installing {
  r: SolvedRecord;
  /** The verified download. */
  path: string;
  sha: string;
  dir: string;
  info: PackageInfo;
  linked?: LinkResult;
}

/** `name-version-build` of a record. */
function distOf(r: { name: string; version: string; build: string }): string {
  return `${r.name}-${r.version}-${r.build}`;
}

/** Error kinds about the machine, not the package: not prefixed by {@link forPackage}. */
const MACHINE_FAULTS: ReadonlySet<string> = new Set(["no-space", "permission", "lock-timeout"]);

/**
 * Runs one package's step, so that any failure names the package
 * (`name-version-build`) and its URL instead of the store's download file.
 */
async function forPackage<T>(
  r: SolvedRecord,
  download: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // Operating-system errors get their kind (no space, permission, ...) as everywhere else.
    const e = fsError(err);
    const known = e instanceof PonchoError ||
      Object.values(Deno.errors).some((E) => e instanceof E);
    if (!known) throw err;
    // A full disk, a permission or a lock timeout is the machine's fault, not the package's:
    // those keep their own message (it names the path).
    if (e instanceof PonchoError && MACHINE_FAULTS.has(e.kind)) throw e;
    const msg = (e as Error).message;
    // An error about this package's URL names it already (its URL ends with the file name).
    if (e instanceof PonchoError && e.url === r.url) throw e;
    const text = `package ${distOf(r)} (${r.url}): ${
      download ? msg.replaceAll(download, "its download") : msg
    }`;
    if (e instanceof PonchoError) {
      e.message = text; // keeps its class and exit code
      throw e;
    }
    throw new PonchoError(text, EXIT_FAILED, { cause: err });
  }
}

/** The solver options of a create (shared by real and dry runs). */
function solveOptions(spec: EnvSpec, platform: string, layout: StoreLayout, opts: CreateOptions) {
  const showProgress = !opts.quiet && Deno.stderr.isTerminal();
  return {
    channels: spec.channels,
    platform,
    layout,
    offline: opts.offline,
    log: reporter(opts),
    showProgress,
  };
}

/** A dry run: the solve of a real create, reported as the packages it would install. */
async function dryRun(spec: EnvSpec, platform: string, layout: StoreLayout, opts: CreateOptions) {
  if (opts.condaExe) throw new UsageError("--dry-run solves natively; drop --conda-exe");
  const { solve } = await import("./conda/solve.ts");
  stepper(opts)(`solving ${spec.conda.join(", ")} for ${platform}`);
  const records = spec.conda.length
    ? await solve(spec.conda, solveOptions(spec, platform, layout, opts))
    : [];
  return records.map((r) => ({
    name: r.name,
    version: r.version,
    build: r.build,
    channel: r.channel,
    size: r.size,
    url: r.url,
  }));
}

/** Solves the spec's conda part natively. */
export async function solveNative(
  spec: EnvSpec,
  platform: string,
  layout: StoreLayout,
  opts: CreateOptions,
): Promise<SolvedRecords> {
  const { solve } = await import("./conda/solve.ts");
  const step = stepper(opts);
  step(`solving ${spec.conda.join(", ")} for ${platform}`);
  const records = await solve(spec.conda, solveOptions(spec, platform, layout, opts));
  step(`solved: ${records.map(distOf).join(", ")}`);
  return records;
}

/** The installed-package records of a solution. */
export function createdPackages(records: SolvedRecords): CreatedPackage[] {
  return records.map((r) => ({
    name: r.name,
    version: r.version,
    build: r.build,
    channel: r.channel,
  }));
}

/** Installs the spec natively into `prefix` (solving first unless `solved` is given). */
async function installNative(
  spec: EnvSpec,
  prefix: string,
  platform: string,
  layout: StoreLayout,
  opts: CreateOptions,
  solved?: SolvedRecords,
): Promise<CreatedPackage[]> {
  const log = reporter(opts);
  const say = opts.quiet ? () => {} : (l: string) => console.error(`poncho create: ${l}`);
  const { fetchPackages } = await import("./conda/fetch.ts");
  const { extractPackageToCache } = await import("./conda/extract.ts");
  const { readPackageInfo } = await import("./conda/package_info.ts");
  const { linkPackage } = await import("./conda/link.ts");
  const { writeHistory, writeMetaRecord } = await import("./conda/meta.ts");
  const { pythonLayout, pythonExecutable } = await import("./conda/noarch.ts");
  const { ClobberRegistry, clobberWarning } = await import("./conda/clobber.ts");
  const { formatPrelinkMessages, postLinkScriptPath, prelinkMessages, runPostLink } = await import(
    "./conda/link_scripts.ts"
  );
  const { compilePyc } = await import("./conda/pyc.ts");

  const step = stepper(opts);
  const records = solved ?? await solveNative(spec, platform, layout, opts);
  const fetched = await fetchPackages(records, {
    layout,
    offline: opts.offline,
    progress: opts.quiet ? false : undefined,
    log,
  });
  const pythonRec = records.find((r) => r.name === "python");
  const python = pythonRec
    ? await forPackage(pythonRec, undefined, () => Promise.resolve(pythonLayout(pythonRec.record)))
    : undefined;
  const requested = new Map<string, string>();
  for (const s of spec.conda) {
    const name = s.replace(/^[^:]*::/, "").match(/^[A-Za-z0-9_.\-]+/)?.[0]?.toLowerCase();
    if (name) requested.set(name, s);
  }

  // Extract everything first: pre-link messages are shown before anything is linked.
  const pkgs: Installing[] = [];
  for (const { item: r, path } of fetched) {
    pkgs.push(
      await forPackage(r, path, async () => {
        const sha = r.sha256 ?? await fileSha256(path);
        const dir = await extractPackageToCache(layout, path, sha, r.url);
        return { r, path, sha, dir, info: await readPackageInfo(dir) };
      }),
    );
  }
  for (const p of pkgs) {
    const messages = await prelinkMessages(p.dir);
    if (messages.length > 0) say(formatPrelinkMessages(distOf(p.r), messages));
  }

  await Deno.mkdir(join(prefix, "conda-meta"), { recursive: true });
  // A post-link script may write into any file of the prefix: a hardlink would carry that write
  // into the shared package cache, so an environment whose scripts will run gets copies.
  const native = platform === condaPlatform();
  const willRunScripts = native && !opts.noLinkScripts &&
    pkgs.some((p) =>
      p.info.paths.some((e) =>
        e.path === postLinkScriptPath(p.r.name) ||
        (p.info.noarch === "python" && e.path === `python-scripts/.${p.r.name}-post-link.sh`)
      )
    );
  step(
    `linking ${pkgs.length} packages${willRunScripts ? " (copies: post-link scripts run)" : ""}`,
  );
  const registry = new ClobberRegistry();
  for (const p of pkgs) {
    p.linked = await forPackage(
      p.r,
      p.path,
      () =>
        linkPackage(p.info, {
          prefix,
          python,
          registry,
          dist: distOf(p.r),
          hardlink: !willRunScripts,
        }),
    );
    log(`linked ${distOf(p.r)} (${p.linked.files.length} files)`);
  }
  const byDist = new Map(pkgs.map((p) => [distOf(p.r), p]));
  for (const c of registry.clobbers) {
    say(clobberWarning(c));
    const loser = byDist.get(c.loser)?.linked?.pathsData.find((d) => d._path === c.path);
    if (loser) loser.clobbered_by = c.winner;
  }

  // Nothing of another platform can run here: no .pyc, no link scripts (said once).
  const noarchPy = pkgs.filter((p) => p.info.noarch === "python");
  const scripted = pkgs.filter((p) => p.linked!.files.includes(postLinkScriptPath(p.r.name)));
  if (!native && (noarchPy.length > 0 || scripted.length > 0)) {
    say(
      `building for ${platform} on ${condaPlatform()}: noarch python files are not ` +
        `byte-compiled and post-link scripts (${
          scripted.map((p) => distOf(p.r)).join(", ") || "none"
        }) ` +
        `are not run`,
    );
  }
  // conda still runs deprecated pre-link scripts from the package cache; in a shared store they
  // could change other environments' files, so they are named and skipped.
  for (const p of pkgs) {
    const pre = `bin/.${p.r.name}-pre-link.sh`;
    if (p.linked!.files.includes(pre)) {
      say(`warning: ${pre} of ${distOf(p.r)} is not run (pre-link scripts are deprecated)`);
    }
  }

  // Byte-compile noarch: python packages with the environment's own interpreter.
  if (native && python && noarchPy.length > 0) {
    const exe = pythonExecutable(prefix, python);
    const sources = noarchPy.flatMap((p) =>
      p.linked!.pathsData.filter((d) =>
        d.path_type === "hardlink" && !d.clobbered_by && d._path.endsWith(".py") &&
        d._path.startsWith(`${python.sitePackages}/`)
      ).map((d) => d._path)
    );
    step(`byte-compiling ${sources.length} files of ${noarchPy.length} noarch python packages`);
    const compiled = await compilePyc(prefix, exe, sources);
    if (compiled.size === 0 && sources.length > 0) log(`no ${exe} in the environment: no .pyc`);
    for (const p of noarchPy) {
      const pycs = p.linked!.files.map((f) => compiled.get(f)).filter((x): x is string => !!x);
      for (const pyc of pycs) {
        p.linked!.files.push(pyc);
        p.linked!.pathsData.push({ _path: pyc, path_type: "pyc_file" });
      }
    }
  }

  // Post-link scripts, in install order, once everything is linked (as conda runs them).
  for (const p of native ? scripted : []) {
    const script = postLinkScriptPath(p.r.name);
    if (opts.noLinkScripts) {
      say(`skipped ${script} of ${distOf(p.r)} (--no-link-scripts)`);
      continue;
    }
    step(`running ${script} of ${distOf(p.r)}`);
    await runPostLink(prefix, {
      name: p.r.name,
      version: p.r.version,
      build: p.r.build,
      buildNumber: Number(p.r.record.build_number ?? 0),
      url: p.r.url,
    }, { onMessages: (dist, text) => say(`messages from ${dist}:\n${text.trimEnd()}`) });
  }

  for (const p of pkgs) {
    await writeMetaRecord(prefix, {
      record: { ...p.r.record, sha256: p.sha },
      channel: p.r.channel,
      url: p.r.url,
      fn: p.r.fn,
      source: p.dir,
      tarball: p.path,
      linkType: p.linked!.linkType,
      files: p.linked!.files,
      pathsData: p.linked!.pathsData,
      requestedSpec: requested.get(p.r.name),
    });
  }
  await writeHistory(prefix, records, spec.conda);
  return createdPackages(records);
}

/** Installs the spec's conda part with an external conda/mamba/micromamba. */
async function installWithCondaExe(
  spec: EnvSpec,
  prefix: string,
  platform: string,
  exe: string,
  opts: CreateOptions,
): Promise<CreatedPackage[]> {
  const args = ["create", "--yes", "--prefix", prefix, "--override-channels"];
  for (const c of spec.channels) args.push("--channel", c);
  if (platform !== condaPlatform()) args.push("--platform", platform);
  if (opts.offline) args.push("--offline");
  args.push(...spec.conda);
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(exe, { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .output();
  } catch (err) {
    throw new UsageError(`--conda-exe ${exe}: cannot run it (${(err as Error).message})`);
  }
  if (!opts.quiet) await Deno.stderr.write(out.stderr);
  if (!out.success) {
    throw new PonchoError(`${exe} create failed (exit ${out.code}); see its output above`);
  }
  const pkgs: CreatedPackage[] = [];
  for (const e of Deno.readDirSync(join(prefix, "conda-meta"))) {
    if (!e.name.endsWith(".json")) continue;
    const r = JSON.parse(Deno.readTextFileSync(join(prefix, "conda-meta", e.name)));
    pkgs.push({ name: r.name, version: r.version, build: r.build, channel: r.channel ?? "" });
  }
  return pkgs.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Installs everything the spec asks for into `prefix` (conda, pip, data
 * sources), natively from `solved` when given, else solving (or with
 * `opts.condaExe`).
 */
export async function installAll(
  spec: EnvSpec,
  prefix: string,
  platform: string,
  layout: StoreLayout,
  opts: CreateOptions,
  solved?: SolvedRecords,
): Promise<CreatedPackage[]> {
  const packages = opts.condaExe
    ? await installWithCondaExe(spec, prefix, platform, opts.condaExe, opts)
    : spec.conda.length > 0
    ? await installNative(spec, prefix, platform, layout, opts, solved)
    : [];
  if (spec.pip.length > 0) {
    const { pipInstall } = await import("./conda/pip.ts");
    await pipInstall(prefix, spec.pip, { quiet: opts.quiet });
  }
  if (Object.keys(spec.git).length > 0 || Object.keys(spec.http).length > 0) {
    const { materializeSources } = await import("./sources/materialize.ts");
    await materializeSources(spec, prefix);
  }
  return packages;
}

/** The packages and identity recorded in a cached archive's manifest. */
async function fromManifest(archive: string): Promise<[CreatedPackage[], string | undefined]> {
  const { readArchiveManifest } = await import("./env/unpack.ts");
  const m = await readArchiveManifest(archive).catch(() => undefined);
  return [m?.packages ?? [], m?.id];
}

/** Environment identity: the spec hash plus exactly what was installed. */
export function envIdentity(hash: string, packages: CreatedPackage[], spec: EnvSpec): string {
  const lines = [hash, ...packages.map((p) => `${p.channel}::${p.name}-${p.version}-${p.build}`)];
  lines.push(...spec.pip.map((p) => `pip:${p}`));
  return createHash("sha256").update(lines.join("\n")).digest("hex");
}

/**
 * Creates the environment described by `opts.spec`: an archive at
 * `opts.output`, or an installed prefix at `opts.prefix`.
 *
 * @throws {UsageError} for a bad output name or options.
 * @throws {PonchoError} when solving, fetching, linking or packing fails; nothing
 *   is then left at the output path or in the caches.
 */
export async function createEnvironment(opts: CreateOptions): Promise<CreateResult> {
  const started = performance.now();
  const seconds = () => Math.round(performance.now() - started) / 1000;
  const badTarget = opts.cacheOnly ? (opts.output || opts.prefix) : !opts.output === !opts.prefix;
  if (!opts.dryRun && badTarget) {
    throw new UsageError("give either an output archive or --prefix DIR");
  }
  const platform = opts.platform ? parsePlatform(opts.platform) : condaPlatform();
  const spec = withChannels(opts.spec, opts.channels);
  const canonical: CanonicalSpec = canonicalSpec(spec, platform);
  // A build without link scripts differs from one with them: never share a cache entry.
  const hash = opts.noLinkScripts
    ? createHash("sha256").update(`${specHash(canonical)}\nno-link-scripts`).digest("hex")
    : specHash(canonical);
  const layout = await ensureStore(opts.store ?? defaultStoreRoot());
  // Shared while this create reads and fills the build caches: gc removes from them only exclusively.
  const cacheLock = await acquireLock(buildCacheLockPath(layout), {
    exclusive: false,
    timeoutMs: 600_000,
    what: "the store's build caches (a gc is removing from them)",
  });
  try {
    const log = reporter(opts);
    if (opts.dryRun) {
      const packages = await dryRun(spec, platform, layout, opts);
      return {
        specHash: hash,
        platform,
        cached: false,
        dryRun: true,
        packages,
        pip: spec.pip,
        seconds: seconds(),
      };
    }

    if (opts.prefix) {
      const prefix = resolve(opts.prefix);
      const existed = await exists(prefix);
      if (existed && [...Deno.readDirSync(prefix)].length > 0) {
        throw new UsageError(`--prefix ${prefix}: directory exists and is not empty`);
      }
      await Deno.mkdir(prefix, { recursive: true });
      // Until the install is complete: a killed create leaves a prefix that run -e refuses.
      await Deno.mkdir(join(prefix, ".poncho"), { recursive: true });
      await Deno.writeTextFile(join(prefix, INCOMPLETE_MARKER), `${Deno.pid}\n`);
      try {
        const packages = await installAll(spec, prefix, platform, layout, opts);
        await Deno.remove(join(prefix, INCOMPLETE_MARKER));
        await Deno.remove(join(prefix, ".poncho")).catch(() => {}); // only when empty
        return {
          specHash: hash,
          platform,
          prefix,
          cached: false,
          packages,
          pip: spec.pip,
          seconds: seconds(),
        };
      } catch (err) {
        if (!existed) await Deno.remove(prefix, { recursive: true }).catch(() => {});
        else {
          for (const e of Deno.readDirSync(prefix)) {
            await Deno.remove(join(prefix, e.name), { recursive: true }).catch(() => {});
          }
        }
        throw err;
      }
    }

    const output = opts.output ? resolve(opts.output) : undefined;
    const ext = output ? archiveExt(output) : ".tar.zst";
    if (output) await checkOutputDir(output);
    const cachedArchive = join(layout.archives, `${hash}${ext}`);
    const result = (cached: boolean, packages: CreatedPackage[] = [], envId?: string) => ({
      specHash: hash,
      envId,
      platform,
      output,
      cached,
      cachedArchive,
      packages,
      pip: spec.pip,
      seconds: seconds(),
    });

    if (!opts.force && await archiveIntact(layout, cachedArchive, log)) {
      if (output) await copyAtomic(cachedArchive, output, layout);
      log(`reused ${cachedArchive}`);
      return result(true, ...await fromManifest(cachedArchive));
    }
    const built = await withLock(
      join(layout.locks, `create-${hash}.lock`),
      async () => {
        // Built by another process meanwhile? (A damaged or unrecorded archive is rebuilt.)
        if (!opts.force && await archiveIntact(layout, cachedArchive, log)) return null;
        await sweepDeadOwners(layout);
        const linked = opts.force ? undefined : readSpecEnv(layout, hash);
        if (linked !== undefined && readMarker(`${layout.envs}/${linked}`, linked)) {
          // An automatic run built this spec in place: the archive is that environment, packed.
          const { packStoreEnv } = await import("./env/store_pack.ts");
          stepper(opts)(`packing ${cachedArchive} from the store's environment ${linked}`);
          await packStoreEnv(layout, linked, cachedArchive, ownerTmp(layout));
          const info = await Deno.stat(cachedArchive);
          await writeArchiveRecord(layout, basename(cachedArchive), {
            sha256: await fileSha256(cachedArchive),
            size: info.size,
          });
          return null;
        }
        // Builds of this spec left by a killed process: nobody else can own them (we hold the lock).
        for (const e of Deno.readDirSync(layout.tmp)) {
          if (e.name.startsWith(`b-${hash.slice(0, 12)}-`)) {
            await Deno.remove(join(layout.tmp, e.name), { recursive: true }).catch(() => {});
          }
        }
        const buildPrefix = join(
          layout.tmp,
          `b-${hash.slice(0, 12)}-${crypto.randomUUID().slice(0, 6)}`,
        );
        await Deno.mkdir(buildPrefix);
        try {
          const packages = await installAll(spec, buildPrefix, platform, layout, opts);
          const envId = envIdentity(hash, packages, spec);
          stepper(opts)(`packing ${cachedArchive}`);
          await packPrefix({
            prefix: buildPrefix,
            output: cachedArchive,
            pristine: await pristineFromCondaMeta(buildPrefix),
            tmpDir: ownerTmp(layout),
            manifest: {
              format: MANIFEST_FORMAT,
              id: envId,
              spec: canonical,
              specHash: hash,
              platform,
              created: new Date().toISOString(),
              poncho: VERSION,
              packages,
            },
          });
          const info = await Deno.stat(cachedArchive);
          await writeArchiveRecord(layout, basename(cachedArchive), {
            sha256: await fileSha256(cachedArchive),
            size: info.size,
          });
          return { packages, envId };
        } finally {
          await Deno.remove(buildPrefix, { recursive: true }).catch(() => {});
        }
      },
      {
        exclusive: true,
        timeoutMs: opts.waitForLockMs ?? DEFAULT_BUILD_WAIT_MS,
        what: `the build of spec ${hash.slice(0, 12)}`,
        record: true,
        onWait: (holder, waited) =>
          // shown even when quiet: a silent wait looks like a hang
          console.error(
            `poncho create: waiting for the build of spec ${hash.slice(0, 12)}${
              holder ? ` by ${describeHolder(holder)}` : " by another process"
            } (${Math.round(waited / 1000)} s so far; --wait-for-lock limits the wait)`,
          ),
      },
    );
    if (output) await copyAtomic(cachedArchive, output, layout);
    return built
      ? result(false, built.packages, built.envId)
      : result(true, ...await fromManifest(cachedArchive));
  } finally {
    cacheLock.release();
  }
}
