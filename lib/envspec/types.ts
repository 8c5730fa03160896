/**
 * The environment spec: what `poncho analyze` writes and `poncho create`
 * reads. The file format is CCTools' poncho JSON:
 *
 * ```json
 * {
 *   "conda": {
 *     "channels": ["conda-forge"],
 *     "dependencies": ["python=3.11", "numpy=1.26.4", {"pip": ["foo==1.0"]}]
 *   },
 *   "git": {"DATA_DIR": {"remote": "https://host/repo.git", "ref": "main"}},
 *   "http": {"REF_DB": {"type": "file", "url": "https://host/ref.dat"}}
 * }
 * ```
 *
 * The legacy form (`conda.packages` plus a top-level `pip` list), conda's
 * `environment.yml` and CCTools' first-generation `{"python": "X.Y.Z",
 * "modules": [...]}` (see `lib/legacy/format.ts`) are accepted too.
 *
 * @module
 */

/** A git checkout placed inside the environment, exported as an env variable. */
export interface GitSource {
  /** The repository to clone. */
  remote: string;
  /** Branch, tag or commit to check out (default: the remote's HEAD). */
  ref?: string;
}

/** A file or tarball fetched into the environment, exported as an env variable. */
export interface HttpSource {
  /** `file` keeps the download as is; `tar` unpacks it into a directory. */
  type: "file" | "tar";
  /** Where to fetch it from (`http(s)://` or `file://`). */
  url: string;
  /** For `tar`: `gzip`, `bzip2`, `zstd` or `none` (default: from the URL). */
  compression?: string;
}

/** A parsed, validated environment spec. */
export interface EnvSpec {
  /** Channels in priority order. */
  channels: string[];
  /** Conda match specs, as given (whitespace normalised). */
  conda: string[];
  /** pip requirement strings, as given. */
  pip: string[];
  /** git sources keyed by the environment variable that names them. */
  git: Record<string, GitSource>;
  /** http sources keyed by the environment variable that names them. */
  http: Record<string, HttpSource>;
  /**
   * True when the file named no channels and {@link EnvSpec.channels} is only
   * the default because the format has no channel field at all (CCTools'
   * first-generation dependency file): command-line channels then replace it.
   */
  channelsImplied?: boolean;
  /** The environment name from an environment.yml, if any (not part of the identity). */
  name?: string;
}
