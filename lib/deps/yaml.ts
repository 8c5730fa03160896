/**
 * The `yaml` package, pinned. Every third-party module reaches Poncho through one file of
 * `lib/deps/` whose versioned `npm:` specifier matches `package.json` (checked by
 * `tests/deps_test.ts`), so a version is changed in one place per package. One file per package
 * keeps lazy loading possible: importing YAML support does not load the solver.
 *
 * @module
 */
export { parse, stringify } from "npm:yaml@2.9.1";
