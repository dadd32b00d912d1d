/**
 * What `glas3d view` tells the browser about a results folder (`/api/manifest.json`). Types
 * only, no imports: the viewer (viewer/src, bundled for the browser) imports this file too.
 *
 * Every `url` is a path on the view server: result files as `/results/<relative path>`, files
 * from elsewhere (the atlas, the template, a subject's source scan) as `/files/<id>/<name>`.
 */

export type ViewKind = 'run' | 'explain';
export type ViewGroup = 'cohort' | 'control';

export interface ViewMap {
  sigmaMm: number;
  url: string;
}

/** One row of a ranked region table, the same shape for a cohort, a subject or `explain`. */
export interface ViewRegionRow {
  sigmaMm: number;
  rank: number;
  /** Atlas label value. */
  index: number;
  name: string;
  hemisphere: string;
  score: number;
  sd?: number;
  ciLow?: number;
  ciHigh?: number;
  top10Fraction?: number;
  nSubjects?: number;
  /** With a control group: the control group's `score` (max-normalized, as the ranking). */
  controlScore?: number;
  /** With a control group: the region's mean share of each subject's evidence, in both groups. */
  share?: number;
  controlShare?: number;
  /** share − controlShare. */
  difference?: number;
  p?: number;
  q?: number;
  shadowDelta?: number;
  /** Where a click on the row puts the crosshair (mm): the region's search point, or its
   *  centre of mass when the atlas gives no search point. */
  pointMm: [number, number, number];
  pointKind: 'search' | 'centre';
}

export interface ViewSubject {
  /** The id as in the folder name `sub-<id>` (for explain: the volume's file name). */
  id: string;
  group: ViewGroup;
  /** P(target class | volume), or the raw output when `rawOutput` (a regression, --activation identity). */
  probability?: number;
  /** `probability` is the model's raw output value, not a probability. */
  rawOutput?: true;
  /** What makes this subject's explanation doubtful (e.g. flat); also among the manifest's notes. */
  warnings?: string[];
  /** The explanation is flat (sidecar `flat: true`): its ranking is rounding noise, not evidence. */
  flat?: true;
  probabilities?: number[];
  maps: ViewMap[];
  /** Maps of the run's σ that are not on disk: the file (relative to the results folder). */
  missingMaps?: { sigmaMm: number; file: string }[];
  /** Per-subject table: a TSV in atlas order (run) — the viewer ranks it — or absent when
   *  the rows are already in `regions` (explain). */
  regionsUrl?: string;
  /** The subject's own scan, when the sidecar names one that exists. */
  sourceUrl?: string;
  resampled?: boolean;
}

export interface ViewAtlasRegion {
  index: number;
  name: string;
  hemisphere: string;
  centreMm: [number, number, number];
  searchPointMm: [number, number, number];
}

export interface ViewAtlas {
  name: string;
  /** The label image on the results' grid (nearest neighbour), as the scores were computed. */
  labelsUrl: string;
  /** The template (Colin27 for AAL) on the results' grid: the default background. */
  templateUrl?: string;
  /** The template at its own resolution (1 mm for Colin27): sharper, slower to draw. */
  templateFineUrl?: string;
  /** Regions on the results' grid (search points as the run used them). */
  regions: ViewAtlasRegion[];
}

export interface ViewManifest {
  version: 1;
  kind: ViewKind;
  /** The results folder's name, for titles. */
  title: string;
  sigmaMm: number[];
  /** The grid of the maps (the model's input grid). */
  grid: { dims: [number, number, number]; voxelMm: [number, number, number] };
  targetClass?: number;
  mode?: string;
  baseline?: string;
  /** Cohort maps (run only): one per group and σ. */
  cohortMaps: (ViewMap & { group: ViewGroup; n: number })[];
  subjects: ViewSubject[];
  /** The cohort table (run) or the explanation's table (explain), all σ, ranked per σ. */
  regions: ViewRegionRow[];
  atlas: ViewAtlas;
  /** Groups whose every finished subject's explanation is flat: their table (regions.csv) is
   *  in atlas order, not a ranking. */
  flatGroups?: ViewGroup[];
  /** Things the server skipped while reading the folder (unfinished subjects, symlinks out
   *  of the folder, …), for the viewer to show. */
  notes: string[];
}

/** The viewer's display state, as `window.glas3dViewer.state()` reports it. */
export interface ViewerState {
  /** `cohort:<group>` or `subject:<group>:<id>`. */
  map: string;
  sigmaMm: number;
  background: 'template' | 'fine' | 'source';
  colormap: string;
  /** Overlay threshold as a fraction of the map's maximum. */
  threshold: number;
  opacity: number;
  atlasMode: 'outline' | 'translucent' | 'off';
  /** Atlas index of the selected region. */
  selected: number | null;
  overlayUrl: string;
  backgroundUrl: string;
}

/** `window.glas3dViewer`: what tests (and users, from the console) can do through the page. */
export interface ViewerHook {
  /** Settles when everything is shown — background, overlay, atlas layer, table, chart — and
   *  rejects when the viewer failed to start. (The background and overlay come first; the
   *  page marks that moment as the performance mark `glas3d:first-image`.) */
  ready: Promise<void>;
  manifest(): ViewManifest;
  state(): ViewerState;
  crosshairMm(): [number, number, number];
  setCrosshairMm(mm: [number, number, number]): void;
  setThreshold(fraction: number): Promise<void>;
  /** A subject id (`01` or `sub-01`), or `cohort` / `control` for the group maps. */
  selectSubject(id: string): Promise<void>;
  selectSigma(sigmaMm: number): Promise<void>;
  selectRegion(index: number): void;
  regionAt(mm: [number, number, number]): { index: number; name: string } | null;
  /** Client (CSS px) coordinates of a point in the first view tile that shows it. */
  mmToClient(mm: [number, number, number]): [number, number] | null;
  rows(): ViewRegionRow[];
  /** Settles when every queued view update (selectors, sliders, hook calls) is drawn. */
  idle(): Promise<void>;
  /** The figure "Save figure" writes, as a PNG data URL. */
  figureDataUrl(): string;
  /** The text the last figure painted, line by line, with where each line starts and ends
   *  (canvas px) and the figure's width. */
  figureText(): { lines: { text: string; x: number; right: number }[]; width: number };
  /** What the page shows in its error banner now: files that could not be loaded (their URL
   *  and why), failed updates. */
  problems(): { url?: string; reason?: string; message: string }[];
  /** What the page shows in its notice box now (flat explanations, a missing σ, …). */
  notices(): string[];
  /** The tick labels of the colour bar as last drawn. */
  colorbarLabels(): string[];
}
