/**
 * Region names files: which label value means which region.
 *
 * Accepted forms (format chosen from the first non-comment line):
 * - whitespace text, one region a line: `index name [anything]` (MRIcron's `aal.nii.txt`);
 *   the name is the second token, the rest of the line is ignored;
 * - TSV or CSV (a tab or comma on the first line), with or without a header row. A header
 *   names an index column (`index`, `label`, `id`, `value`, `idx`, `label_id`, `label_index`)
 *   and a name column (`name`, `label_name`, `region`, `region_name`, `structure`); when the
 *   header has `label` next to another index column (`index  label`), `label` is the name.
 *   Without a header the first column is the index and the second the name.
 *
 * Blank lines and lines starting with `#` are skipped; a UTF-8 BOM and CRLF endings are fine.
 * Index 0 is the background in every label image: a line naming it is skipped with a note.
 */
import { readFile } from 'node:fs/promises';
import { AtlasError } from '../errors.js';

export interface NameEntry {
  /** The label value in the atlas volume (a positive integer). */
  index: number;
  name: string;
  /** 1-based line in the names file, for messages. */
  line: number;
}

export type NamesFormat = 'whitespace' | 'tsv' | 'csv';

export interface NamesTable {
  /** The file (or other source) the names came from, for messages. */
  source: string;
  format: NamesFormat;
  /** Entries in file order, each index once. */
  entries: NameEntry[];
  /** Things skipped while reading (e.g. a background line for index 0). */
  notes: string[];
}

const INDEX_HEADERS = ['index', 'id', 'value', 'idx', 'label_id', 'label_index', 'label'];
const NAME_HEADERS = ['name', 'label_name', 'region', 'region_name', 'structure', 'labelname'];

/** Read a names file from disk; every problem is an AtlasError naming the file. */
export async function readNames(path: string): Promise<NamesTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new AtlasError(
      `${path}: cannot read the names file (${(e as NodeJS.ErrnoException).code ?? e}).`,
    );
  }
  return parseNames(text, path);
}

/** Parse the text of a names file. `source` names the file in error messages. */
export function parseNames(text: string, source: string): NamesTable {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  const content = lines
    .map((raw, i) => ({ text: raw.trim(), line: i + 1 }))
    .filter((l) => l.text !== '' && !l.text.startsWith('#'));
  if (content.length === 0) {
    throw new AtlasError(
      `${source}: the names file is empty; expected lines "index name", or a TSV/CSV table with index and name columns.`,
    );
  }
  const first = content[0];
  const format: NamesFormat = first.text.includes('\t')
    ? 'tsv'
    : first.text.includes(',')
      ? 'csv'
      : 'whitespace';
  const split = splitter(format);

  let indexCol = 0;
  let nameCol = 1;
  let rows = content;
  const firstFields = split(first.text);
  if (!isIntegerToken(firstFields[0] ?? '')) {
    const header = findHeaderColumns(firstFields);
    if (!header) {
      throw new AtlasError(
        `${source}, line ${first.line}: expected an integer index or a header row with index and name columns (index/label/id/value and name/label_name/region); got "${first.text}".`,
      );
    }
    ({ indexCol, nameCol } = header);
    rows = content.slice(1);
  }

  const entries: NameEntry[] = [];
  const notes: string[] = [];
  const seen = new Map<number, NameEntry>();
  for (const row of rows) {
    const fields = split(row.text);
    const where = `${source}, line ${row.line}`;
    const rawIndex = (fields[indexCol] ?? '').trim();
    if (rawIndex === '') throw new AtlasError(`${where}: the index is missing.`);
    if (!isIntegerToken(rawIndex)) {
      throw new AtlasError(`${where}: the index "${rawIndex}" is not an integer.`);
    }
    const index = Number(rawIndex);
    if (index < 0) throw new AtlasError(`${where}: the index ${index} is negative.`);
    const name = (fields[nameCol] ?? '').trim();
    if (name === '') throw new AtlasError(`${where}: index ${index} has no name.`);
    if (index === 0) {
      notes.push(`${where}: index 0 ("${name}") is the background, not a region; skipped.`);
      continue;
    }
    const before = seen.get(index);
    if (before) {
      throw new AtlasError(
        `${where}: index ${index} ("${name}") is already named on line ${before.line} ("${before.name}"); each index may appear once.`,
      );
    }
    const entry = { index, name, line: row.line };
    seen.set(index, entry);
    entries.push(entry);
  }
  if (entries.length === 0) {
    throw new AtlasError(`${source}: the names file has a header but no regions.`);
  }
  return { source, format, entries, notes };
}

export interface NamesCheck {
  /** Entries that have voxels, in index order. */
  kept: NameEntry[];
  /** Entries without voxels, left out. */
  dropped: NameEntry[];
  notes: string[];
}

/**
 * Match names to the labels present in a volume (`voxelsPerLabel`: label → voxel count, 0 left
 * out). A label with voxels but no name is an error (the atlas and names file do not belong
 * together, or the names file is incomplete); names without voxels are dropped with a note,
 * since atlases are often shipped with names for regions a given grid does not contain.
 */
export function checkNamesAgainstLabels(
  names: NamesTable,
  voxelsPerLabel: ReadonlyMap<number, number>,
  labelsSource: string,
): NamesCheck {
  const named = new Set(names.entries.map((e) => e.index));
  const unnamed = [...voxelsPerLabel.keys()]
    .filter((l) => l !== 0 && !named.has(l) && (voxelsPerLabel.get(l) ?? 0) > 0)
    .sort((a, b) => a - b);
  if (unnamed.length > 0) {
    const shown = unnamed.slice(0, 10).join(', ');
    const more = unnamed.length > 10 ? ` and ${unnamed.length - 10} more` : '';
    throw new AtlasError(
      `${labelsSource}: ${unnamed.length} label value(s) in the volume have no name in ${names.source}: ${shown}${more}. Add a line for each to the names file, or check that the names file belongs to this atlas.`,
    );
  }
  const kept: NameEntry[] = [];
  const dropped: NameEntry[] = [];
  for (const e of names.entries) ((voxelsPerLabel.get(e.index) ?? 0) > 0 ? kept : dropped).push(e);
  kept.sort((a, b) => a.index - b.index);
  const notes = [...names.notes];
  if (dropped.length > 0) {
    const shown = dropped
      .slice(0, 10)
      .map((e) => `${e.name} (${e.index})`)
      .join(', ');
    const more = dropped.length > 10 ? ` and ${dropped.length - 10} more` : '';
    notes.push(
      `${names.source}: ${dropped.length} named region(s) have no voxels in ${labelsSource} and were left out: ${shown}${more}.`,
    );
  }
  return { kept, dropped, notes };
}

function isIntegerToken(s: string): boolean {
  return /^[+-]?\d+$/.test(s.trim());
}

function normaliseHeader(s: string): string {
  return s
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
}

function findHeaderColumns(fields: string[]): { indexCol: number; nameCol: number } | undefined {
  const h = fields.map(normaliseHeader);
  let nameCol = NAME_HEADERS.map((n) => h.indexOf(n)).find((i) => i >= 0) ?? -1;
  const indexCol =
    INDEX_HEADERS.map((n) => h.indexOf(n)).find((i) => i >= 0 && i !== nameCol) ?? -1;
  // "index  label": `label` is the index column only when nothing else is.
  if (nameCol < 0 && indexCol >= 0 && h[indexCol] !== 'label') nameCol = h.indexOf('label');
  if (indexCol < 0 || nameCol < 0) return undefined;
  return { indexCol, nameCol };
}

function splitter(format: NamesFormat): (line: string) => string[] {
  if (format === 'whitespace') return (line) => line.split(/\s+/);
  if (format === 'tsv') return (line) => line.split('\t').map(unquote);
  return splitCsvLine;
}

function unquote(s: string): string {
  const t = s.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"')
    ? t.slice(1, -1).replace(/""/g, '"')
    : t;
}

/** One CSV record on one line (RFC 4180 quoting; fields spanning lines are not supported). */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"' && field.trim() === '') {
      quoted = true;
      field = '';
    } else if (c === ',') {
      out.push(field.trim());
      field = '';
    } else {
      field += c;
    }
  }
  out.push(field.trim());
  return out;
}
