/** The ranked region table and the bar chart of the top regions (plain DOM and SVG). */
import { percentPoints } from '../../src/report/table.js';
import type { ViewRegionRow } from '../../src/view/manifest-types.js';

export const fmt = (x: number | undefined, digits = 3): string =>
  x === undefined || !Number.isFinite(x)
    ? ''
    : Math.abs(x) >= 1e-3 || x === 0
      ? x.toPrecision(digits)
      : x.toExponential(1);

interface Column {
  head: string;
  title: string;
  cell: (r: ViewRegionRow) => string;
  present: (rows: ViewRegionRow[]) => boolean;
  className?: string;
}

const has = (key: keyof ViewRegionRow) => (rows: ViewRegionRow[]) =>
  rows.some((r) => r[key] !== undefined && Number.isFinite(r[key] as number));

const COLUMNS: Column[] = [
  { head: '#', title: 'rank', cell: (r) => String(r.rank), present: () => true },
  {
    head: 'region',
    title: 'atlas region',
    cell: (r) => r.name,
    present: () => true,
    className: 'name',
  },
  { head: 'score', title: 'score', cell: (r) => fmt(r.score), present: () => true },
  {
    head: '95% CI',
    title: 'bootstrap 95% confidence interval of the score',
    // One subject gives no interval (its bootstrap has nothing to resample).
    cell: (r) =>
      r.ciLow === undefined
        ? ''
        : r.nSubjects === 1
          ? '–'
          : `${fmt(r.ciLow, 2)}–${fmt(r.ciHigh, 2)}`,
    present: has('ciLow'),
  },
  {
    head: 'top10',
    title: 'fraction of subjects with the region in their top 10',
    cell: (r) => fmt(r.top10Fraction, 2),
    present: has('top10Fraction'),
  },
  {
    head: 'Δ share',
    title:
      'the region’s share of each subject’s evidence (scores divided by their sum): cohort mean minus control mean, in percentage points',
    cell: (r) => (r.difference === undefined ? '' : percentPoints(r.difference)),
    present: has('difference'),
  },
  { head: 'p', title: 'permutation p', cell: (r) => fmt(r.p, 2), present: has('p') },
  { head: 'q', title: 'Benjamini–Hochberg q', cell: (r) => fmt(r.q, 2), present: has('q') },
  {
    head: 'shadow Δ',
    title: 'P(y | shadow) − P(y | I)',
    cell: (r) => fmt(r.shadowDelta, 2),
    present: has('shadowDelta'),
  },
];

/** Fill the table; `onPick(row)` is called when a row is clicked. `scoreHead` names the score
 *  column (the control group's table ranks by its own score). */
export function renderTable(
  table: HTMLTableElement,
  rows: ViewRegionRow[],
  selected: number | null,
  onPick: (row: ViewRegionRow) => void,
  scoreHead = 'score',
): void {
  const columns = COLUMNS.filter((c) => c.present(rows)).map((c) =>
    c.head === 'score' ? { ...c, head: scoreHead, title: scoreHead } : c,
  );
  const head = document.createElement('tr');
  for (const c of columns) {
    const th = document.createElement('th');
    th.textContent = c.head;
    th.title = c.title;
    if (c.className) th.className = c.className;
    head.append(th);
  }
  table.tHead!.replaceChildren(head);
  const body = table.tBodies[0];
  body.replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.index = String(r.index);
      if (r.index === selected) tr.classList.add('selected');
      for (const c of columns) {
        const td = document.createElement('td');
        td.textContent = c.cell(r);
        if (c.className) td.className = c.className;
        tr.append(td);
      }
      tr.addEventListener('click', () => onPick(r));
      return tr;
    }),
  );
}

/** Mark the selected row (and scroll it into view when asked). */
export function markRow(table: HTMLTableElement, index: number | null, scroll = false): void {
  for (const tr of table.tBodies[0].rows) {
    const on = tr.dataset.index === String(index);
    tr.classList.toggle('selected', on);
    if (on && scroll) tr.scrollIntoView({ block: 'nearest' });
  }
}

const SVG = 'http://www.w3.org/2000/svg';

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

export interface ChartGeometry {
  width: number;
  rowHeight: number;
  labelWidth: number;
}

/** What the chart shows: its title and how many bars (0: the title alone, when the rows are no
 *  ranking). */
export interface ChartSpec {
  title: string;
  bars: number;
}

/** A bootstrap interval worth drawing (one subject gives none). */
const hasCi = (r: ViewRegionRow): r is ViewRegionRow & { ciLow: number; ciHigh: number } =>
  r.ciLow !== undefined && r.ciHigh !== undefined && r.nSubjects !== 1;

/** Horizontal bars of the top rows (score, with CI whiskers when the table has them). */
export function drawChart(
  svg: SVGSVGElement,
  rows: ViewRegionRow[],
  selected: number | null,
  onPick: (row: ViewRegionRow) => void,
  spec: ChartSpec,
): void {
  const n = spec.bars;
  const top = rows.slice(0, n);
  const width = Math.max(svg.clientWidth, 400);
  const rowHeight = 20;
  const labelWidth = 170;
  const height = 24 + rowHeight * top.length;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('height', String(height));
  const max = Math.max(...top.map((r) => r.ciHigh ?? r.score), 1e-12);
  const scale = (v: number) => ((width - labelWidth - 60) * Math.max(v, 0)) / max;
  const children: SVGElement[] = [
    el('text', { x: 0, y: 14, 'font-weight': 600 }),
    el('line', { class: 'axis', x1: labelWidth, x2: labelWidth, y1: 20, y2: height }),
  ];
  children[0].textContent = spec.title.replace('{n}', String(top.length));
  top.forEach((r, i) => {
    const y = 24 + i * rowHeight;
    const label = el('text', { x: labelWidth - 6, y: y + 13, 'text-anchor': 'end' });
    label.textContent = `${r.rank}. ${r.name}`;
    const bar = el('rect', {
      class: r.index === selected ? 'bar selected' : 'bar',
      x: labelWidth,
      y: y + 3,
      width: Math.max(scale(r.score), 1),
      height: rowHeight - 6,
      'data-index': r.index,
    });
    bar.addEventListener('click', () => onPick(r));
    const value = el('text', { x: labelWidth + scale(r.ciHigh ?? r.score) + 6, y: y + 13 });
    value.textContent = fmt(r.score);
    children.push(label, bar, value);
    if (hasCi(r)) {
      children.push(
        el('line', {
          class: 'ci',
          x1: labelWidth + scale(r.ciLow),
          x2: labelWidth + scale(r.ciHigh),
          y1: y + rowHeight / 2,
          y2: y + rowHeight / 2,
        }),
      );
    }
  });
  svg.replaceChildren(...children);
}

/** The same chart on a 2-D canvas, for saved figures. */
export function paintChart(
  ctx: CanvasRenderingContext2D,
  rows: ViewRegionRow[],
  x0: number,
  y0: number,
  width: number,
  scale: number,
  selected: number | null,
  spec: ChartSpec,
): number {
  const n = spec.bars;
  const top = rows.slice(0, n);
  const rowHeight = 20 * scale;
  const labelWidth = 190 * scale;
  const max = Math.max(...top.map((r) => r.ciHigh ?? r.score), 1e-12);
  const len = (v: number) => ((width - labelWidth - 70 * scale) * Math.max(v, 0)) / max;
  ctx.save();
  ctx.font = `${12 * scale}px sans-serif`;
  ctx.textBaseline = 'middle';
  ctx.fillStyle = '#e6e6e6';
  ctx.fillText(spec.title.replace('{n}', String(top.length)), x0, y0 + 10 * scale);
  top.forEach((r, i) => {
    const y = y0 + 24 * scale + i * rowHeight;
    ctx.fillStyle = '#e6e6e6';
    ctx.textAlign = 'right';
    ctx.fillText(`${r.rank}. ${r.name}`, x0 + labelWidth - 6 * scale, y + rowHeight / 2);
    ctx.fillStyle = r.index === selected ? '#35c9e8' : '#e8833a';
    ctx.fillRect(x0 + labelWidth, y + 3 * scale, Math.max(len(r.score), 1), rowHeight - 6 * scale);
    if (hasCi(r)) {
      ctx.strokeStyle = '#e6e6e6';
      ctx.beginPath();
      ctx.moveTo(x0 + labelWidth + len(r.ciLow), y + rowHeight / 2);
      ctx.lineTo(x0 + labelWidth + len(r.ciHigh), y + rowHeight / 2);
      ctx.stroke();
    }
    ctx.fillStyle = '#e6e6e6';
    ctx.textAlign = 'left';
    ctx.fillText(
      fmt(r.score),
      x0 + labelWidth + len(r.ciHigh ?? r.score) + 6 * scale,
      y + rowHeight / 2,
    );
  });
  ctx.restore();
  return 24 * scale + rowHeight * top.length;
}

/** A per-subject table (TSV in atlas order, all σ) → ranked rows of one σ. */
export function rankSubjectTable(text: string, sigmaMm: number): ViewRegionRow[] {
  const [head, ...lines] = text.trim().split(/\r?\n/);
  const cols = new Map(head.split('\t').map((h, i) => [h, i]));
  const get = (c: string[], name: string) => c[cols.get(name) ?? -1];
  const rows = lines
    .map((l) => l.split('\t'))
    .filter((c) => Number(get(c, 'sigma_mm')) === sigmaMm)
    .map((c): ViewRegionRow => ({
      sigmaMm,
      rank: 0,
      index: Number(get(c, 'index')),
      name: get(c, 'name'),
      hemisphere: get(c, 'hemisphere'),
      score: Number(get(c, 'score')),
      shadowDelta: Number(get(c, 'shadow_delta')),
      pointMm: [
        Number(get(c, 'search_x_mm')),
        Number(get(c, 'search_y_mm')),
        Number(get(c, 'search_z_mm')),
      ],
      pointKind: 'search',
    }));
  rows.sort((a, b) => b.score - a.score || a.index - b.index);
  rows.forEach((r, i) => (r.rank = i + 1));
  return rows;
}
