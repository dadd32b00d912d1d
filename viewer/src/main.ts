/**
 * glas3d's results viewer: the saliency map on the template (or the subject's scan), the AAL
 * atlas as a label layer, the ranked region table and a bar chart of the top regions. Talks
 * only to the `glas3d view` server that served it (`api/manifest.json` and the files it lists).
 *
 * Tests drive it through `window.glas3dViewer` (see `ViewerHook`).
 */
import { MULTIPLANAR_TYPE, Niivue, NVImage, SHOW_RENDER } from '@niivue/niivue';
import type {
  ViewerHook,
  ViewerState,
  ViewGroup,
  ViewManifest,
  ViewMap,
  ViewRegionRow,
  ViewSubject,
} from '../../src/view/manifest-types.js';
import { remakeHint, resultPathOf } from '../../src/view/fixes.js';
import { readableColorbarTicks } from './colorbar.js';
import { skipGradientPasses } from './gradient.js';
import {
  drawChart,
  fmt,
  markRow,
  paintChart,
  rankSubjectTable,
  renderTable,
  type ChartSpec,
} from './regions.js';
import './style.css';

type Vec3 = [number, number, number];
type AtlasMode = ViewerState['atlasMode'];

/** One entry of the map selector: the cohort map of a group, or one subject. */
interface MapChoice {
  key: string;
  label: string;
  /** For messages: `sub-01`, `the control group map`, … */
  name: string;
  group: ViewGroup;
  maps: ViewMap[];
  subject?: ViewSubject;
}

declare global {
  interface Window {
    glas3dViewer: ViewerHook;
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const mapSelect = $<HTMLSelectElement>('map-select');
const sigmaSelect = $<HTMLSelectElement>('sigma-select');
const backgroundSelect = $<HTMLSelectElement>('background-select');
const colormapSelect = $<HTMLSelectElement>('colormap-select');
const thresholdInput = $<HTMLInputElement>('threshold');
const thresholdValue = $<HTMLOutputElement>('threshold-value');
const opacityInput = $<HTMLInputElement>('opacity');
const atlasModeSelect = $<HTMLSelectElement>('atlas-mode');
const table = $<HTMLTableElement>('regions');
const chart = document.getElementById('chart') as unknown as SVGSVGElement;
const canvas = $<HTMLCanvasElement>('gl');

const COLORMAPS = ['warm', 'hot', 'plasma', 'viridis', 'inferno', 'red'];

let manifest: ViewManifest;
let choices: MapChoice[] = [];
let rows: ViewRegionRow[] = [];
/** How the table and chart present `rows`. */
let ranking: { scoreHead: string; chart: ChartSpec } = {
  scoreHead: 'score',
  chart: { title: 'Top {n} regions by score', bars: 10 },
};
/** The σ last asked for: a choice without it shows another σ, with a notice, and the next
 *  choice that has it shows it again. */
let preferredSigma = 0;
/** Why the current choice shows another σ than the one asked for. */
let sigmaNotice: string | undefined;
/** What the error banner shows: files that could not be loaded, failed updates. */
const problems: ReturnType<ViewerHook['problems']> = [];
const colorbarLabels: string[] = [];
let figureText: ReturnType<ViewerHook['figureText']> = { lines: [], width: 0 };
let regionNames = new Map<number, string>();
const state: ViewerState = {
  map: '',
  sigmaMm: 0,
  background: 'template',
  colormap: 'warm',
  threshold: 0.3,
  opacity: 0.75,
  atlasMode: 'outline',
  selected: null,
  overlayUrl: '',
  backgroundUrl: '',
};

const nv = new Niivue({
  backColor: [0.06, 0.07, 0.08, 1],
  crosshairColor: [0.2, 0.85, 0.95, 0.9],
  crosshairWidth: 0.5,
  isColorbar: true,
  show3Dcrosshair: false,
  multiplanarShowRender: SHOW_RENDER.NEVER,
  multiplanarLayout: MULTIPLANAR_TYPE.ROW,
  dragAndDropEnabled: false,
  isOrientCube: false,
  logLevel: 'error',
  loadingText: 'loading',
});

// ---------------------------------------------------------------- images

const images = new Map<string, Promise<NVImage>>();
const maxima = new WeakMap<NVImage, number>();
let atlasImage: NVImage | undefined;
/** The saliency layer on screen (none when its file could not be read). */
let overlayImage: NVImage | undefined;

/** A file the page could not load: the message names it (in the results folder) and the fix. */
class LoadError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    const file = resultPathOf(url);
    super(
      file === undefined
        ? `cannot load ${url}: ${reason}`
        : `${file} (in the results folder) cannot be read: ${reason}; ${remakeHint(file, manifest.kind)}`,
    );
  }
}

function loadImage(url: string, options: Record<string, unknown> = {}): Promise<NVImage> {
  let p = images.get(url);
  if (!p) {
    // A failure stays cached too: a damaged file is reported, not fetched again on every view.
    p = NVImage.loadFromUrl({ url, ...options }).catch((e: unknown) => {
      throw new LoadError(url, String((e as Error).message ?? e).replace(/\.$/, ''));
    });
    images.set(url, p);
  }
  return p;
}

function maxOf(image: NVImage): number {
  let m = maxima.get(image);
  if (m === undefined) {
    m = 0;
    const img = image.img as ArrayLike<number>;
    for (let i = 0; i < img.length; i++) if (img[i] > m) m = img[i];
    const slope = image.hdr?.scl_slope || 1;
    m = m * slope + (image.hdr?.scl_inter ?? 0);
    maxima.set(image, m);
  }
  return m;
}

/** Distinct, stable colours for the labels (golden-angle hues). */
function labelColour(index: number): Vec3 {
  const h = (index * 137.508) % 360;
  const s = 0.65;
  const l = 0.55;
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1));
  return [f(0), f(8), f(4)].map((v) => Math.round(v * 255)) as Vec3;
}

/** The atlas layer's lookup table for a display mode, with the selected region set apart. */
function atlasLut(mode: AtlasMode, active: number | null) {
  const max = Math.max(...manifest.atlas.regions.map((r) => r.index));
  const R: number[] = [];
  const G: number[] = [];
  const B: number[] = [];
  const A: number[] = [];
  const I: number[] = [];
  const labels: string[] = [];
  for (let i = 0; i <= max; i++) {
    const isActive = i === active;
    const [r, g, b] = isActive
      ? [53, 201, 232]
      : mode === 'outline'
        ? [215, 215, 215]
        : labelColour(i);
    R.push(r);
    G.push(g);
    B.push(b);
    // Outline mode: only the selected region is filled; the others show their borders alone.
    A.push(i === 0 ? 0 : mode === 'outline' && !isActive ? 0 : 255);
    I.push(i);
    labels.push(regionNames.get(i) ?? '');
  }
  return { R, G, B, A, I, labels };
}

/** Style the atlas layer for the current mode and selection; the caller updates the views
 *  (nv.setAtlasOutline would rebuild every layer texture once more on its own). */
function styleAtlas(): void {
  if (!atlasImage) return;
  atlasImage.setColormapLabel(atlasLut(state.atlasMode, state.selected));
  atlasImage.colorbarVisible = false;
  atlasImage.opacity = state.atlasMode === 'off' ? 0 : state.atlasMode === 'outline' ? 0.45 : 0.3;
  nv.opts.atlasOutline = state.atlasMode === 'outline' ? 0.55 : 0;
}

/**
 * Display units per unit of the map, for each overlay (1 when unscaled). NiiVue 0.69's overlay
 * shader divides by `max(0.00001, cal_max - cal_min)`, so a map whose values are ~1e-7 (a
 * subject's saliency) maps every voxel above the threshold to the colormap's first entry.
 * Such a map is shown scaled by a power of ten that brings its maximum into [1, 10): the scale
 * goes into the image's scl_slope/scl_inter in memory (the file is untouched, the texture
 * holds the same raw values), and everything the page writes (maximum, colour-bar labels) is
 * divided by it again, so it reads in the map's own units.
 */
const displayScales = new WeakMap<NVImage, number>();

function displayScaleOf(image: NVImage): number {
  let k = displayScales.get(image);
  if (k === undefined) {
    const max = maxOf(image); // the map's own units: computed (and cached) before scaling
    k = max > 0 && max < 1 && Number.isFinite(max) ? 10 ** -Math.floor(Math.log10(max)) : 1;
    if (k !== 1 && image.hdr) {
      image.hdr.scl_slope = (image.hdr.scl_slope || 1) * k;
      image.hdr.scl_inter = (image.hdr.scl_inter ?? 0) * k;
      // NiiVue's own range (used if it recomputes cal_min/cal_max) follows the new scale.
      image.calMinMax();
    }
    displayScales.set(image, k);
  }
  return k;
}

function styleOverlay(overlay: NVImage): void {
  const k = displayScaleOf(overlay);
  const max = maxOf(overlay) * k;
  // NiiVue recomputes the image's intensity range on every colormap assignment.
  if (overlay.colormap !== state.colormap) overlay.colormap = state.colormap;
  overlay.opacity = state.opacity;
  overlay.cal_max = max;
  overlay.cal_min = Math.max(state.threshold, 0.001) * max;
  overlay.colorbarVisible = true;
}

// ---------------------------------------------------------------- choices

const currentChoice = (): MapChoice => choices.find((c) => c.key === state.map) ?? choices[0];

function currentMap(): ViewMap {
  const c = currentChoice();
  return c.maps.find((m) => m.sigmaMm === state.sigmaMm) ?? c.maps[0];
}

function buildChoices(): MapChoice[] {
  const list: MapChoice[] = [];
  for (const group of ['cohort', 'control'] as const) {
    const maps = manifest.cohortMaps.filter((m) => m.group === group);
    if (maps.length > 0) {
      list.push({
        key: `cohort:${group}`,
        label: `${group === 'cohort' ? 'Cohort' : 'Control group'} map (n=${maps[0].n})`,
        name: `the ${group === 'cohort' ? 'cohort' : 'control group'} map`,
        group,
        maps,
      });
    }
  }
  for (const s of manifest.subjects) {
    if (s.maps.length === 0) continue;
    const p =
      s.probability === undefined
        ? ''
        : s.rawOutput
          ? ` · output=${s.probability.toPrecision(4)}`
          : ` · P=${s.probability.toFixed(3)}`;
    const prefix = s.group === 'control' ? 'control ' : '';
    const name = manifest.kind === 'run' ? `${prefix}sub-${s.id}` : s.id;
    list.push({
      key: `subject:${s.group}:${s.id}`,
      label: `${name}${p}${s.warnings ? ' · ⚠ see notes' : ''}`,
      name,
      group: s.group,
      maps: s.maps,
      subject: s,
    });
  }
  return list;
}

function fillSelect(select: HTMLSelectElement, options: [string, string][], value: string): void {
  select.replaceChildren(
    ...options.map(([v, text]) => {
      const o = document.createElement('option');
      o.value = v;
      o.textContent = text;
      return o;
    }),
  );
  select.value = value;
}

function refreshSelectors(): void {
  fillSelect(
    mapSelect,
    choices.map((c) => [c.key, c.label]),
    state.map,
  );
  const sigmas = currentChoice().maps.map((m) => m.sigmaMm);
  fillSelect(
    sigmaSelect,
    sigmas.map((s) => [String(s), `${s} mm`]),
    String(state.sigmaMm),
  );
  $('sigma-label').hidden = sigmas.length < 2;
  const source = currentChoice().subject?.sourceUrl;
  if (!source && state.background === 'source') state.background = 'template';
  const grid = manifest.grid.voxelMm.map((v) => Number(v.toFixed(2))).join('×');
  const options: [string, string][] = [];
  if (manifest.atlas.templateUrl) options.push(['template', `Template (${grid} mm, model grid)`]);
  if (manifest.atlas.templateFineUrl) options.push(['fine', 'Template (full resolution, slower)']);
  if (source) options.push(['source', 'Subject scan']);
  fillSelect(backgroundSelect, options, state.background);
}

// ---------------------------------------------------------------- table rows

const subjectTables = new Map<string, Promise<string>>();

const FLAT_CHART: ChartSpec = {
  title:
    'No ranking: the explanations are flat, the table’s order is rounding noise (not evidence)',
  bars: 0,
};

/** The control group's rows: the cohort table ranked by control_score (the cohort's interval
 *  and top-10 fraction do not apply). */
function controlRows(cohort: ViewRegionRow[]): ViewRegionRow[] {
  const out = cohort.map(
    ({
      sd: _sd,
      ciLow: _l,
      ciHigh: _h,
      top10Fraction: _t,
      nSubjects: _n,
      ...r
    }): ViewRegionRow => ({
      ...r,
      score: r.controlScore!,
    }),
  );
  out.sort((a, b) => b.score - a.score || a.index - b.index);
  out.forEach((r, i) => (r.rank = i + 1));
  return out;
}

/** The rows of the group table for a group map, and how to present them. */
function groupRows(group: ViewGroup, sigmaMm: number): ViewRegionRow[] {
  const cohort = manifest.regions.filter((r) => r.sigmaMm === sigmaMm);
  const byControl = group === 'control' && cohort.some((r) => r.controlScore !== undefined);
  ranking = {
    scoreHead: byControl ? 'control score' : 'score',
    chart: manifest.flatGroups?.includes(group)
      ? FLAT_CHART
      : {
          title:
            group === 'cohort'
              ? 'Top {n} regions by score'
              : byControl
                ? 'Top {n} regions by the control group’s score (control_score)'
                : 'Top {n} regions by the cohort’s score (regions.csv has no control_score)',
          bars: 10,
        },
  };
  return byControl ? controlRows(cohort) : cohort;
}

async function rowsFor(choice: MapChoice, sigmaMm: number): Promise<ViewRegionRow[]> {
  const url = choice.subject?.regionsUrl;
  if (!choice.subject) return groupRows(choice.group, sigmaMm);
  ranking = { scoreHead: 'score', chart: { title: 'Top {n} regions by score', bars: 10 } };
  if (!url) return manifest.regions.filter((r) => r.sigmaMm === sigmaMm);
  let text = subjectTables.get(url);
  if (!text) {
    text = fetch(url).then((r) => {
      if (!r.ok) throw new LoadError(url, `HTTP ${r.status}`);
      return r.text();
    });
    text.catch(() => subjectTables.delete(url));
    subjectTables.set(url, text);
  }
  return rankSubjectTable(await text, sigmaMm);
}

function showRows(): void {
  renderTable(table, rows, state.selected, (r) => pickRegion(r, false), ranking.scoreHead);
  drawChart(chart, rows, state.selected, (r) => pickRegion(r, true), ranking.chart);
}

// ---------------------------------------------------------------- notices and problems

/** What the current choice's figure and notice box must say: flat explanations, a table that
 *  is not the map's own ranking, a σ shown instead of the one asked for. */
function notices(): string[] {
  const choice = currentChoice();
  const list: string[] = [];
  if (!choice.subject && manifest.flatGroups?.includes(choice.group)) {
    const who = choice.group === 'cohort' ? 'cohort' : 'control';
    list.push(
      `No ranking: every ${who} subject’s explanation is flat, so the table’s order is rounding noise, not evidence (see the notes below).`,
    );
  }
  if (
    !choice.subject &&
    choice.group === 'control' &&
    !manifest.regions.some((r) => r.controlScore !== undefined)
  ) {
    list.push(
      'The table and chart are the cohort’s ranking: regions.csv has no control_score (rerun glas3d run to add it).',
    );
  }
  for (const w of choice.subject?.warnings ?? []) list.push(`⚠ ${choice.name}: ${w}`);
  if (sigmaNotice) list.push(sigmaNotice);
  return list;
}

function showNotices(): void {
  const box = $('notice');
  const list = notices();
  box.hidden = list.length === 0;
  box.replaceChildren(
    ...list.map((n) => Object.assign(document.createElement('p'), { textContent: n })),
  );
}

/** Why `choice` has no map at `sigmaMm`: the file that is missing, and the fix. */
function missingSigma(choice: MapChoice, sigmaMm: number): string {
  const missing = choice.subject?.missingMaps?.find((m) => m.sigmaMm === sigmaMm);
  return missing
    ? `${choice.name} has no σ = ${sigmaMm} mm map: ${missing.file} is missing; ${remakeHint(missing.file, manifest.kind)}.`
    : choice.subject
      ? `${choice.name} has no σ = ${sigmaMm} mm map.`
      : `${choice.name} has no σ = ${sigmaMm} mm map (its file is missing); ${remakeHint('', manifest.kind)}.`;
}

function renderProblems(): void {
  const box = $('error');
  box.hidden = problems.length === 0;
  box.replaceChildren(
    ...problems.map((p) =>
      Object.assign(document.createElement('p'), { textContent: `Error: ${p.message}` }),
    ),
  );
}

/** A new view: what went wrong with the previous one no longer applies. */
function clearProblems(): void {
  problems.length = 0;
  renderProblems();
}

// ---------------------------------------------------------------- views

let queue: Promise<void> = Promise.resolve();

/** Run view updates one at a time, in order. */
function enqueue(task: () => Promise<void>): Promise<void> {
  const next = queue.then(task);
  queue = next.catch((e: unknown) => showError(e));
  return next;
}

const frame = () => new Promise<void>((r) => requestAnimationFrame(() => r()));

/** Settles once what was drawn before the call is on screen (composited): after two frames. */
const presented = () => frame().then(frame);

function backgroundUrl(): string {
  return (
    (state.background === 'source' && currentChoice().subject?.sourceUrl) ||
    (state.background === 'fine' && manifest.atlas.templateFineUrl) ||
    manifest.atlas.templateUrl ||
    manifest.atlas.labelsUrl
  );
}

/** Start fetching and decoding the current choice's images (they are cached by URL). */
function prefetchLayers(): void {
  for (const p of [
    loadImage(backgroundUrl(), { colormap: 'gray' }),
    loadImage(currentMap().url, { colormap: state.colormap }),
    loadImage(manifest.atlas.labelsUrl),
  ]) {
    p.catch(() => undefined); // reported where it is awaited
  }
}

/**
 * Show the current choice: background, saliency overlay and — unless `withAtlas` is false —
 * the atlas label layer, with one texture rebuild (updateGLVolume) for all of them. Every layer
 * costs a pass over the volume in software WebGL, so the first image goes up without the atlas.
 */
async function applyLayers(withAtlas = true): Promise<void> {
  const map = currentMap();
  const choice = currentChoice();
  const bgUrl = backgroundUrl();
  const keep = nv.volumes.length > 0 ? crosshairMm() : null;
  const [background, loaded, atlas] = await Promise.all([
    loadImage(bgUrl, { colormap: 'gray' }),
    // A map that cannot be read leaves the brain, the atlas and the table on screen.
    loadImage(map.url, { colormap: state.colormap }).catch((e: unknown) => {
      showError(e);
      return undefined;
    }),
    withAtlas ? loadImage(manifest.atlas.labelsUrl) : undefined,
  ]);
  const overlay = loaded;
  background.colorbarVisible = false;
  atlasImage = atlas;
  overlayImage = overlay;
  if (overlay) styleOverlay(overlay);
  styleAtlas();
  state.overlayUrl = map.url;
  state.backgroundUrl = bgUrl;
  const volumes = [background, overlay, atlas].filter((v): v is NVImage => v !== undefined);
  nv.volumes = volumes;
  nv.back = background;
  nv.overlays = volumes.slice(1);
  nv.updateGLVolume();
  if (keep) setCrosshairMm(keep);
  const info = [
    choice.label,
    `σ = ${map.sigmaMm} mm`,
    overlay ? `max ${fmt(maxOf(overlay))}` : 'map not shown (see the error above)',
    manifest.targetClass === undefined ? '' : `class ${manifest.targetClass}`,
  ];
  $('map-info').textContent = info.filter(Boolean).join(' · ');
  showNotices();
  await frame();
}

async function applyTable(): Promise<void> {
  rows = await rowsFor(currentChoice(), state.sigmaMm);
  showRows();
}

function crosshairMm(): Vec3 {
  const mm = nv.frac2mm(nv.scene.crosshairPos);
  return [mm[0], mm[1], mm[2]];
}

function setCrosshairMm(mm: Vec3): void {
  nv.scene.crosshairPos = nv.mm2frac(mm);
  nv.drawScene();
  showCrosshair(mm);
}

function regionAt(mm: Vec3): { index: number; name: string } | null {
  if (!atlasImage) return null;
  const vox = atlasImage.mm2vox(mm);
  const dims = atlasImage.hdr!.dims;
  if ([0, 1, 2].some((a) => vox[a] < 0 || vox[a] >= dims[a + 1])) return null;
  const index = Math.round(atlasImage.getValue(vox[0], vox[1], vox[2]));
  if (!Number.isFinite(index) || index <= 0) return null;
  return { index, name: regionNames.get(index) ?? `label ${index}` };
}

function showCrosshair(mm: Vec3): void {
  $('crosshair-region').textContent = regionAt(mm)?.name ?? 'outside the atlas';
  $('crosshair-mm').textContent = `(${mm.map((v) => v.toFixed(1)).join(', ')}) mm`;
}

/** Select a region: crosshair to its search point (or centre), highlight it in the atlas. */
function pickRegion(row: ViewRegionRow, scroll: boolean): void {
  state.selected = row.index;
  nv.scene.crosshairPos = nv.mm2frac(row.pointMm);
  showCrosshair(row.pointMm);
  styleAtlas();
  nv.updateGLVolume(); // draws the scene too
  markRow(table, row.index, scroll);
  for (const bar of chart.querySelectorAll('.bar')) {
    bar.classList.toggle('selected', bar.getAttribute('data-index') === String(row.index));
  }
}

function selectRegion(index: number): void {
  const row =
    rows.find((r) => r.index === index) ??
    manifest.atlas.regions
      .filter((r) => r.index === index)
      .map((r): ViewRegionRow => ({
        sigmaMm: state.sigmaMm,
        rank: 0,
        index,
        name: r.name,
        hemisphere: r.hemisphere,
        score: NaN,
        pointMm: r.searchPointMm,
        pointKind: 'search',
      }))[0];
  if (row) pickRegion(row, true);
}

function mmToClient(mm: Vec3): [number, number] | null {
  const pos = nv.frac2canvasPos(nv.mm2frac(mm));
  if (!pos) return null;
  const rect = canvas.getBoundingClientRect();
  const dpr = nv.uiData.dpr ?? window.devicePixelRatio;
  return [rect.left + pos[0] / dpr, rect.top + pos[1] / dpr];
}

// ---------------------------------------------------------------- figure

/** `text` in lines no wider than `width` (words kept whole; a longer word gets its own line). */
function wrap(ctx: CanvasRenderingContext2D, text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const next = line ? `${line} ${word}` : word;
    if (line && ctx.measureText(next).width > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

/** Record every line of text painted on `ctx` (for figureText()): its extent in canvas px. */
function recordText(ctx: CanvasRenderingContext2D, width: number): void {
  figureText = { lines: [], width };
  const fill = ctx.fillText.bind(ctx);
  ctx.fillText = (text: string, x: number, y: number) => {
    const w = ctx.measureText(text).width;
    const left = ctx.textAlign === 'right' ? x - w : ctx.textAlign === 'center' ? x - w / 2 : x;
    figureText.lines.push({ text, x: left, right: left + w });
    fill(text, x, y);
  };
}

function figureCanvas(): HTMLCanvasElement {
  const gl = nv.canvas!;
  const scale = Math.max(1, gl.width / 1200);
  const pad = 12 * scale;
  const lineHeight = 18 * scale;
  const chartHeight = 24 * scale + 20 * scale * Math.min(rows.length, ranking.chart.bars);
  const choice = currentChoice();
  const title = `${manifest.title} — ${choice.label} — σ = ${state.sigmaMm} mm — threshold ${state.threshold.toFixed(2)} × max`;
  // The title and the notices (flat explanations, …) wrap to the figure's width.
  const measure = document.createElement('canvas').getContext('2d')!;
  const titleFont = `600 ${14 * scale}px sans-serif`;
  const noteFont = `${12 * scale}px sans-serif`;
  measure.font = titleFont;
  const titleLines = wrap(measure, title, gl.width - 2 * pad);
  measure.font = noteFont;
  const noteLines = notices().flatMap((n) => wrap(measure, n, gl.width - 2 * pad));
  const top = pad + lineHeight * (titleLines.length + noteLines.length);
  const out = document.createElement('canvas');
  out.width = gl.width;
  out.height = top + gl.height + chartHeight + 2 * pad;
  const ctx = out.getContext('2d')!;
  recordText(ctx, out.width);
  ctx.fillStyle = '#0f1114';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.textBaseline = 'middle';
  let y = pad + lineHeight / 2;
  ctx.fillStyle = '#e6e6e6';
  ctx.font = titleFont;
  for (const line of titleLines) {
    ctx.fillText(line, pad, y);
    y += lineHeight;
  }
  ctx.fillStyle = '#f0b44c';
  ctx.font = noteFont;
  for (const line of noteLines) {
    ctx.fillText(line, pad, y);
    y += lineHeight;
  }
  // The WebGL canvas keeps no drawing buffer: draw, then copy in the same task.
  nv.drawScene();
  ctx.drawImage(gl, 0, top);
  paintChart(
    ctx,
    rows,
    pad,
    top + gl.height + pad,
    out.width - 2 * pad,
    scale,
    state.selected,
    ranking.chart,
  );
  return out;
}

function saveFigure(): void {
  const url = figureCanvas().toDataURL('image/png');
  const a = document.createElement('a');
  const choice = currentChoice();
  const what = choice.subject ? `sub-${choice.subject.id}` : choice.key.replace(':', '-');
  a.href = url;
  a.download = `glas3d_${manifest.title}_${what}_sigma-${state.sigmaMm}.png`;
  document.body.append(a);
  a.click();
  a.remove();
}

// ---------------------------------------------------------------- wiring

function showError(e: unknown): void {
  const message = (e as Error).message ?? String(e);
  const load = e instanceof LoadError ? { url: e.url, reason: e.reason } : {};
  if (!problems.some((p) => p.message === message)) problems.push({ ...load, message });
  renderProblems();
  console.warn(e);
}

async function selectChoice(key: string): Promise<void> {
  const choice = choices.find((c) => c.key === key);
  if (!choice) throw new Error(`no map ${key}`);
  clearProblems();
  state.map = key;
  const has = choice.maps.some((m) => m.sigmaMm === preferredSigma);
  state.sigmaMm = has ? preferredSigma : choice.maps[0].sigmaMm;
  sigmaNotice = has
    ? undefined
    : `${missingSigma(choice, preferredSigma)} Showing σ = ${state.sigmaMm} mm instead.`;
  refreshSelectors();
  await applyLayers();
  await applyTable();
}

/** Show σ = `sigmaMm` (and ask for it on the next choices); refused, with the reason, when the
 *  current choice has no such map: the view never shows another σ under this one's name. */
async function selectSigmaNow(sigmaMm: number): Promise<void> {
  const choice = currentChoice();
  if (!choice.maps.some((m) => m.sigmaMm === sigmaMm))
    throw new Error(missingSigma(choice, sigmaMm));
  clearProblems();
  preferredSigma = state.sigmaMm = sigmaMm;
  sigmaNotice = undefined;
  refreshSelectors();
  await applyLayers();
  await applyTable();
}

function wire(): void {
  mapSelect.addEventListener('change', () => void enqueue(() => selectChoice(mapSelect.value)));
  sigmaSelect.addEventListener(
    'change',
    () => void enqueue(() => selectSigmaNow(Number(sigmaSelect.value))),
  );
  backgroundSelect.addEventListener(
    'change',
    () =>
      void enqueue(async () => {
        clearProblems();
        state.background = backgroundSelect.value as ViewerState['background'];
        await applyLayers();
      }),
  );
  fillSelect(
    colormapSelect,
    COLORMAPS.filter((c) => nv.colormaps().includes(c)).map((c) => [c, c]),
    state.colormap,
  );
  colormapSelect.addEventListener('change', () => {
    state.colormap = colormapSelect.value;
    if (overlayImage) nv.setColormap(overlayImage.id, state.colormap);
  });
  thresholdInput.addEventListener('input', () => void setThreshold(Number(thresholdInput.value)));
  opacityInput.addEventListener('input', () => {
    state.opacity = Number(opacityInput.value);
    if (overlayImage) nv.setOpacity(nv.volumes.indexOf(overlayImage), state.opacity);
  });
  atlasModeSelect.addEventListener('change', () => {
    state.atlasMode = atlasModeSelect.value as AtlasMode;
    styleAtlas();
    nv.updateGLVolume();
  });
  $('save-figure').addEventListener('click', saveFigure);
  nv.onLocationChange = (location: unknown) => {
    const mm = (location as { mm?: ArrayLike<number> }).mm;
    if (mm) showCrosshair([mm[0], mm[1], mm[2]]);
  };
  let lastHover = '';
  canvas.addEventListener('mousemove', (e) => {
    const pos = nv.getNoPaddingNoBorderCanvasRelativeMousePosition(e, canvas);
    const dpr = nv.uiData.dpr ?? window.devicePixelRatio;
    const frac = pos ? nv.canvasPos2frac([pos.x * dpr, pos.y * dpr]) : [-1];
    let text = '–';
    if (frac[0] >= 0) {
      const mm = nv.frac2mm(frac);
      text = regionAt([mm[0], mm[1], mm[2]])?.name ?? 'outside the atlas';
    }
    if (text !== lastHover) $('hover-region').textContent = lastHover = text;
  });
  canvas.addEventListener('mouseleave', () => ($('hover-region').textContent = lastHover = '–'));
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(
      () => drawChart(chart, rows, state.selected, (r) => pickRegion(r, true), ranking.chart),
      100,
    );
  });
}

function setThreshold(fraction: number): Promise<void> {
  state.threshold = Math.min(Math.max(fraction, 0), 1);
  thresholdInput.value = String(state.threshold);
  thresholdValue.textContent = state.threshold.toFixed(2);
  return enqueue(async () => {
    const overlay = overlayImage;
    if (!overlay) return;
    styleOverlay(overlay);
    nv.updateGLVolume();
    await frame();
  });
}

/**
 * Manifest → background and overlay on screen (the first image) → atlas layer, table, chart.
 * The images are fetched while NiiVue compiles its shaders. Performance marks (`glas3d:…`)
 * time each step for bench:view.
 */
async function start(): Promise<void> {
  const response = await fetch('api/manifest.json');
  if (!response.ok) throw new Error(`cannot load the manifest: HTTP ${response.status}`);
  manifest = (await response.json()) as ViewManifest;
  performance.mark('glas3d:manifest');
  regionNames = new Map(manifest.atlas.regions.map((r) => [r.index, r.name]));
  document.title = `glas3d view — ${manifest.title}`;
  $('title').textContent = `glas3d · ${manifest.title}`;
  $('notes').replaceChildren(
    ...manifest.notes.map((n) => Object.assign(document.createElement('li'), { textContent: n })),
  );
  choices = buildChoices();
  if (choices.length === 0) throw new Error('the results folder has no saliency maps');
  state.map = choices[0].key;
  preferredSigma = state.sigmaMm = choices[0].maps[0].sigmaMm;
  prefetchLayers();
  // Let the fetches go out before NiiVue compiles its shaders (which blocks this thread).
  await new Promise((resolve) => setTimeout(resolve));
  await nv.attachTo('gl');
  skipGradientPasses(nv);
  readableColorbarTicks(nv, colorbarLabels, () =>
    overlayImage ? displayScaleOf(overlayImage) : 1,
  );
  performance.mark('glas3d:niivue');
  wire();
  refreshSelectors();
  await applyLayers(false);
  await frame(); // applyLayers waited one frame; after this one the image is on screen
  performance.mark('glas3d:first-image');
  await applyTable();
  await applyLayers();
  // Start where the model looks most: the top region's point (not selected).
  if (rows[0]) setCrosshairMm(rows[0].pointMm);
  await presented();
  performance.mark('glas3d:ready');
}

const ready = enqueue(start);

window.glas3dViewer = {
  ready,
  manifest: () => manifest,
  state: () => ({ ...state }),
  crosshairMm,
  setCrosshairMm,
  setThreshold,
  selectSubject: (id: string) => {
    const key =
      id === 'cohort' || id === 'control'
        ? `cohort:${id}`
        : choices.find((c) => c.subject && (c.subject.id === id || `sub-${c.subject.id}` === id))
            ?.key;
    if (!key) return Promise.reject(new Error(`no subject ${id}`));
    return enqueue(() => selectChoice(key));
  },
  selectSigma: (sigmaMm: number) => enqueue(() => selectSigmaNow(sigmaMm)),
  selectRegion,
  regionAt,
  mmToClient,
  rows: () => rows,
  idle: () => queue.then(frame),
  figureDataUrl: () => figureCanvas().toDataURL('image/png'),
  figureText: () => figureText,
  problems: () => problems.map((p) => ({ ...p })),
  notices,
  colorbarLabels: () => [...colorbarLabels],
};
