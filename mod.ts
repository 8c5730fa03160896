/**
 * Poncho as a library: analyze Python sources into an environment spec,
 * create relocatable conda environments from specs, and run commands inside
 * environments unpacked into a content-addressed store.
 *
 * ```ts ignore
 * import { analyze } from "https://example.org/poncho/mod.ts";
 * const { spec } = await analyze({ sources: ["script.py"] });
 * ```
 *
 * Each domain folder has a door module of its own (`lib/analyze/mod.ts`,
 * `lib/index/mod.ts`, `lib/envspec/mod.ts`, `lib/env/mod.ts`,
 * `lib/conda/mod.ts`, `lib/archive/mod.ts`, `store/mod.ts`); this module
 * re-exports the public ones and the top-level operations.
 *
 * @example Hash a spec the way `create` and `run` identify environments
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalSpec, parseSpec, specHash } from "./mod.ts";
 * const spec = await parseSpec('{"conda": {"dependencies": ["python=3.11", "numpy"]}}', "s.json");
 * assert.match(specHash(canonicalSpec(spec, "linux-64")), /^[0-9a-f]{64}$/);
 * ```
 *
 * @example The conda and archive doors, through the root
 * ```ts
 * import assert from "node:assert/strict";
 * import { compressionFromPath, parseChannel } from "./mod.ts";
 * assert.equal(parseChannel("conda-forge").url, "https://conda.anaconda.org/conda-forge");
 * assert.equal(compressionFromPath("env.tar.zst"), "zst");
 * ```
 *
 * Third-party code is reached only through versioned `npm:` specifiers, so this
 * module works when imported by URL.
 *
 * @module
 */

export * from "./lib/analyze/mod.ts";
export * from "./lib/index/mod.ts";
export * from "./lib/envspec/mod.ts";
export * from "./lib/conda/mod.ts";
export * from "./lib/archive/mod.ts";

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

export * from "./store/mod.ts";
export * from "./lib/env/mod.ts";

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
