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
import { skipGradientPasses } from './gradient.js';
import { drawChart, fmt, markRow, paintChart, rankSubjectTable, renderTable } from './regions.js';
import './style.css';

type Vec3 = [number, number, number];
type AtlasMode = ViewerState['atlasMode'];

/** One entry of the map selector: the cohort map of a group, or one subject. */
interface MapChoice {
  key: string;
  label: string;
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

function loadImage(url: string, options: Record<string, unknown> = {}): Promise<NVImage> {
  let p = images.get(url);
  if (!p) {
    p = NVImage.loadFromUrl({ url, ...options }).catch((e: unknown) => {
      images.delete(url);
      throw new Error(`cannot load ${url}: ${(e as Error).message ?? e}`);
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

function styleOverlay(overlay: NVImage): void {
  const max = maxOf(overlay);
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

async function rowsFor(choice: MapChoice, sigmaMm: number): Promise<ViewRegionRow[]> {
  const url = choice.subject?.regionsUrl;
  if (!url) return manifest.regions.filter((r) => r.sigmaMm === sigmaMm);
  let text = subjectTables.get(url);
  if (!text) {
    text = fetch(url).then((r) => {
      if (!r.ok) throw new Error(`cannot load ${url}: HTTP ${r.status}`);
      return r.text();
    });
    subjectTables.set(url, text);
  }
  return rankSubjectTable(await text, sigmaMm);
}

function showRows(): void {
  renderTable(table, rows, state.selected, (r) => pickRegion(r, false));
  drawChart(chart, rows, state.selected, (r) => pickRegion(r, true));
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
  const [background, overlay, atlas] = await Promise.all([
    loadImage(bgUrl, { colormap: 'gray' }),
    loadImage(map.url, { colormap: state.colormap }),
    withAtlas ? loadImage(manifest.atlas.labelsUrl) : undefined,
  ]);
  background.colorbarVisible = false;
  atlasImage = atlas;
  styleOverlay(overlay);
  styleAtlas();
  state.overlayUrl = map.url;
  state.backgroundUrl = bgUrl;
  const volumes = atlas ? [background, overlay, atlas] : [background, overlay];
  nv.volumes = volumes;
  nv.back = background;
  nv.overlays = volumes.slice(1);
  nv.updateGLVolume();
  if (keep) setCrosshairMm(keep);
  const info = [
    choice.label,
    `σ = ${map.sigmaMm} mm`,
    `max ${fmt(maxOf(overlay))}`,
    manifest.targetClass === undefined ? '' : `class ${manifest.targetClass}`,
  ];
  $('map-info').textContent = info.filter(Boolean).join(' · ');
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

function figureCanvas(): HTMLCanvasElement {
  const gl = nv.canvas!;
  const scale = Math.max(1, gl.width / 1200);
  const pad = 12 * scale;
  const chartHeight = 24 * scale + 20 * scale * Math.min(rows.length, 10);
  const out = document.createElement('canvas');
  out.width = gl.width;
  out.height = gl.height + chartHeight + 3 * pad + 20 * scale;
  const ctx = out.getContext('2d')!;
  ctx.fillStyle = '#0f1114';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.fillStyle = '#e6e6e6';
  ctx.font = `600 ${14 * scale}px sans-serif`;
  ctx.textBaseline = 'middle';
  const choice = currentChoice();
  ctx.fillText(
    `${manifest.title} — ${choice.label} — σ = ${state.sigmaMm} mm — threshold ${state.threshold.toFixed(2)} × max`,
    pad,
    pad + 8 * scale,
  );
  // The WebGL canvas keeps no drawing buffer: draw, then copy in the same task.
  nv.drawScene();
  ctx.drawImage(gl, 0, 20 * scale + pad);
  paintChart(
    ctx,
    rows,
    pad,
    gl.height + 20 * scale + 2 * pad,
    out.width - 2 * pad,
    scale,
    state.selected,
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
  const box = $('error');
  box.hidden = false;
  box.textContent = `Error: ${(e as Error).message ?? String(e)}`;
  console.error(e);
}

async function selectChoice(key: string): Promise<void> {
  const choice = choices.find((c) => c.key === key);
  if (!choice) throw new Error(`no map ${key}`);
  state.map = key;
  if (!choice.maps.some((m) => m.sigmaMm === state.sigmaMm)) state.sigmaMm = choice.maps[0].sigmaMm;
  refreshSelectors();
  await applyLayers();
  await applyTable();
}

function wire(): void {
  mapSelect.addEventListener('change', () => void enqueue(() => selectChoice(mapSelect.value)));
  sigmaSelect.addEventListener(
    'change',
    () =>
      void enqueue(async () => {
        state.sigmaMm = Number(sigmaSelect.value);
        await applyLayers();
        await applyTable();
      }),
  );
  backgroundSelect.addEventListener(
    'change',
    () =>
      void enqueue(async () => {
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
    const overlay = nv.volumes[1];
    if (overlay) nv.setColormap(overlay.id, state.colormap);
  });
  thresholdInput.addEventListener('input', () => void setThreshold(Number(thresholdInput.value)));
  opacityInput.addEventListener('input', () => {
    state.opacity = Number(opacityInput.value);
    nv.setOpacity(1, state.opacity);
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
      () => drawChart(chart, rows, state.selected, (r) => pickRegion(r, true)),
      100,
    );
  });
}

function setThreshold(fraction: number): Promise<void> {
  state.threshold = Math.min(Math.max(fraction, 0), 1);
  thresholdInput.value = String(state.threshold);
  thresholdValue.textContent = state.threshold.toFixed(2);
  return enqueue(async () => {
    const overlay = nv.volumes[1];
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
  state.sigmaMm = choices[0].maps[0].sigmaMm;
  prefetchLayers();
  // Let the fetches go out before NiiVue compiles its shaders (which blocks this thread).
  await new Promise((resolve) => setTimeout(resolve));
  await nv.attachTo('gl');
  skipGradientPasses(nv);
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
  selectSigma: (sigmaMm: number) =>
    enqueue(async () => {
      state.sigmaMm = sigmaMm;
      refreshSelectors();
      await applyLayers();
      await applyTable();
    }),
  selectRegion,
  regionAt,
  mmToClient,
  rows: () => rows,
  idle: () => queue.then(frame),
  figureDataUrl: () => figureCanvas().toDataURL('image/png'),
};
