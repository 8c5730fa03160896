/**
 * Writing `conda-meta/`: one `<name>-<version>-<build>.json` per installed
 * package (the repodata record plus `files`, `paths_data`, `link` and
 * `requested_spec`) and `conda-meta/history`, so conda, mamba and
 * conda-pack recognise the environment.
 *
 * @module
 */

import { join } from "node:path";
import type { PathData } from "./link.ts";
import { VERSION } from "../version.ts";

/** What to record for one installed package. */
export interface InstalledRecord {
  /** The full repodata record (name, version, build, depends, sha256, ...). */
  record: Record<string, unknown>;
  /** The channel URL it came from. */
  channel: string;
  /** The download URL. */
  url: string;
  /** The package file name. */
  fn: string;
  /** Extracted package directory (the link source). */
  source: string;
  /** How files were placed. */
  linkType: "hardlink" | "copy";
  /** Files placed, relative to the prefix. */
  files: string[];
  /** Per-file records. */
  pathsData: PathData[];
  /** The user's spec that asked for it, if it was asked for directly. */
  requestedSpec?: string;
}

/** Conda's numeric link types. */
const LINK_TYPE = { hardlink: 1, copy: 3 } as const;

/** The conda-meta file name for a record. */
export function metaFileName(r: { name: unknown; version: unknown; build: unknown }): string {
  return `${r.name}-${r.version}-${r.build}.json`;
}

/** Writes one conda-meta record and returns its path relative to the prefix. */
export async function writeMetaRecord(prefix: string, rec: InstalledRecord): Promise<string> {
  const dir = join(prefix, "conda-meta");
  await Deno.mkdir(dir, { recursive: true });
  const doc: Record<string, unknown> = {
    ...rec.record,
    channel: rec.channel,
    url: rec.url,
    fn: rec.fn,
    extracted_package_dir: rec.source,
    files: rec.files,
    paths_data: { paths: rec.pathsData, paths_version: 1 },
    link: { source: rec.source, type: LINK_TYPE[rec.linkType] },
    requested_spec: rec.requestedSpec ?? "",
  };
  const name = metaFileName(rec.record as { name: string; version: string; build: string });
  await Deno.writeTextFile(join(dir, name), JSON.stringify(doc, null, 2) + "\n");
  return `conda-meta/${name}`;
}

/**
 * Writes `conda-meta/history` in conda's format: a timestamped revision with
 * `+channel::name-version-build` lines and the user's specs.
 */
export async function writeHistory(
  prefix: string,
  installed: { channel: string; record: Record<string, unknown> }[],
  specs: string[],
  when: Date = new Date(),
): Promise<void> {
  const stamp = when.toISOString().replace("T", " ").slice(0, 19);
  const lines = [
    `==> ${stamp} <==`,
    `# cmd: poncho create`,
    `# poncho version: ${VERSION}`,
    ...installed.map(({ channel, record }) =>
      `+${channel}::${record.name}-${record.version}-${record.build}`
    ),
    `# update specs: ${JSON.stringify(specs)}`,
    "",
  ];
  await Deno.mkdir(join(prefix, "conda-meta"), { recursive: true });
  await Deno.writeTextFile(join(prefix, "conda-meta", "history"), lines.join("\n"));
}
