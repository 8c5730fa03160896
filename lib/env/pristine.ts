/**
 * The pristine package-cache copies of the files conda linked into a prefix
 * with a placeholder: what an archive of the prefix packs instead of the
 * rewritten files, so that it relocates to any path up to the placeholder's
 * length.
 *
 * @module
 */

import { join } from "node:path";
import type { PristineFile } from "./pack.ts";
import { fileSha256 } from "../digest.ts";

/**
 * Files of the prefix that conda linked with a placeholder, with their
 * pristine package-cache copies (from `conda-meta`: `paths_data` and
 * `link.source`). Works for prefixes built natively or by conda/mamba.
 */
export async function pristineFromCondaMeta(prefix: string): Promise<Map<string, PristineFile>> {
  const map = new Map<string, PristineFile>();
  const metaDir = join(prefix, "conda-meta");
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(metaDir)].map((e) => e.name).filter((n) => n.endsWith(".json"));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return map; // not a conda prefix: nothing linked
    throw err;
  }
  for (const name of names.sort()) {
    const rec = JSON.parse(await Deno.readTextFile(join(metaDir, name)));
    const source: string | undefined = rec.link?.source ?? rec.extracted_package_dir;
    const paths: Record<string, string>[] = rec.paths_data?.paths ?? [];
    if (!source) continue;
    for (const p of paths) {
      if (!p.prefix_placeholder || p.clobbered_by) continue;
      // Changed since it was linked (a post-link script rewrote it): pack what the prefix holds.
      if (
        p.sha256_in_prefix &&
        await fileSha256(join(prefix, p._path)).catch(missingAs("")) !== p.sha256_in_prefix
      ) continue;
      // noarch: python files were remapped on install; the cache keeps the original path.
      const candidates = [p._path];
      const sp = p._path.match(/(?:^|\/)site-packages\/(.*)$/);
      if (sp) candidates.push(`site-packages/${sp[1]}`);
      if (p._path.startsWith("bin/")) candidates.push(`python-scripts/${p._path.slice(4)}`);
      for (const c of candidates) {
        const src = join(source, c);
        if (await Deno.lstat(src).then(() => true, missingAs(false))) {
          map.set(p._path, {
            source: src,
            placeholder: p.prefix_placeholder,
            mode: p.file_mode === "binary" ? "binary" : "text",
          });
          break;
        }
      }
    }
  }
  return map;
}

/** A rejection handler: `value` for a missing file (also as `fileSha256` reports it), else rethrows. */
function missingAs<T>(value: T): (err: unknown) => T {
  return (err) => {
    const cause = (err as { cause?: unknown }).cause;
    if (err instanceof Deno.errors.NotFound || cause instanceof Deno.errors.NotFound) return value;
    throw err;
  };
}
