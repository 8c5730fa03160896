/**
 * Naming the package that provides an import, in this order:
 *
 * 1. `--pkg-mapping IMPORT=NAME`;
 * 2. the project's declared requirements (`declared.ts`), for the imports
 *    they cover (by name, or by the package the later steps infer);
 * 3. the installed environment's metadata (exact versions); a distribution
 *    pip installed that conda-forge also has becomes a conda pin;
 * 4. the import maps of the target channels (`poncho index`);
 * 5. the shipped conda-forge map (`default_map.ts`), when conda-forge is a
 *    target channel;
 * 6. the same name, only when it is a conda-forge Python package (also with
 *    `_` as `-`, and dotted names joined by `-`);
 *
 * else the import is unresolved (null).
 *
 * @module
 */

import { condaForgeNameOf, type DefaultMap } from "./default_map.ts";
import { condaSpecFromPep508, type DeclaredRequirement } from "./declared.ts";
import { type InstalledIndex, lookupInstalled, normalizeDistName } from "./installed.ts";
import { choiceFromText, type PackageChoice } from "./mapping.ts";
import type { ModuleIndex } from "../index/import_map.ts";

/** What {@link resolveImport} consults. */
export interface ResolveContext {
  /** `--pkg-mapping` entries, import name to NAME. */
  userMappings: ReadonlyMap<string, string>;
  /** Declared requirements of the project. */
  declared: readonly DeclaredRequirement[];
  /** The installed environment, when read. */
  installed?: InstalledIndex;
  /** Modules of the target channels' import maps. */
  channelModules: ModuleIndex;
  /** The shipped conda-forge map, when conda-forge is a target channel. */
  defaultMap?: DefaultMap;
}

/** Longest dotted prefix of `module` (up to 4 parts) that `has` accepts. */
function longestKey(module: string, has: (key: string) => boolean): string | null {
  const parts = module.split(".");
  for (let n = Math.min(parts.length, 4); n >= 1; n--) {
    const key = parts.slice(0, n).join(".");
    if (has(key)) return key;
  }
  return null;
}

const conda = (name: string, source: PackageChoice["source"]): PackageChoice => ({
  package: name,
  manager: "conda",
  source,
  spec: name,
});

/** The package the same-name rule gives, or null (see the module documentation). */
export function sameNamePackage(module: string, map: DefaultMap, min = 1): string | null {
  const parts = module.split(".");
  for (let n = Math.min(parts.length, 3); n >= min; n--) {
    const dotted = parts.slice(0, n).join(".").toLowerCase();
    for (const c of [dotted, dotted.replaceAll("_", "-"), dotted.replace(/[._]/g, "-")]) {
      if (map.python.has(c)) return c;
    }
  }
  return null;
}

/** Steps 3 to 6; null when unresolved. */
function infer(module: string, ctx: ResolveContext): PackageChoice | null {
  if (ctx.installed) {
    const dist = lookupInstalled(ctx.installed, module);
    if (dist) {
      const cf = dist.manager === "pip" && ctx.defaultMap
        ? condaForgeNameOf(ctx.defaultMap, dist.name)
        : null;
      if (dist.manager === "conda" || cf) {
        const name = cf ?? dist.name;
        return {
          package: name,
          version: dist.version,
          manager: "conda",
          source: "installed",
          spec: `${name}=${dist.version}`,
        };
      }
      return {
        package: dist.name,
        version: dist.version,
        manager: "pip",
        source: "installed",
        spec: `${dist.name}==${dist.version}`,
      };
    }
  }
  const chKey = longestKey(module, (k) => ctx.channelModules.has(k));
  if (chKey !== null) return conda(ctx.channelModules.get(chKey)![0], "channel");
  const map = ctx.defaultMap;
  if (!map) return null;
  // Most specific first: `zope.interface` by its own name before the `zope` namespace's entry.
  const parts = module.split(".");
  for (let n = Math.min(parts.length, 4); n >= 1; n--) {
    const key = parts.slice(0, n).join(".");
    const pkgs = map.modules.get(key);
    if (pkgs) return pkgs.length > 0 ? conda(pkgs[0], "table") : null;
    const same = sameNamePackage(key, map, n);
    if (same !== null) return conda(same, "name");
  }
  return null;
}

/**
 * Chooses the package for an imported module (see the module documentation).
 *
 * @param module The module as imported (dotted is fine: `google.cloud.storage.blob`).
 * @returns null when no rule names a package: the import is unresolved.
 */
export function resolveImport(module: string, ctx: ResolveContext): PackageChoice | null {
  const userKey = longestKey(module, (k) => ctx.userMappings.has(k));
  if (userKey !== null) return choiceFromText(ctx.userMappings.get(userKey)!, "user");
  const inferred = infer(module, ctx);
  const covered = new Set([normalizeDistName(module.split(".")[0])]);
  if (inferred) covered.add(normalizeDistName(inferred.package));
  const parts = module.split(".");
  for (let n = 2; n <= Math.min(parts.length, 3); n++) {
    covered.add(normalizeDistName(parts.slice(0, n).join("-")));
  }
  const condaNameOf = (d: DeclaredRequirement): string | null => {
    if (d.kind === "conda") return d.name;
    if (ctx.defaultMap) return condaForgeNameOf(ctx.defaultMap, d.name);
    for (const pkgs of ctx.channelModules.values()) if (pkgs.includes(d.name)) return d.name;
    return null;
  };
  for (const d of ctx.declared) {
    const cname = condaNameOf(d);
    if (!covered.has(d.name) && !(cname && covered.has(normalizeDistName(cname)))) continue;
    if (d.kind === "conda") return { ...choiceFromText(d.text, "declared"), source: "declared" };
    if (cname) {
      return {
        package: cname,
        manager: "conda",
        source: "declared",
        spec: condaSpecFromPep508(d.text, cname),
      };
    }
    return { ...choiceFromText(`pip:${d.text}`, "declared"), source: "declared" };
  }
  return inferred;
}
