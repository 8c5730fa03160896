/**
 * The clobber registry of one install: which package placed each path of
 * the prefix. When a later package (in install order) places a path an
 * earlier one already placed, the later one wins, as with conda; the
 * registry remembers both so the caller can warn and record it in both
 * packages' conda-meta.
 *
 * @module
 */

/** One path placed by two packages. */
export interface Clobber {
  /** Path relative to the prefix. */
  path: string;
  /** The package (`name-version-build`) whose copy was replaced. */
  loser: string;
  /** The package (`name-version-build`) whose copy is in the prefix. */
  winner: string;
}

/** Path ownership during an install. */
export class ClobberRegistry {
  readonly #owners = new Map<string, string>();
  readonly #clobbers: Clobber[] = [];

  /**
   * Records that `dist` places `path`; returns the package that placed it
   * before (now clobbered), if any.
   */
  claim(path: string, dist: string): string | undefined {
    const before = this.#owners.get(path);
    this.#owners.set(path, dist);
    if (before === undefined || before === dist) return undefined;
    this.#clobbers.push({ path, loser: before, winner: dist });
    return before;
  }

  /** The package whose copy of `path` is in the prefix. */
  owner(path: string): string | undefined {
    return this.#owners.get(path);
  }

  /** Every clobber, in the order they happened. */
  get clobbers(): readonly Clobber[] {
    return this.#clobbers;
  }
}

/** The warning line for one clobber, naming both packages and the path. */
export function clobberWarning(c: Clobber): string {
  return `warning: ${c.winner} and ${c.loser} both provide ${c.path}; ` +
    `the copy of ${c.winner} (installed later) is kept, as conda does`;
}
