/** Delimited tables (CSV, TSV) written the way spreadsheets and pandas read them back. */

export type Cell = string | number | boolean | null | undefined;

/** Format a number for a table: integers as is, others to `digits` significant digits. */
export function formatNumber(x: number, digits = 6): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Inf' : '-Inf';
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(digits)));
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
