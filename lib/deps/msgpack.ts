/**
 * The `@msgpack/msgpack` encoder and decoder, pinned; see `lib/deps/yaml.ts` for the convention.
 * Used for CEP-16 sharded repodata (`lib/conda/shards.ts`).
 *
 * @module
 */
export { decode, encode } from "npm:@msgpack/msgpack@3.1.3";
