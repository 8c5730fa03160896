/**
 * Sizes as people write them: `--max-size 20G` in, `1.2G` out.
 *
 * @module
 */

/** Parses a size like `500M`, `20G`, `1.5T`, `1024` (bytes; K/M/G/T are powers of 1024). */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?$/i.exec(text.trim());
  if (!m) return undefined;
  const power = " KMGT".indexOf(m[2].toUpperCase() || " ");
  return Math.floor(Number(m[1]) * 1024 ** power);
}

/** Formats bytes for humans (`1.2G`). */
export function formatSize(bytes: number): string {
  const units = ["B", "K", "M", "G", "T"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes}B` : `${value.toFixed(value < 10 ? 1 : 0)}${units[unit]}`;
}
