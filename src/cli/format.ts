/** Plain-text output helpers: numbers, aligned tables, CSV. */
import { csvField, formatDelimited } from '../report/table.js';

export { csvField };

/** A number with at most `decimals` decimals, trailing zeros and "-0" removed. */
export function num(x: number, decimals = 4): string {
  if (!Number.isFinite(x)) return String(x);
  const s = x.toFixed(decimals);
  const trimmed = s.includes('.') ? s.replace(/\.?0+$/, '') : s;
  return trimmed === '-0' ? '0' : trimmed;
}

/** A response for people: 4 decimals, but a tiny non-zero one in 2 significant digits (2.3e-9, not 0). */
export function responseNumber(x: number): string {
  return x !== 0 && Math.abs(x) < 5e-5 ? x.toPrecision(2) : num(x, 4);
}

/**
 * Formats a table column of scores alike: 5 decimals, or every entry as 1.23e-6 when the largest
 * is below 0.001 (where decimals would print 0).
 */
export function scoreColumn(scores: readonly number[]): (x: number) => string {
  const largest = Math.max(0, ...scores.map(Math.abs).filter(Number.isFinite));
  return largest > 0 && largest < 1e-3
    ? (x) => (x === 0 ? '0' : x.toExponential(2))
    : (x) => num(x, 5);
}

/** A number with exactly `decimals` decimals ("-0.00" printed as "0.00"). */
export function fixed(x: number, decimals: number): string {
  const s = x.toFixed(decimals);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

export type Align = 'left' | 'right';

/** Rows as an aligned text table with a header line; columns separated by two spaces. */
export function formatTable(headers: string[], rows: string[][], align: Align[]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (align[c] === 'right' ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** Rows as CSV with a header line, "\n" line ends. */
export function formatCsv(headers: string[], rows: string[][]): string {
  return formatDelimited([headers, ...rows], ',');
}
