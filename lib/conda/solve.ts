/**
 * Solves conda specs into the exact packages to install, using rattler's
 * solver (`npm:@conda-org/rattler`).
 *
 * rattler's gateway downloads repodata itself over HTTP and cannot read
 * `file://` channels, and we want our own store cache to be the only thing it
 * reads. So the repodata is first loaded through {@linkcode loadChannels}
 * (sharded or monolithic, cache, revalidation, offline), the records reachable
 * from the specs are collected name by name ({@linkcode collectReachable}), and
 * only that subset is served to rattler by an in-process
 * server on 127.0.0.1 (port 0) at `/<channel-index>/<subdir>/repodata.json`;
 * every other path (shards, `.zst`, `.bz2`) is a 404, which rattler takes as
 * "use the plain JSON". Results are mapped back to the original channel URLs
 * and to the full repodata records.
 *
 * @module
 */

import { type Platform, simpleSolve } from "../deps/rattler.ts";
import { BuildError, UsageError } from "../errors.ts";
import { type Channel, parseChannel } from "./channel.ts";
import { type NameRecords, type RepodataRecord, specName } from "./records.ts";
import { collectReachable } from "./reachable.ts";
import {
  describeRepodata,
  loadChannels,
  type RepodataOptions,
  RepodataProgress,
  type SubdirRepodata,
} from "./repodata.ts";
import { condaPlatform } from "./platform.ts";

export type { RepodataRecord } from "./records.ts";
export { specName } from "./records.ts";

/** A package chosen by the solver. */
export interface SolvedRecord {
  /** Base URL of the channel it comes from (as resolved from the user's channel). */
  channel: string;
  /** Full download URL (`<channel>/<subdir>/<fn>`). */
  url: string;
  /** File name, e.g. `hello-1.0-h0.conda`. */
  fn: string;
  /** SHA-256 of the package file (hex), when the repodata gives it; the download is checked against it. */
  sha256?: string;
  /** MD5 of the package file (hex): checked only when the repodata has no `sha256`. */
  md5?: string;
  /** Size of the package file in bytes, when the repodata gives it. */
  size?: number;
  /** Package name, e.g. `numpy`. */
  name: string;
  /** Package version, e.g. `1.26.4`. */
  version: string;
  /** Build string, e.g. `py311h64a7726_0`. */
  build: string;
  /** Match specs of its run dependencies, as in the repodata. */
  depends: string[];
  /** `python`, `generic`, or undefined for arch-specific packages. */
  noarch?: string;
  /** The platform subdir it comes from (`linux-64`, `noarch`, ...). */
  subdir: string;
  /** The complete repodata record (constrains, license, timestamp, ...). */
  record: RepodataRecord;
}

/** Options for {@linkcode solve}. */
export interface SolveOptions extends RepodataOptions {
  /** Channels in priority order: names, URLs or paths. */
  channels: string[];
  /** Target platform (default: this machine's). */
  platform?: string;
  /** Virtual packages to offer (default: detected on this machine for the target platform). */
  virtualPackages?: VirtualPackage[];
  /** Show the repodata phase's progress on stderr (default: when stderr is a terminal). */
  showProgress?: boolean;
}

/** A virtual package such as `__glibc 2.36`. */
export interface VirtualPackage {
  /** Its name, starting with `__` (`__glibc`). */
  name: string;
  /** Its version (`2.36`; `0` for `__unix` and `__linux` markers). */
  version: string;
}

/** Virtual packages of this machine for `platform` (`__unix`, `__linux`, `__glibc`, `__archspec`). */
export async function detectVirtualPackages(platform: string): Promise<VirtualPackage[]> {
  const out: VirtualPackage[] = [];
  if (!platform.startsWith("win")) out.push({ name: "__unix", version: "0" });
  if (platform.startsWith("linux")) {
    const kernel = Deno.build.os === "linux" ? Deno.osRelease().match(/^\d+(\.\d+)*/)?.[0] : null;
    out.push({ name: "__linux", version: kernel ?? "5.10" });
    const glibc = await glibcVersion() ?? "2.17";
    out.push({ name: "__glibc", version: glibc });
  }
  if (platform.startsWith("osx")) out.push({ name: "__osx", version: "11.0" });
  if (platform.startsWith("win")) out.push({ name: "__win", version: "0" });
  out.push({ name: "__archspec", version: "1" });
  return out;
}

/** This machine's glibc version (`getconf GNU_LIBC_VERSION`), or undefined when unknown. */
async function glibcVersion(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  try {
    const res = await new Deno.Command("getconf", {
      args: ["GNU_LIBC_VERSION"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return new TextDecoder().decode(res.stdout).match(/(\d+\.\d+)/)?.[1];
  } catch (err) {
    // No getconf (or not allowed to run it): the caller's default stands.
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
      return undefined;
    }
    throw err;
  }
}

/**
 * Orders records so that every package comes after its dependencies, and
 * `python` before every `noarch: python` package; ties are broken by name so
 * the order is stable. Dependency cycles are broken deterministically.
 */
export function installOrder(records: SolvedRecord[]): SolvedRecord[] {
  const byName = new Map(records.map((r) => [r.name, r]));
  const deps = new Map<string, Set<string>>();
  for (const r of records) {
    const d = new Set<string>();
    for (const spec of r.depends) {
      const n = specName(spec);
      if (n !== r.name && byName.has(n)) d.add(n);
    }
    if (r.noarch === "python" && byName.has("python") && r.name !== "python") d.add("python");
    deps.set(r.name, d);
  }
  const done = new Set<string>();
  const order: SolvedRecord[] = [];
  const names = [...byName.keys()].sort();
  while (order.length < records.length) {
    const ready = names.filter((n) => !done.has(n) && [...deps.get(n)!].every((d) => done.has(d)));
    // A cycle: take the first remaining name to make progress.
    const batch = ready.length ? ready : [names.find((n) => !done.has(n))!];
    for (const n of batch) {
      done.add(n);
      order.push(byName.get(n)!);
    }
  }
  return order;
}

function emptyRepodata(subdir: string, records: Record<string, unknown> = {}): string {
  return JSON.stringify({ info: { subdir }, packages: {}, "packages.conda": records });
}

function virtualRepodata(subdir: string, virtuals: VirtualPackage[]): string {
  const recs: Record<string, unknown> = {};
  for (const v of virtuals) {
    recs[`${v.name}-${v.version}-0.conda`] = {
      name: v.name,
      version: v.version,
      build: "0",
      build_number: 0,
      depends: [],
      subdir,
    };
  }
  return emptyRepodata(subdir, recs);
}

/**
 * The record fields the solver reads; the rest (checksums, size, license, ...) is
 * left out of what it parses and taken from the full records afterwards.
 */
const SOLVER_FIELDS = [
  "name",
  "version",
  "build",
  "build_number",
  "depends",
  "constrains",
  "noarch",
  "subdir",
  "timestamp",
  "track_features",
  "features",
];

/** The reachable records of one subdir as the JSON text served to the solver. */
function reducedRepodata(subdir: string, names: Map<string, NameRecords>): string {
  const slim = (rec: RepodataRecord) => {
    const out: Record<string, unknown> = {};
    for (const k of SOLVER_FIELDS) if (rec[k] !== undefined) out[k] = rec[k];
    return out;
  };
  const packages: Record<string, unknown> = {};
  const conda: Record<string, unknown> = {};
  for (const recs of names.values()) {
    for (const fn in recs.packages) packages[fn] = slim(recs.packages[fn]);
    for (const fn in recs["packages.conda"]) conda[fn] = slim(recs["packages.conda"][fn]);
  }
  return JSON.stringify({ info: { subdir }, packages, "packages.conda": conda });
}

/** Serves prepared repodata bodies to rattler on loopback. */
function serveRepodata(bodies: Map<string, string>, log: (line: string) => void) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    log(`solver requested ${path}`);
    const body = bodies.get(path);
    if (body === undefined) return new Response("not found", { status: 404 });
    return new Response(body, { headers: { "content-type": "application/json" } });
  });
  return { server, base: `http://127.0.0.1:${server.addr.port}` };
}

/**
 * Solves `specs` over `options.channels` for `options.platform` and returns
 * the records to install, dependencies first. An unsatisfiable request is a
 * {@linkcode BuildError} whose first line names the request and whose
 * following lines are the solver's explanation; an invalid spec is a
 * {@linkcode UsageError}.
 *
 * @example Solve over a local channel directory
 * ```ts
 * import assert from "node:assert/strict";
 * import { solve } from "./solve.ts";
 * import { storeLayout } from "../../store/layout.ts";
 * const dir = await Deno.makeTempDir();
 * const pkg = (name: string, depends: string[]) => ({
 *   name, version: "1.0", build: "0", build_number: 0, depends, subdir: "noarch",
 * });
 * await Deno.mkdir(`${dir}/ch/noarch`, { recursive: true });
 * await Deno.writeTextFile(`${dir}/ch/noarch/repodata.json`, JSON.stringify({
 *   info: { subdir: "noarch" },
 *   packages: { "a-1.0-0.tar.bz2": pkg("a", ["b"]), "b-1.0-0.tar.bz2": pkg("b", []) },
 * }));
 * const records = await solve(["a"], {
 *   channels: [`${dir}/ch`],
 *   platform: "linux-64",
 *   virtualPackages: [],
 *   layout: storeLayout(`${dir}/store`),
 *   showProgress: false,
 * });
 * assert.deepEqual(records.map((r) => r.name), ["b", "a"]); // dependencies first
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function solve(specs: string[], options: SolveOptions): Promise<SolvedRecord[]> {
  if (specs.length === 0) throw new UsageError("nothing to solve: give at least one package spec");
  if (options.channels.length === 0) {
    throw new UsageError("no channels given; add a channel such as conda-forge");
  }
  const log = options.log ?? (() => {});
  const platform = options.platform ?? condaPlatform();
  const channels = options.channels.map((c) => parseChannel(c));
  const virtuals = options.virtualPackages ?? await detectVirtualPackages(platform);
  const { loaded, reachable } = await loadReachable(specs, channels, platform, options);
  for (const l of loaded) log(`repodata ${describeRepodata(l)}`);
  const bodies = solverBodies(loaded, reachable, channels, platform, virtuals);
  const { server, base } = serveRepodata(bodies, log);
  const request: SolveRequest = { specs, platform, channels, base };
  let solved: SolvedPackage[];
  try {
    solved = await runSolver(request);
  } finally {
    await server.shutdown();
  }
  try {
    return installOrder(solvedRecords(solved, request, loaded, reachable));
  } finally {
    for (const pkg of solved) pkg.free();
  }
}

/** What the solver is asked, and the loopback server's base URL that stands for the channels. */
interface SolveRequest {
  specs: string[];
  platform: string;
  channels: Channel[];
  /** `http://127.0.0.1:<port>`; channel `i` is served at `<base>/<i>`. */
  base: string;
}

/** A package the solver chose (rattler's type). */
type SolvedPackage = Awaited<ReturnType<typeof simpleSolve>>[number];

/** The subdirs solved for on `platform`: it and `noarch`. */
function subdirsOf(platform: string): string[] {
  return platform === "noarch" ? ["noarch"] : [platform, "noarch"];
}

/**
 * Loads every channel's repodata and reads the records reachable from
 * `specs` (one map per loaded subdir); the sources are closed afterwards.
 */
async function loadReachable(
  specs: string[],
  channels: Channel[],
  platform: string,
  options: SolveOptions,
): Promise<{ loaded: SubdirRepodata[]; reachable: Map<string, NameRecords>[] }> {
  const progress = new RepodataProgress(options.showProgress ?? Deno.stderr.isTerminal());
  let loaded: SubdirRepodata[] = [];
  try {
    loaded = await loadChannels(channels, platform, { ...options, progress });
    const reachable = await collectReachable(specs, loaded.map((l) => l.source));
    return { loaded, reachable };
  } finally {
    progress.done();
    await Promise.all(loaded.map((l) => l.source?.close()));
  }
}

/** The repodata bodies served to the solver by path: each loaded subdir, plus the virtual channel. */
function solverBodies(
  loaded: SubdirRepodata[],
  reachable: Map<string, NameRecords>[],
  channels: Channel[],
  platform: string,
  virtuals: VirtualPackage[],
): Map<string, string> {
  const bodies = new Map<string, string>();
  loaded.forEach((l, i) => {
    const idx = channels.indexOf(l.channel);
    bodies.set(`/${idx}/${l.subdir}/repodata.json`, reducedRepodata(l.subdir, reachable[i]));
  });
  for (const s of subdirsOf(platform)) {
    bodies.set(`/virtual/${s}/repodata.json`, virtualRepodata(s, s === platform ? virtuals : []));
  }
  return bodies;
}

/** Runs rattler's solver over the loopback channels; its failure becomes {@linkcode solveFailure}. */
async function runSolver(req: SolveRequest): Promise<SolvedPackage[]> {
  const loopUrls = req.channels.map((_, i) => `${req.base}/${i}`);
  try {
    return await simpleSolve(
      req.specs,
      [...loopUrls, `${req.base}/virtual`],
      subdirsOf(req.platform) as Platform[],
      [],
    );
  } catch (err) {
    throw solveFailure(err, req, loopUrls);
  }
}

/**
 * Whether rattler's failure is a spec it could not parse rather than an
 * unsatisfiable request. rattler throws plain strings with no kind, so this
 * is the one place its text is classified (into our error kinds).
 */
function isSpecSyntaxError(raw: string): boolean {
  return /parse|invalid/i.test(raw) && !/cannot solve/i.test(raw);
}

/** The error for a failed solve: the channels' real URLs in place of the loopback ones. */
function solveFailure(err: unknown, req: SolveRequest, loopUrls: string[]): Error {
  const raw = (err instanceof Error ? err.message : String(err)).trim();
  if (isSpecSyntaxError(raw)) {
    return new UsageError(`invalid package spec in ${req.specs.join(", ")}: ${raw.split("\n")[0]}`);
  }
  let explanation = raw;
  loopUrls.forEach((u, i) => explanation = explanation.replaceAll(u, req.channels[i].url));
  const header = `cannot solve ${req.specs.join(", ")} for ${req.platform} from ${
    req.channels.map((c) => c.url).join(", ")
  }:`;
  return new BuildError(`${header}\n${explanation}`, { cause: err });
}

/** Maps the solver's picks back to their channels and full repodata records. */
function solvedRecords(
  solved: SolvedPackage[],
  req: SolveRequest,
  loaded: SubdirRepodata[],
  reachable: Map<string, NameRecords>[],
): SolvedRecord[] {
  const out: SolvedRecord[] = [];
  for (const pkg of solved) {
    const [first, subdir] = pkg.url.slice(req.base.length + 1).split("/");
    if (first === "virtual") continue;
    const channel = req.channels[Number(first)];
    const i = loaded.findIndex((l) => l.channel === channel && l.subdir === subdir);
    const recs = i >= 0 ? reachable[i].get(pkg.packageName) : undefined;
    const fn = pkg.filename;
    const record = recs?.["packages.conda"][fn] ?? recs?.packages[fn];
    if (!record) {
      throw new BuildError(
        `solver chose ${fn} but it is not in the repodata of ${channel.url}/${subdir}`,
      );
    }
    const url = new URL(fn, loaded[i].packageBase).href;
    out.push({ channel: channel.url, url, fn, ...solvedFields(record, subdir) });
  }
  return out;
}

/** The fields of a solved record taken from its repodata record (`subdir`: where it was found). */
function solvedFields(
  record: RepodataRecord,
  subdir: string,
): Omit<SolvedRecord, "channel" | "url" | "fn"> {
  return {
    sha256: record.sha256,
    md5: record.md5,
    size: record.size,
    name: record.name,
    version: record.version,
    build: record.build,
    depends: record.depends ?? [],
    noarch: record.noarch,
    subdir: record.subdir ?? subdir,
    record,
  };
}
