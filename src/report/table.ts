/** Delimited tables (CSV, TSV) written the way spreadsheets and pandas read them back. */

export type Cell = string | number | boolean | null | undefined;

/** Format a number for a table: integers as is, others to `digits` significant digits. */
export function formatNumber(x: number, digits = 6): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Inf' : '-Inf';
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(digits)));
}

function formatCell(cell: Cell, delimiter: string): string {
  if (cell === null || cell === undefined) return '';
  const text = typeof cell === 'number' ? formatNumber(cell) : String(cell);
  if (delimiter === ',' && /[",\n\r]/.test(text)) return `"${text.replace(/"/g, '""')}"`;
  if (delimiter === '\t') return text.replace(/[\t\n\r]/g, ' ');
  return text;
}

/** Rows (first row = header) as CSV or TSV text, newline-terminated. */
export function formatTable(
  rows: readonly (readonly Cell[])[],
  delimiter: ',' | '\t' = ',',
): string {
  return rows.map((r) => r.map((c) => formatCell(c, delimiter)).join(delimiter)).join('\n') + '\n';
}

/** A fixed-width text table for terminals. Numbers are right-aligned. */
export function formatTextTable(rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((r) => r.map((c) => formatCell(c, '\t')));
  const widths = text[0].map((_, c) => Math.max(...text.map((r) => (r[c] ?? '').length)));
  return (
    text
      .map((r, ri) =>
        r
          .map((cell, c) =>
            ri > 0 && typeof rows[ri][c] === 'number'
              ? cell.padStart(widths[c])
              : cell.padEnd(widths[c]),
          )
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}
