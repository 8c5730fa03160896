/**
 * The `jsonc-parser` package (JSON with comments and trailing commas, errors with offsets),
 * pinned; see `lib/deps/yaml.ts` for the convention.
 *
 * @module
 */
export { parse, type ParseError, printParseErrorCode } from "npm:jsonc-parser@3.3.1";
