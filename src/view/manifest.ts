/**
 * The view server's picture of a results folder: which files the viewer may fetch, and the
 * manifest that points at them. Built once, read-only, from what is on disk:
 *
 * - `glas3d run` output (run.json / dataset_description.json, `sub-<id>/…`, `control/sub-<id>/…`,
 *   the cohort `regions.csv` and maps);
 * - `glas3d explain` output (`explanation.json`, `regions.csv`, `saliency_sigma-<σ>.nii.gz`).
 *
 * Only files named here are ever served. A file of the folder is listed only when its real
 * path (symlinks resolved) lies inside the folder's real path; the server checks that again on
 * every request. Files from elsewhere — the atlas, the template, a subject's source scan named
 * by its sidecar — get an opaque id.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, sep } from 'node:path';
import { aalDir, atlasOnGrid, loadAtlas } from '../atlas/index.js';
import {
  cohortMapPath,
  subjectMapPath,
  subjectRegionsPath,
  subjectSidecarPath,
  type Group,
} from '../cohort/derivatives.js';
import { lockHolder } from '../cohort/out-lock.js';
import { Glas3dError } from '../errors.js';
import { saliencyFileName } from '../report/explanation-files.js';
import {
  encodeNifti1,
  readVolume,
  resample,
  sameGrid,
  spacingMm,
  type Grid,
  type Volume,
} from '../volume/index.js';
import { cachedParts, fileStamp } from './cache.js';
import type {
  ViewAtlas,
  ViewAtlasRegion,
  ViewKind,
  ViewManifest,
  ViewMap,
  ViewRegionRow,
  ViewSubject,
} from './manifest-types.js';

/** A file the server may send: its real path, and the folder it must stay inside (if any). */
export interface ServedFile {
  path: string;
  /** Real path of the results folder for result files; absent for atlas/template/source. */
  root?: string;
  /** Made in memory (the template and atlas on the results' grid); `path` is its name. */
  data?: Uint8Array;
}

export interface BuiltManifest {
  manifest: ViewManifest;
  /** URL path (decoded, e.g. `/results/sub-01/x.nii.gz`) → file. */
  files: Map<string, ServedFile>;
  /** Real path of the results folder. */
  root: string;
}

const NIFTI = /\.nii(\.gz)?$/i;

/** Whether `path` (a real path) lies strictly inside `root` (a real path). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..');
}

class FileTable {
  readonly files = new Map<string, ServedFile>();
  readonly notes: string[] = [];
  private external = 0;
  private readonly byPath = new Map<string, string>();

  constructor(readonly root: string) {}

  /** List a file of the results folder (relative path); undefined when absent or outside. */
  async result(rel: string): Promise<string | undefined> {
    if (!(await this.contained(rel))) return undefined;
    const abs = join(this.root, rel);
    const segments = relative(this.root, abs).split(sep);
    const key = '/results/' + segments.join('/');
    this.files.set(key, { path: abs, root: this.root });
    return '/results/' + segments.map(encodeURIComponent).join('/');
  }

  /** Text of a file of the folder (not served), when it exists and lies inside. */
  async read(rel: string): Promise<string | undefined> {
    const real = await this.contained(rel);
    return real ? readFile(real, 'utf8') : undefined;
  }

  /** Real path of a file of the folder, when it exists and lies inside. */
  private async contained(rel: string): Promise<string | undefined> {
    const abs = join(this.root, rel);
    if (!existsSync(abs)) return undefined;
    let real: string;
    try {
      real = await realpath(abs);
    } catch {
      return undefined;
    }
    if (!isInside(this.root, real)) {
      this.notes.push(`${rel}: points outside the results folder (symlink); not served`);
      return undefined;
    }
    return (await stat(real)).isFile() ? real : undefined;
  }

  /** The file behind a listed URL. */
  pathOf(url: string | undefined): string | undefined {
    return url === undefined ? undefined : this.files.get(decodeURIComponent(url))?.path;
  }

  /** List bytes made in memory under an opaque id. */
  memory(name: string, data: Uint8Array): string {
    const key = `/files/${++this.external}/${name}`;
    this.files.set(key, { path: name, data });
    return key;
  }

  /** List a file from outside the results folder under an opaque id. */
  async outside(path: string): Promise<string | undefined> {
    if (!isAbsolute(path) || !existsSync(path)) return undefined;
    let real: string;
    try {
      real = await realpath(path);
      if (!(await stat(real)).isFile()) return undefined;
    } catch {
      return undefined;
    }
    const known = this.byPath.get(real);
    if (known) return known;
    const name = basename(path).replace(/[^A-Za-z0-9._-]/g, '_');
    const key = `/files/${++this.external}/${name}`;
    this.files.set(key, { path: real });
    this.byPath.set(real, key);
    return key;
  }
}

/** A JSON file of the folder, or undefined when missing, outside or unreadable. */
async function readJson(
  table: FileTable,
  rel: string,
): Promise<Record<string, unknown> | undefined> {
  try {
    const text = await table.read(rel);
    return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    return undefined;
  }
}

/** Parse CSV/TSV text with a header row into records (RFC 4180 quotes for CSV). */
export function parseDelimited(text: string, delimiter: ',' | '\t'): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '' && delimiter === ',') quoted = true;
    else if (c === delimiter) {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else field += c;
  }
  row.push(field);
  if (row.some((f) => f !== '')) rows.push(row);
  const [head, ...body] = rows;
  if (!head) return [];
  return body.map((r) => Object.fromEntries(head.map((h, i) => [h.trim(), r[i] ?? ''])));
}

const num = (s: string | undefined): number | undefined =>
  s === undefined || s === '' ? undefined : Number(s);

function regionRow(
  r: Record<string, string>,
  atlas: ViewAtlas,
  pointColumns: 'search' | 'centre',
): ViewRegionRow {
  const index = Number(r.index);
  const region = atlas.regions.find((a) => a.index === index);
  const prefix = pointColumns === 'search' ? 'search' : 'centre';
  const fromFile: [number, number, number] = [
    Number(r[`${prefix}_x_mm`]),
    Number(r[`${prefix}_y_mm`]),
    Number(r[`${prefix}_z_mm`]),
  ];
  // A cohort table gives centres of mass; the atlas knows the search point (inside the region).
  const usePoint =
    pointColumns === 'centre' && region
      ? { pointMm: [...region.searchPointMm] as [number, number, number], pointKind: 'search' }
      : { pointMm: fromFile, pointKind: pointColumns };
  const row: ViewRegionRow = {
    sigmaMm: Number(r.sigma_mm),
    rank: Number(r.rank),
    index,
    name: r.name,
    hemisphere: r.hemisphere,
    score: Number(r.score),
    pointMm: usePoint.pointMm,
    pointKind: usePoint.pointKind as 'search' | 'centre',
  };
  const optional: [keyof ViewRegionRow, string][] = [
    ['sd', 'sd'],
    ['ciLow', 'ci_low'],
    ['ciHigh', 'ci_high'],
    ['top10Fraction', 'top10_fraction'],
    ['nSubjects', 'n_subjects'],
    ['controlScore', 'control_score'],
    ['share', 'share'],
    ['controlShare', 'control_share'],
    ['difference', 'difference'],
    ['p', 'p'],
    ['q', 'q'],
    ['shadowDelta', 'shadow_delta'],
  ];
  for (const [key, column] of optional) {
    const v = num(r[column]);
    if (v !== undefined) (row as unknown as Record<string, number>)[key] = v;
  }
  return row;
}

/** The files an atlas is made from (the template: an image in the atlas's space). */
interface AtlasFiles {
  name: string;
  labels: string;
  names?: string;
  template?: string;
}

/** The files loadAal() reads (atlases/aal/ in the package). */
function aalFiles(): AtlasFiles {
  const dir = aalDir();
  return {
    name: 'aal',
    labels: join(dir, 'aal.nii.gz'),
    names: join(dir, 'aal.nii.txt'),
    template: join(dir, 'ch2bet.nii.gz'),
  };
}

/** The atlas a run recorded, when it is not AAL and its label image still exists; a note
 *  when it is gone (the viewer then shows AAL). AAL's template serves any atlas. */
function recordedAtlas(
  recorded: { name?: string; labels?: string; names?: string } | string | undefined,
  notes: string[],
): AtlasFiles | undefined {
  const spec = typeof recorded === 'string' ? { name: recorded, labels: recorded } : recorded;
  // The bundled AAL (recorded by name, or by its own path); a label image named aal.nii.gz
  // elsewhere is another atlas.
  const bundled = (path?: string) =>
    !path ||
    path === 'aal' ||
    path === aalFiles().labels ||
    /atlases[\\/]aal[\\/]aal\.nii\.gz$/.test(path);
  if (!spec || spec.labels === 'aal' || (spec.name === 'aal' && bundled(spec.labels)))
    return undefined;
  if (spec.labels && existsSync(spec.labels)) {
    return {
      name: spec.name ?? basename(spec.labels).replace(NIFTI, ''),
      labels: spec.labels,
      names: spec.names,
      template: aalFiles().template,
    };
  }
  notes.push(`atlas ${spec.labels ?? spec.name}: not found; showing AAL instead`);
  return undefined;
}

/**
 * The template on the results' grid as 8-bit grey levels, as NIfTI bytes: a display image (the
 * viewer only windows it), a quarter of float32's bytes for the browser to fetch and decode.
 */
function greyOnGrid(template: Volume, grid: Grid): Uint8Array {
  const { data } = sameGrid(template, grid) ? template : resample(template, grid, 'linear');
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const scale = max > min ? 255 / (max - min) : 0;
  const grey = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) grey[i] = Math.round((data[i] - min) * scale);
  return encodeNifti1({ dims: grid.dims, affine: grid.affine, data: grey });
}

/** What the viewer needs of an atlas on a grid. */
interface GridAtlas {
  regions: ViewAtlasRegion[];
  /** The labels (nearest neighbour) on the grid, NIfTI bytes. */
  labels: Uint8Array;
  /** The template on the grid, NIfTI bytes (empty when the atlas has none). */
  template: Uint8Array;
  /** Whether the template file itself is on the grid (no finer version to offer). */
  templateOnGrid: boolean;
}

/** The atlas's regions and images on `grid`, made from its files. */
async function makeGridAtlas(files: AtlasFiles, grid: Grid): Promise<GridAtlas> {
  const atlas = await loadAtlas(files.labels, { names: files.names, name: files.name });
  const onGrid = atlasOnGrid(atlas, grid);
  const labels = onGrid.labels.data;
  const max = labels.reduce((m, v) => Math.max(m, v), 0);
  const round = (v: readonly number[]) => v.map((x) => Math.round(x * 100) / 100);
  const template =
    files.template && existsSync(files.template) ? await readVolume(files.template) : undefined;
  return {
    regions: onGrid.regions.map((r) => ({
      index: r.index,
      name: r.name,
      hemisphere: r.hemisphere,
      centreMm: round(r.centreMm) as [number, number, number],
      searchPointMm: round(r.searchPointMm) as [number, number, number],
    })),
    labels: encodeNifti1({
      dims: grid.dims,
      affine: grid.affine,
      data: max < 256 ? Uint8Array.from(labels) : Int16Array.from(labels),
      intentCode: 1002,
      description: `${atlas.name} labels (nearest) on the results grid`,
    }),
    template: template ? greyOnGrid(template, grid) : new Uint8Array(0),
    templateOnGrid: template !== undefined && sameGrid(template, grid),
  };
}

/** makeGridAtlas, through the on-disk cache (cache.ts): the same every time for one grid.
 *  Not cached when the names file is not known (loadAtlas finds one next to the labels). */
async function gridAtlas(files: AtlasFiles, grid: Grid): Promise<GridAtlas> {
  if (!files.names) return makeGridAtlas(files, grid);
  const key = {
    what: 'view atlas 1',
    name: files.name,
    files: await Promise.all([files.labels, files.names, files.template].map(fileStamp)),
    grid: { dims: grid.dims, affine: grid.affine },
  };
  const [meta, labels, template] = await cachedParts(key, 3, async () => {
    const made = await makeGridAtlas(files, grid);
    const { regions, templateOnGrid } = made;
    const meta = new TextEncoder().encode(JSON.stringify({ regions, templateOnGrid }));
    return [meta, made.labels, made.template];
  });
  const { regions, templateOnGrid } = JSON.parse(new TextDecoder().decode(meta)) as Pick<
    GridAtlas,
    'regions' | 'templateOnGrid'
  >;
  return { regions, labels, template, templateOnGrid };
}

/**
 * The atlas and its template on the results' grid, served from memory: the viewer draws every
 * layer on the background's grid, and a software renderer (a browser without a GPU) is 8×
 * faster on the 2 mm grid than on 1 mm. The template at its own resolution stays available as
 * `templateFineUrl`. A recorded atlas that cannot be read gives way to AAL, with a note.
 */
async function viewAtlas(
  recorded: AtlasFiles | undefined,
  grid: Grid,
  table: FileTable,
): Promise<ViewAtlas> {
  let files = recorded ?? aalFiles();
  let made: GridAtlas;
  try {
    made = await gridAtlas(files, grid);
  } catch (e) {
    if (!recorded) throw e;
    table.notes.push(`atlas ${recorded.labels}: ${(e as Error).message}; showing AAL instead`);
    files = aalFiles();
    made = await gridAtlas(files, grid);
  }
  const hasTemplate = made.template.byteLength > 0;
  return {
    name: files.name,
    labelsUrl: table.memory(`${files.name}_labels_on-grid.nii`, made.labels),
    templateUrl: hasTemplate ? table.memory('template_on-grid.nii', made.template) : undefined,
    templateFineUrl:
      hasTemplate && !made.templateOnGrid ? await table.outside(files.template!) : undefined,
    regions: made.regions,
  };
}

/** The maps' grid: run.json's, else the first map's. */
async function gridOf(recorded: unknown, firstMap: string | undefined): Promise<Grid> {
  const g = recorded as Grid | undefined;
  if (
    g &&
    Array.isArray(g.dims) &&
    g.dims.length === 3 &&
    Array.isArray(g.affine) &&
    g.affine.length >= 3
  ) {
    return { dims: g.dims, affine: g.affine };
  }
  if (!firstMap) {
    throw new Glas3dError(
      'no saliency maps found in the results folder; is the run finished (glas3d run writes sub-<id>/…_saliency.nii.gz)?',
    );
  }
  const v = await readVolume(firstMap);
  return { dims: v.dims, affine: v.affine };
}

function gridInfo(grid: Grid): ViewManifest['grid'] {
  return {
    dims: [...grid.dims] as [number, number, number],
    voxelMm: spacingMm(grid).map((v) => Math.round(v * 1000) / 1000) as [number, number, number],
  };
}

/** `sub-<id>` folders of one group that hold a finished subject (a sidecar). */
async function runSubjects(
  table: FileTable,
  group: Group,
  sigmaMm: number[],
): Promise<ViewSubject[]> {
  const dir = group === 'control' ? join(table.root, 'control') : table.root;
  if (!existsSync(dir)) return [];
  const ids = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && /^sub-./.test(e.name))
    .map((e) => e.name.slice(4))
    .sort();
  const subjects: ViewSubject[] = [];
  const rel = (p: string) => relative(table.root, p);
  for (const id of ids) {
    // The sidecar (the done marker) is read for the probabilities; it is not served itself.
    const sidecar = await readJson(table, rel(subjectSidecarPath(table.root, id, group)));
    if (!sidecar) {
      table.notes.push(`${rel(join(dir, `sub-${id}`))}: no readable sidecar (unfinished); skipped`);
      continue;
    }
    const maps: ViewMap[] = [];
    const missingMaps: { sigmaMm: number; file: string }[] = [];
    for (const s of sigmaMm) {
      const file = rel(subjectMapPath(table.root, id, group, s));
      const url = await table.result(file);
      if (url) maps.push({ sigmaMm: s, url });
      else missingMaps.push({ sigmaMm: s, file: file.split(sep).join('/') });
    }
    const source = typeof sidecar.source === 'string' ? sidecar.source : undefined;
    const warnings = warningsOf(sidecar);
    for (const w of warnings)
      table.notes.push(`${group === 'control' ? 'control ' : ''}sub-${id}: ${w}`);
    subjects.push({
      id,
      group,
      probability: typeof sidecar.probability === 'number' ? sidecar.probability : undefined,
      ...(isRawOutput(sidecar.parameters) && { rawOutput: true as const }),
      ...(warnings.length > 0 && { warnings }),
      ...(sidecar.flat === true && { flat: true as const }),
      probabilities: Array.isArray(sidecar.probabilities)
        ? (sidecar.probabilities as number[])
        : undefined,
      maps,
      ...(missingMaps.length > 0 && { missingMaps }),
      regionsUrl: await table.result(rel(subjectRegionsPath(table.root, id, group))),
      sourceUrl: source && NIFTI.test(source) ? await table.outside(source) : undefined,
      resampled: typeof sidecar.resampled === 'boolean' ? sidecar.resampled : undefined,
    });
  }
  return subjects;
}

function sigmaList(values: unknown, fallback: number[]): number[] {
  return Array.isArray(values) && values.every((v) => typeof v === 'number')
    ? (values as number[])
    : fallback;
}

/** A note for the subjects errors.tsv lists (they failed and are in no table or map). */
async function failedSubjects(table: FileTable): Promise<void> {
  const text = await table.read('errors.tsv').catch(() => undefined);
  const n = text === undefined ? 0 : parseDelimited(text, '\t').length;
  if (n > 0) table.notes.push(`${n} subject${n === 1 ? '' : 's'} failed: see errors.tsv`);
}

/** The table of a results folder (regions.csv), parsed into the manifest, not served. */
async function regionsCsv(table: FileTable): Promise<Record<string, string>[]> {
  const text = await table.read('regions.csv');
  return text === undefined ? [] : parseDelimited(text, ',');
}

/** What each kind of folder reads its own way; manifestOf makes the rest the same way. */
interface KindParts extends Pick<
  ViewManifest,
  'kind' | 'sigmaMm' | 'cohortMaps' | 'subjects' | 'flatGroups'
> {
  /** run.json or explanation.json: the target class, mode and baseline. */
  summary: Record<string, unknown>;
  /** The grid the summary records (run.json has one), else the first map's grid is read. */
  recordedGrid: unknown;
  firstMap: string | undefined;
  atlas: AtlasFiles | undefined;
  csv: Record<string, string>[];
  /** Which point of a region the table gives: a run's centre, an explanation's search point. */
  pointColumns: 'centre' | 'search';
}

/** The manifest of a folder from its kind's parts: the atlas on the maps' grid, the table's
 *  rows against that atlas, and the settings the summary records. */
async function manifestOf(table: FileTable, parts: KindParts): Promise<ViewManifest> {
  const { summary } = parts;
  const grid = await gridOf(parts.recordedGrid, table.pathOf(parts.firstMap));
  const atlas = await viewAtlas(parts.atlas, grid, table);
  return {
    version: 1,
    kind: parts.kind,
    title: basename(table.root),
    sigmaMm: parts.sigmaMm,
    grid: gridInfo(grid),
    targetClass: typeof summary.targetClass === 'number' ? summary.targetClass : undefined,
    mode: typeof summary.mode === 'string' ? summary.mode : undefined,
    baseline: typeof summary.baseline === 'string' ? summary.baseline : undefined,
    cohortMaps: parts.cohortMaps,
    subjects: parts.subjects,
    ...(parts.flatGroups && parts.flatGroups.length > 0 && { flatGroups: parts.flatGroups }),
    regions: parts.csv.map((r) => regionRow(r, atlas, parts.pointColumns)),
    atlas,
    notes: table.notes,
  };
}

/** Why a run folder has no cohort table yet, or is being written now; undefined when neither. */
async function unfinishedRun(
  root: string,
  run: Record<string, unknown>,
): Promise<string | undefined> {
  // A lock left by a killed run is no writer: the folder is then unfinished (or finished).
  if (await lockHolder(root))
    return 'a glas3d run is writing this folder now: shown is what it had finished when the viewer started; restart glas3d view when the run ends';
  if (existsSync(join(root, 'regions.csv'))) return undefined;
  return typeof run.shard === 'string'
    ? `one shard (${run.shard}) of a run: no cohort table or maps; glas3d merge of all shards writes them`
    : 'no regions.csv: the run did not finish (interrupted?); rerun glas3d run with the same --out to complete it (finished subjects are kept)';
}

async function buildRun(table: FileTable): Promise<ViewManifest> {
  const run = (await readJson(table, 'run.json')) ?? {};
  const csv = await regionsCsv(table);
  const sigmaFromCsv = [...new Set(csv.map((r) => Number(r.sigma_mm)))];
  let sigmaMm = sigmaList(run.sigmaMm, sigmaFromCsv);
  if (sigmaMm.length === 0) {
    // No run.json and no table (a shard): take σ from the first sidecar.
    const first = (await readdir(table.root)).find((n) => n.startsWith('sub-'));
    const side =
      first &&
      (await readJson(
        table,
        relative(table.root, subjectSidecarPath(table.root, first.slice(4), 'cohort')),
      ));
    sigmaMm = sigmaList(side && side.sigmaMm, []);
  }
  const atlas = recordedAtlas(run.atlas as { name?: string; labels?: string }, table.notes);
  const subjects = [
    ...(await runSubjects(table, 'cohort', sigmaMm)),
    ...(await runSubjects(table, 'control', sigmaMm)),
  ];
  const cohortMaps: ViewManifest['cohortMaps'] = [];
  for (const group of ['cohort', 'control'] as const) {
    for (const s of sigmaMm) {
      const url = await table.result(relative(table.root, cohortMapPath(table.root, s, group)));
      if (url)
        cohortMaps.push({
          group,
          sigmaMm: s,
          url,
          n: subjects.filter((x) => x.group === group).length,
        });
    }
  }
  await failedSubjects(table);
  const unfinished = await unfinishedRun(table.root, run);
  if (unfinished) table.notes.unshift(unfinished);
  const flatGroups = (['cohort', 'control'] as const).filter((group) => {
    const members = subjects.filter((x) => x.group === group);
    return members.length > 0 && members.every((x) => x.flat);
  });
  if (flatGroups.includes('cohort'))
    table.notes.unshift(
      "no ranking: every cohort subject's explanation is flat, so the order of regions.csv is rounding noise, not evidence",
    );
  return manifestOf(table, {
    kind: 'run',
    flatGroups,
    summary: run,
    sigmaMm,
    cohortMaps,
    subjects,
    recordedGrid: run.grid,
    firstMap: cohortMaps[0]?.url ?? subjects.find((x) => x.maps.length > 0)?.maps[0].url,
    atlas,
    csv,
    pointColumns: 'centre',
  });
}

async function buildExplain(table: FileTable): Promise<ViewManifest> {
  const summary = (await readJson(table, 'explanation.json')) ?? {};
  const csv = await regionsCsv(table);
  const sigmaMm = sigmaList(summary.sigmaMm, [...new Set(csv.map((r) => Number(r.sigma_mm)))]);
  const files = (summary.files ?? {}) as { saliency?: unknown };
  const saliency = Array.isArray(files.saliency) ? (files.saliency as string[]) : [];
  const maps: ViewMap[] = [];
  for (let i = 0; i < sigmaMm.length; i++) {
    const name = saliency[i] ?? saliencyFileName(sigmaMm[i]);
    const url = basename(name) === name ? await table.result(name) : undefined;
    if (url) maps.push({ sigmaMm: sigmaMm[i], url });
  }
  const volume = typeof summary.volume === 'string' ? summary.volume : undefined;
  // explain records its atlas files beside the name (atlasSource); older folders only the name.
  const source = summary.atlasSource as { labels?: string; names?: string } | undefined;
  const atlas = recordedAtlas(
    source?.labels
      ? { name: summary.atlas as string | undefined, ...source }
      : (summary.atlas as string | undefined),
    table.notes,
  );
  const warnings = warningsOf(summary);
  table.notes.push(...warnings);
  const subject: ViewSubject = {
    id: volume ? basename(volume).replace(NIFTI, '') : 'volume',
    group: 'cohort',
    probability: typeof summary.probability === 'number' ? summary.probability : undefined,
    ...(isRawOutput(summary) && { rawOutput: true as const }),
    ...(warnings.length > 0 && { warnings }),
    ...(summary.flat === true && { flat: true as const }),
    probabilities: Array.isArray(summary.probabilities)
      ? (summary.probabilities as number[])
      : undefined,
    maps,
    sourceUrl: volume && NIFTI.test(volume) ? await table.outside(volume) : undefined,
  };
  return manifestOf(table, {
    kind: 'explain',
    summary,
    sigmaMm,
    cohortMaps: [],
    subjects: [subject],
    recordedGrid: undefined,
    firstMap: maps[0]?.url,
    atlas,
    csv,
    pointColumns: 'search',
  });
}

/** Which kind of results folder `dir` (a real path) is, or undefined. */
function kindOf(dir: string): ViewKind | undefined {
  if (existsSync(join(dir, 'explanation.json'))) return 'explain';
  if (
    existsSync(join(dir, 'run.json')) ||
    existsSync(join(dir, 'dataset_description.json')) ||
    existsSync(join(dir, 'regions.csv'))
  )
    return 'run';
  return undefined;
}

/** Build the manifest and the served-file table of a results folder. */
export async function buildManifest(resultsDir: string): Promise<BuiltManifest> {
  let root: string;
  try {
    root = await realpath(resultsDir);
  } catch {
    throw new Glas3dError(
      `${resultsDir}: no such folder; give the --out folder of glas3d run or glas3d explain.`,
    );
  }
  if (!(await stat(root)).isDirectory()) {
    throw new Glas3dError(
      `${resultsDir}: not a folder; give the --out folder of glas3d run or glas3d explain.`,
    );
  }
  const kind = kindOf(root);
  if (!kind) {
    throw new Glas3dError(
      `${resultsDir}: not a glas3d results folder (no run.json, regions.csv or explanation.json); give the --out folder of glas3d run or glas3d explain.`,
    );
  }
  const table = new FileTable(root);
  const manifest = kind === 'run' ? await buildRun(table) : await buildExplain(table);
  const maps =
    manifest.cohortMaps.length + manifest.subjects.reduce((n, s) => n + s.maps.length, 0);
  if (maps === 0) {
    throw new Glas3dError(
      `${resultsDir}: no saliency maps found; is the run finished (glas3d run writes sub-<id>/…_saliency.nii.gz)?`,
    );
  }
  return { manifest, files: table.files, root };
}

/** Whether a record holding `model.activation` (explanation.json, a sidecar's parameters) read raw values. */
function isRawOutput(record: unknown): boolean {
  const model = (record as { model?: { activation?: unknown } } | undefined)?.model;
  return model?.activation === 'identity';
}

/** The warnings a record (explanation.json, a sidecar) carries, as strings. */
function warningsOf(record: Record<string, unknown>): string[] {
  const w = record.warnings;
  return Array.isArray(w) ? w.filter((x): x is string => typeof x === 'string') : [];
}
