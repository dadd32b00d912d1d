/** Delimited tables (CSV, TSV) written the way spreadsheets and pandas read them back. */

export type Cell = string | number | boolean | null | undefined;

/** Format a number for a table: integers as is, others to `digits` significant digits. */
export function formatNumber(x: number, digits = 6): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Inf' : '-Inf';
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(digits)));
}

/** A difference of two shares (fractions) in percentage points, signed: 0.0125 → "+1.25 pp". */
export function percentPoints(difference: number, decimals = 2): string {
  if (!Number.isFinite(difference)) return '';
  const s = (100 * difference).toFixed(decimals);
  const zero = /^-?0\.?0*$/.test(s);
  return `${zero ? s.replace('-', '') : difference > 0 ? `+${s}` : s} pp`;
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function formatCell(cell: Cell, delimiter: string): string {
  if (cell === null || cell === undefined) return '';
  const text = typeof cell === 'number' ? formatNumber(cell) : String(cell);
  return delimiter === ',' ? csvField(text) : text.replace(/[\t\n\r]/g, ' ');
}

/** Rows (first row = header) as CSV or TSV text, newline-terminated. */
export function formatDelimited(
  rows: readonly (readonly Cell[])[],
  delimiter: ',' | '\t' = ',',
): string {
  return rows.map((r) => r.map((c) => formatCell(c, delimiter)).join(delimiter)).join('\n') + '\n';
}
