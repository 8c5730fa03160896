/**
 * CEP-16 sharded repodata for `poncho index`: one shard per package name
 * (`<subdir>/shards/<sha256>.msgpack.zst`) and the shard index
 * (`<subdir>/repodata_shards.msgpack.zst`), encoded by `lib/conda/shards.ts`
 * so that Poncho's reader and writer agree byte for byte. Shards no longer
 * referenced are removed; a shard whose content did not change keeps its name
 * (it is content-addressed) and is not rewritten.
 *
 * @module
 */

import { join } from "node:path";
import { encodeShard, encodeShardIndex, SHARD_INDEX_FILE } from "../conda/shards.ts";
import type { NameRecords, RepodataRecord } from "../conda/records.ts";
import { writeFileAtomic } from "../fs/atomic.ts";
import { isAbsent } from "../fs/probe.ts";

/** The shards directory inside a subdir. */
export const SHARDS_DIR = "shards";

/**
 * Writes the shards and the shard index of one subdir from its repodata
 * sections.
 */
export async function writeShards(
  subdirPath: string,
  subdir: string,
  packages: Record<string, Record<string, unknown>>,
  condaPackages: Record<string, Record<string, unknown>>,
): Promise<void> {
  const byName = new Map<string, NameRecords>();
  const add = (section: keyof NameRecords, fn: string, rec: Record<string, unknown>) => {
    const name = String(rec.name);
    const recs = byName.get(name) ?? { packages: {}, "packages.conda": {} };
    recs[section][fn] = rec as RepodataRecord;
    byName.set(name, recs);
  };
  for (const [fn, rec] of Object.entries(packages)) add("packages", fn, rec);
  for (const [fn, rec] of Object.entries(condaPackages)) add("packages.conda", fn, rec);
  const dir = join(subdirPath, SHARDS_DIR);
  await Deno.mkdir(dir, { recursive: true });
  const keep = new Set<string>();
  const shards = new Map<string, string>();
  for (const name of [...byName.keys()].sort()) {
    const { bytes, sha256 } = encodeShard(byName.get(name)!);
    const file = `${sha256}.msgpack.zst`;
    keep.add(file);
    shards.set(name, sha256);
    // Content-addressed: a shard already there has these bytes.
    await Deno.lstat(join(dir, file)).catch(async (err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      await writeFileAtomic(join(dir, file), bytes);
    });
  }
  const index = encodeShardIndex({
    version: 1,
    info: { base_url: "./", shards_base_url: `./${SHARDS_DIR}/`, subdir },
    shards,
  });
  await writeFileAtomic(join(subdirPath, SHARD_INDEX_FILE), index);
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".msgpack.zst") && !keep.has(e.name)) {
      await Deno.remove(join(dir, e.name)).catch((err) => {
        if (!isAbsent(err)) throw err; // removed meanwhile is fine
      });
    }
  }
}
