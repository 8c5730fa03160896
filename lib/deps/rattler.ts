/**
 * The `@conda-org/rattler` solver (WASM), pinned; see `lib/deps/yaml.ts` for the convention.
 *
 * @module
 */
export { type Platform, simpleSolve } from "npm:@conda-org/rattler@0.3.5";
