/**
 * Writing `conda-meta/`: one `<name>-<version>-<build>.json` per installed
 * package, field by field as conda writes them (the repodata record plus
 * `channel` with its subdir, `constrains`, `features`, `track_features`,
 * `extracted_package_dir`, `package_tarball_full_path`, `package_type`,
 * `files`, `paths_data` with `sha256_in_prefix`, `link`, `requested_spec`
 * ("None" for dependencies), keys sorted, two-space indent) and
 * `conda-meta/history`, so conda, mamba and conda-pack recognise the
 * environment.
 *
 * @module
 */

import { join } from "node:path";
import type { PathData } from "./link.ts";
import { VERSION } from "../version.ts";
import { PonchoError } from "../errors.ts";

/** What to record for one installed package. */
export interface InstalledRecord {
  /** The full repodata record (name, version, build, depends, sha256, ...). */
  record: Record<string, unknown>;
  /** The channel URL it came from (without the subdir). */
  channel: string;
  /** The download URL. */
  url: string;
  /** The package file name. */
  fn: string;
  /** Extracted package directory (the link source). */
  source: string;
  /** The downloaded package file. */
  tarball?: string;
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

/** conda's `package_type` for a record's `noarch` (absent for arch-specific packages). */
export function packageType(noarch: unknown): string | undefined {
  if (noarch === "python") return "noarch_python";
  if (noarch === "generic" || noarch === true) return "noarch_generic";
  return undefined;
}

/**
 * A user's spec in conda's `MatchSpec` string form, for `requested_spec`:
 * `name 1.2` and `name 1.2.*` become `name=1.2`, `name >=1.2` becomes `name>=1.2`,
 * `name 1.2 build` becomes `name==1.2=build`; other forms are kept.
 */
export function requestedSpecString(spec: string): string {
  const parts = spec.trim().split(/\s+/);
  if (parts.length === 2) {
    if (/^[<>=!~]/.test(parts[1])) return parts.join("");
    return `${parts[0]}=${parts[1].replace(/\.\*$/, "")}`;
  }
  if (parts.length === 3 && !/[<>!~,|*]/.test(parts[1])) {
    return `${parts[0]}==${parts[1].replace(/^=+/, "")}=${parts[2]}`;
  }
  return spec.trim();
}

/** Deep copy of `value` with every object's keys sorted (conda writes `sort_keys=True`). */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, sortKeys(obj[k])]));
  }
  return value;
}

/** The conda-meta file name for a record. */
export function metaFileName(r: { name: unknown; version: unknown; build: unknown }): string {
  const file = `${r.name}-${r.version}-${r.build}.json`;
  // The parts come from the channel (untrusted): the record must stay inside conda-meta/.
  if (file.includes("/") || file.includes("\0") || file.startsWith(".")) {
    throw new PonchoError(
      `package ${r.name} ${r.version} ${r.build}: name, version or build is not a plain name; ` +
        "refusing to write its conda-meta record (fix the channel's repodata)",
    );
  }
  return file;
}

/** Writes one conda-meta record and returns its path relative to the prefix. */
export async function writeMetaRecord(prefix: string, rec: InstalledRecord): Promise<string> {
  const dir = join(prefix, "conda-meta");
  await Deno.mkdir(dir, { recursive: true });
  const r = rec.record;
  const subdir = typeof r.subdir === "string" ? r.subdir : "";
  const channel = rec.channel.replace(/\/+$/, "");
  const doc: Record<string, unknown> = {
    ...r,
    channel: subdir && !channel.endsWith(`/${subdir}`) ? `${channel}/${subdir}` : channel,
    constrains: r.constrains ?? [],
    depends: r.depends ?? [],
    features: r.features ?? "",
    track_features: Array.isArray(r.track_features)
      ? r.track_features.join(" ")
      : (r.track_features ?? ""),
    url: rec.url,
    fn: rec.fn,
    extracted_package_dir: rec.source,
    files: rec.files,
    paths_data: { paths: rec.pathsData, paths_version: 1 },
    link: { source: rec.source, type: LINK_TYPE[rec.linkType] },
    requested_spec: rec.requestedSpec === undefined
      ? "None"
      : requestedSpecString(rec.requestedSpec),
  };
  // conda leaves out what the record has as null (`arch`, `platform` of noarch packages).
  for (const [k, v] of Object.entries(doc)) if (v === null || v === undefined) delete doc[k];
  if (rec.tarball) doc.package_tarball_full_path = rec.tarball;
  const type = packageType(r.noarch);
  if (type) doc.package_type = type;
  const name = metaFileName(r as { name: string; version: string; build: string });
  await Deno.writeTextFile(join(dir, name), JSON.stringify(sortKeys(doc), null, 2) + "\n");
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
