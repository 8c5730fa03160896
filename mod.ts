/**
 * Poncho as a library: analyze Python sources into an environment spec,
 * create relocatable conda environments from specs, and run commands inside
 * environments unpacked into a content-addressed store.
 *
 * ```ts
 * import { analyze } from "https://example.org/poncho/mod.ts";
 * const { spec } = await analyze({ sources: ["script.py"] });
 * ```
 *
 * Third-party code is reached only through versioned `npm:` specifiers, so this
 * module works when imported by URL.
 *
 * @module
 */

export { analyze, DEFAULT_PYTHON } from "./lib/analyze/analyze.ts";
export type { AnalyzeOptions, AnalyzeResult } from "./lib/analyze/analyze.ts";
export { renderSpec } from "./lib/analyze/spec_out.ts";
export type { Dependency, ExplainRecord, PonchoSpec, SpecFormat } from "./lib/analyze/spec_out.ts";
export { classifyStdlib, STDLIB_VERSIONS } from "./lib/analyze/stdlib.ts";
export type { StdlibInfo } from "./lib/analyze/stdlib.ts";
export { BUILTIN_MAPPING } from "./lib/analyze/mapping.ts";
export { indexChannel } from "./lib/index/channel_index.ts";
export type { IndexOptions, IndexResult, SubdirSummary } from "./lib/index/channel_index.ts";
export { packageModules } from "./lib/index/modules.ts";
export type { PackageFiles } from "./lib/index/modules.ts";
export { IMPORT_MAP_VERSION, parseImportMap } from "./lib/index/import_map.ts";
export type { ImportMapDoc } from "./lib/index/import_map.ts";
export { scanImports } from "./lib/analyze/scan.ts";
export { decodePythonSource } from "./lib/analyze/decode.ts";
export type { DecodedSource } from "./lib/analyze/decode.ts";
export type { ImportRecord, ScanResult } from "./lib/analyze/types.ts";

export { parseSpec, readSpec } from "./lib/envspec/parse.ts";
export { canonicalSpec, specHash, specToJson } from "./lib/envspec/canonical.ts";
export type { CanonicalSpec } from "./lib/envspec/canonical.ts";
export type { EnvSpec, GitSource, HttpSource } from "./lib/envspec/types.ts";

export {
  ActivationError,
  BuildError,
  CorruptError,
  EXIT_ACTIVATION,
  EXIT_BUG,
  EXIT_CODES,
  EXIT_FAILED,
  EXIT_NOT_FOUND,
  EXIT_USAGE,
  NetworkError,
  NoSpaceError,
  NotFoundError,
  PermissionError,
  PonchoError,
  UsageError,
} from "./lib/errors.ts";
export type { ErrorKind, PermissionErrorOptions, PonchoErrorOptions } from "./lib/errors.ts";
export { VERSION } from "./lib/version.ts";

export { defaultStoreRoot, ensureStore, storeLayout } from "./store/layout.ts";
export type { StoreLayout } from "./store/layout.ts";
export { acquireLock, LockTimeoutError, tryLock, withLock } from "./store/lock.ts";
export type { HeldLock, LockHolder, LockOptions } from "./store/lock.ts";
export type { IndexEntry, IndexRecord } from "./store/index.ts";
export type { EnvManifest, RelocationRecord } from "./lib/env/manifest.ts";

export { createEnvironment, createEnvironment as create, withChannels } from "./lib/create.ts";
export type { CreatedPackage, CreateOptions, CreateResult } from "./lib/create.ts";
export { runEnvironment, runEnvironment as run } from "./lib/run.ts";
export type { RunEnvOptions } from "./lib/run.ts";
export {
  ensureAutoEnvironment,
  planAutoEnvironment,
  resolveAutoSpec,
  runInAutoEnvironment,
} from "./lib/auto.ts";
export type {
  AutoEnvironment,
  AutoEnvOptions,
  AutoPlan,
  AutoSpec,
  AutoSpecOptions,
} from "./lib/auto.ts";
export { createInStore, packStoreEnv } from "./lib/store_env.ts";
export type { StoreEnvOptions, StoreEnvResult } from "./lib/store_env.ts";
export { formatSize, gc, listEnvs, parseSize } from "./store/gc.ts";
export type { CacheReport, GcOptions, GcResult, StoreEntry } from "./store/gc.ts";
export type { CacheBucket } from "./store/cache_gc.ts";
export { packPrefix } from "./lib/env/pack.ts";
export type { PackOptions, PackResult, PristineFile } from "./lib/env/pack.ts";
export { MANIFEST_FORMAT, MANIFEST_PATH } from "./lib/env/manifest.ts";
