/**
 * `explain`: one template-normalized volume, one ONNX model, one atlas → GLAS saliency maps on
 * the volume's grid and a ranked region table. The glue between volume, atlas, model and the
 * dimension-generic engine; it reads no files of its own beyond what its options name.
 */
import { resolve } from 'node:path';
import {
  atlasOnGrid,
  loadAtlas,
  regionStats,
  regionsLost,
  type Atlas,
  type AtlasSource,
  type Hemisphere,
} from '../atlas/index.js';
import { AtlasError, ModelError, NiftiError, OptionError } from '../errors.js';
import {
  runGlas,
  runRecursiveGlas,
  type GlasMode,
  type SearchPoint,
  type SigmaSet,
} from '../glas3d/index.js';
import { checkBatchIndependence } from '../glas3d/batch-check.js';
import { runGlasInGraph, type PerturbingClassifier } from '../glas3d/in-graph.js';
import {
  toModelTensor,
  type GridAxes,
  type OnnxClassifier,
  type PerturbationSite,
} from '../model/index.js';
import { loadClassifiers, type ModelLoadOptions } from '../model/combined-model.js';
import type { ModelRecord } from '../model/onnx-classifier.js';
import { flatWarnings } from '../model/flat-warning.js';
import {
  applyIntensityTransform,
  checkOneVolume,
  fitIntensityNormalization,
  MNI_GRIDS,
  mmToVoxel,
  orientationCode,
  positionUnknown,
  positionUnknownText,
  readVolume,
  spacingMm,
  type Grid,
  type IntensityNormalization,
  type Vec3,
  type Volume,
} from '../volume/index.js';
import { makeBaseline, type BaselineSpec } from './baselines.js';

export interface ExplainOptions {
  /** An ONNX model file, its bytes, or a classifier already loaded (reused across subjects). */
  model: string | Uint8Array | OnnxClassifier;
  /**
   * Options for loading the model (layout, axes, device — 'auto' too —, batch size …) when
   * `model` is not loaded.
   */
  modelOptions?: ModelLoadOptions;
  /** 'aal' (built in), a label image path, or an atlas already loaded. Default 'aal'. */
  atlas?: string | Atlas;
  /** σ in mm, one map per value; light, shadow and spatial σ are all this value. Default [5]. */
  sigmaMm?: readonly number[];
  /** Default 'fusion'. */
  mode?: GlasMode;
  /** What light and shadow blend toward. Default 'template'. */
  baseline?: BaselineSpec;
  /** σ of the 'blur' baseline in mm. */
  blurSigmaMm?: number;
  /**
   * The model's input normalization. The baseline is built from the volume as given, then the
   * volume and the baseline go through the transform fitted on the volume. Default 'none'.
   */
  normalize?: IntensityNormalization;
  /** The atlas's template already read (any grid), so a cohort reads it once. */
  template?: Volume;
  /** Class to explain; default the model's top class on the volume. */
  targetClass?: number;
  /** Recursive GLAS (Algorithm 1) at the first σ, up to this many passes (0 = off). */
  recursivePasses?: number;
  /**
   * Where the perturbed copies are made: 'host' (in JS, one batch buffer; exact) or 'device'
   * (inside the ONNX graph, on the model's device: only centres and σ travel; see the README's
   * GPU section). Default: 'device' when `inGraph` is given, else preferredPerturbationSite for
   * a model given as a file or bytes, else 'host'. Recursive GLAS follows the same choice.
   */
  perturbation?: PerturbationSite;
  /** An in-graph classifier already loaded for this model (reused across subjects). */
  inGraph?: PerturbingClassifier;
  onProgress?: (done: number, total: number) => void;
  /**
   * Lines for the user from loading the model (the float twin runs, `dequantize` had no effect,
   * a quantized model on a GPU); only when `model` is not loaded yet.
   */
  onNote?: (text: string) => void;
}

export interface RegionScore {
  rank: number;
  index: number;
  name: string;
  hemisphere: Hemisphere;
  /** The mode's weight at the region's search point: f_l·f_s, f_l or f_s. */
  score: number;
  /** Mean of the fused map over the region (labels on the volume's grid). */
  regionMean: number;
  /** f_l = P(y | light at the search point); NaN in shadow mode. */
  light: number;
  /** f_s = |P(y|I) − P(y | shadow)| + λ; NaN in light mode. */
  shadow: number;
  /** P(y | shadow) − P(y | I): negative when the region pushes toward the class. */
  shadowDelta: number;
  searchPointMm: Vec3;
}

export interface SigmaExplanation {
  sigmaMm: number;
  /** The fused map S (eq. 3) on the volume's grid. */
  saliency: Volume;
  /** Ranked by `score`, highest first. */
  regions: RegionScore[];
}

export interface RecursiveExplanation {
  sigmaMm: number;
  /** Each pass's map, normalized to [0, 1]. */
  passes: Volume[];
  accumulated: Volume;
  stopReason: string;
}

export interface Explanation {
  targetClass: number;
  /** P(y | I). */
  probability: number;
  probabilities: number[];
  mode: GlasMode;
  baseline: string;
  normalize: IntensityNormalization;
  atlas: string;
  /** The atlas's files as absolute paths (absent for one built in memory): what a viewer shows. */
  atlasSource?: AtlasSource;
  maps: SigmaExplanation[];
  recursive?: RecursiveExplanation;
  forwardPasses: number;
  /** Where the perturbed copies were made (set by explain). */
  perturbation?: PerturbationSite;
  timing: { totalMs: number; modelMs: number };
  model: ModelRecord;
  /**
   * Present when something makes the result doubtful: a volume whose header does not place it
   * (no sform, no qform) or stored unlike the standard grid of its size (storageWarnings), atlas
   * regions with no voxel on the volume's grid (missingRegionWarnings), a σ whose ranking
   * carries no information (flatWarnings).
   */
  warnings?: string[];
  /** Present (true) when a σ's ranking is flat (among the warnings): rounding noise, not evidence. */
  flat?: true;
  /** Atlas regions with no voxel on the volume's grid, so not in `maps[…].regions` (all of them). */
  notExplained?: Array<{ index: number; name: string }>;
}

/**
 * The default σ in mm: the best row of `npm run bench:recovery` (template baseline, fusion,
 * σ 5 mm: all 6 planted regions in the top 6 of 116 on the reference model; σ 10: 5 of 6).
 */
export const DEFAULT_SIGMA_MM = 5;

/** The σ set the 3-D mode uses for one σ in mm (the paper's appendix uses one σ for all three). */
export const sigmaSetMm = (sigma: number): SigmaSet => ({
  light: sigma,
  shadow: sigma,
  spatial: sigma,
});

/**
 * Explain a volume (a path or one already read). A volume read from a 4-D file with several
 * volumes is refused, as in `glas3d run` (checkOneVolume).
 */
export async function explain(
  volumeOrPath: Volume | string,
  options: ExplainOptions,
): Promise<Explanation> {
  const volume: Volume & { source?: { path?: string; volumes: number } } =
    typeof volumeOrPath === 'string' ? await readVolume(volumeOrPath) : volumeOrPath;
  const name = volume.source?.path ?? 'the volume';
  checkOneVolume(volume, name);
  const started = performance.now();
  const loaded = isLoaded(options.model)
    ? undefined
    : await loadClassifiers(options.model, {
        // A model with symbolic sample dims takes the volume's grid.
        dataGrid: { dims: volume.dims, channels: 1 },
        ...options.modelOptions,
        // An in-graph classifier passed in is the one used: none is loaded.
        perturbation: options.inGraph ? 'host' : options.perturbation,
        check: (c) => void volumeAxes(c, volume),
      });
  for (const note of loaded?.notes ?? []) options.onNote?.(note);
  const classifier = loaded?.classifier ?? (options.model as OnnxClassifier);
  try {
    const atlas =
      typeof options.atlas === 'object' ? options.atlas : await loadAtlas(options.atlas ?? 'aal');
    const axes = volumeAxes(classifier, volume);
    const onGrid = atlasOnVolume(atlas, volume, name);
    const wantsTemplate = options.baseline === 'template' || options.baseline === undefined;
    const template =
      options.template ??
      (wantsTemplate && atlas.template ? await readVolume(atlas.template) : undefined);
    const baselineSpec: BaselineSpec = options.baseline ?? (template ? 'template' : 'zero');
    const baselineGrid = makeBaseline(baselineSpec, volume, {
      template,
      blurSigmaMm: options.blurSigmaMm,
    });
    const normalization = options.normalize ?? 'none';
    const transform = fitIntensityNormalization(volume, normalization);
    const toInput = (data: Float32Array) =>
      toModelTensor(
        normalization === 'none' ? data : applyIntensityTransform(transform, data),
        volume.dims,
        1,
        axes,
      );
    const sample = toInput(volume.data);
    const baseline =
      typeof baselineGrid === 'number' && normalization === 'none'
        ? baselineGrid
        : toInput(
            typeof baselineGrid === 'number'
              ? new Float32Array(volume.data.length).fill(baselineGrid)
              : baselineGrid,
          );
    const points: SearchPoint[] = onGrid.regions.map((r) => r.searchPointVoxel);
    const sigmaMm = options.sigmaMm ?? [DEFAULT_SIGMA_MM];
    checkSigmas(sigmaMm);
    const sigmas = sigmaMm.map(sigmaSetMm);
    const mode = options.mode ?? 'fusion';
    if (options.targetClass !== undefined) classifier.checkClass(options.targetClass);
    const input = { sample, baseline, gridAxes: axes.tensorAxis, spacing: spacingMm(volume) };

    // A classifier passed in without its in-graph twin can only perturb on the host.
    const perturbation = options.inGraph
      ? (options.perturbation ?? 'device')
      : (loaded?.perturbation ?? options.perturbation ?? 'host');
    const inGraph = perturbation === 'device' ? (options.inGraph ?? loaded?.inGraph) : undefined;
    if (perturbation === 'device' && !inGraph)
      throw new OptionError(
        `perturbation 'device' with a classifier already loaded needs its in-graph twin (inGraph: loadInGraphClassifier)`,
      );
    const glasOptions = {
      points,
      sigmas,
      mode,
      targetClass: options.targetClass,
      onProgress: options.onProgress,
    };
    // Copies run in batches: a model that answers a sample differently in one is refused.
    if (!inGraph) await checkBatchIndependence(classifier, sample);
    const result = inGraph
      ? await runGlasInGraph(inGraph, input, glasOptions)
      : await runGlas(classifier, input, glasOptions);

    // Maps lie on the volume's grid, in its space (its xformCode: an MNI input gives MNI maps).
    const asVolume = (data: Float32Array): Volume => ({
      dims: [...volume.dims],
      affine: volume.affine,
      ...(volume.xformCode !== undefined && { xformCode: volume.xformCode }),
      data,
    });
    const maps = result.perSigma.map((s, si): SigmaExplanation => {
      const saliency = asVolume(s.map);
      const means = regionStats(onGrid, saliency);
      const rows = onGrid.regions.map((r, i) => ({
        rank: 0,
        index: r.index,
        name: r.name,
        hemisphere: r.hemisphere,
        score: s.score[i],
        regionMean: means[i].mean,
        light: s.light[i],
        shadow: s.shadow[i],
        shadowDelta: s.shadowDelta[i],
        searchPointMm: r.searchPointMm,
      }));
      rows.sort((a, b) => b.score - a.score || a.index - b.index);
      rows.forEach((row, k) => (row.rank = k + 1));
      return { sigmaMm: sigmaMm[si], saliency, regions: rows };
    });

    let recursive: RecursiveExplanation | undefined;
    let forwardPasses = result.forwardPasses;
    let modelMs = result.timing.modelMs;
    if (options.recursivePasses && options.recursivePasses > 0) {
      const rec = await runRecursiveGlas(classifier, input, {
        points,
        sigma: sigmas[0],
        mode,
        targetClass: result.targetClass,
        maxIterations: options.recursivePasses,
        perturbing: inGraph,
      });
      recursive = {
        sigmaMm: maps[0].sigmaMm,
        passes: rec.passes.map((p) => asVolume(p.map)),
        accumulated: asVolume(rec.accumulated),
        stopReason: rec.stopReason,
      };
      forwardPasses += rec.forwardPasses;
      modelMs += rec.timing.modelMs;
    }

    const flat = flatWarnings(result, mode, classifier, (i) => `σ ${maps[i].sigmaMm} mm`);
    const placement = positionUnknown(volume)
      ? [positionWarning(name, atlas, onGrid)]
      : storageWarnings(volume);
    const warnings = [...placement, ...missingRegionWarnings(atlas, onGrid, volume), ...flat];
    const notExplained = regionsLost(atlas, onGrid).map(({ index, name }) => ({ index, name }));
    return {
      targetClass: result.targetClass,
      probability: result.pOriginal,
      probabilities: Array.from(result.probabilities),
      mode,
      baseline: typeof baselineSpec === 'string' ? baselineSpec : 'volume',
      normalize: normalization,
      atlas: atlas.name,
      ...(atlasFiles(atlas) && { atlasSource: atlasFiles(atlas) }),
      maps,
      recursive,
      forwardPasses,
      perturbation,
      timing: { totalMs: performance.now() - started, modelMs },
      model: classifier.record,
      ...(warnings.length > 0 && { warnings }),
      ...(flat.length > 0 && { flat: true as const }),
      ...(notExplained.length > 0 && { notExplained }),
    };
  } finally {
    await loaded?.dispose();
  }
}

/**
 * The atlas on the volume's grid. When no region is left there and the volume's header does not
 * place it (no sform, no qform), the error names that cause, not a mismatch of spaces.
 */
/** An atlas's label and names files as absolute paths; undefined when it was built in memory. */
function atlasFiles({ source }: Atlas): AtlasSource | undefined {
  if (source.labels.startsWith('(')) return undefined; // "(labels in memory)"
  return { labels: resolve(source.labels), ...(source.names && { names: resolve(source.names) }) };
}

function atlasOnVolume(atlas: Atlas, volume: Volume, name: string): Atlas {
  try {
    return atlasOnGrid(atlas, volume);
  } catch (e) {
    if (e instanceof AtlasError && positionUnknown(volume))
      throw new NiftiError(
        `${positionUnknownText(name)} No region of atlas ${atlas.name} overlaps it as placed there, so there is nothing to explain.`,
      );
    throw e;
  }
}

/** The warning for a volume whose header does not place it (positionUnknown). */
function positionWarning(name: string, atlas: Atlas, onGrid: Atlas): string {
  return `${positionUnknownText(name)} Here the atlas regions follow that placement (${onGrid.regions.length} of ${atlas.regions.length} overlap the volume), so they are not this brain's regions and the ranking does not describe it; the model itself got the voxels as stored.`;
}

/** How many regions a warning names before "and N more". */
const REGIONS_NAMED = 5;

/**
 * Atlas regions that have no voxel on the volume's grid are not explained and not in
 * regions.csv: say how many and which, and how many lie outside the volume's field of view.
 */
export function missingRegionWarnings(atlas: Atlas, onGrid: Atlas, grid: Grid): string[] {
  const missing = regionsLost(atlas, onGrid);
  if (missing.length === 0) return [];
  const shown = missing
    .slice(0, REGIONS_NAMED)
    .map((r) => `${r.name} (${r.index})`)
    .join(', ');
  const more = missing.length > REGIONS_NAMED ? ` and ${missing.length - REGIONS_NAMED} more` : '';
  const outside = missing.filter((r) =>
    mmToVoxel(grid, r.centreMm).some((v, i) => v < -0.5 || v > grid.dims[i] - 0.5),
  ).length;
  const why =
    outside === missing.length
      ? `${missing.length === 1 ? 'it lies' : 'all lie'} outside the volume's field of view`
      : outside > 0
        ? `${outside} lie outside the volume's field of view, ${missing.length - outside} are too small for its voxels`
        : `${missing.length === 1 ? 'it is' : 'all are'} too small for its voxels`;
  // (A volume whose header does not place it has its own warning, naming the cause.)
  const advice =
    outside > 0 && !positionUnknown(grid)
      ? ` (a brain cut off, or a volume placed elsewhere than the atlas: \`glas3d info FILE\` shows its affine)`
      : '';
  return [
    `${missing.length} of ${atlas.regions.length} regions of atlas ${atlas.name} have no voxel on the volume's ${grid.dims.join('×')} grid and are not explained (regions.csv ranks ${onGrid.regions.length}): ${shown}${more}${more ? ' (all in explanation.json, notExplained)' : ''}; ${why}${advice}.`,
  ];
}

/**
 * A volume with the dims of a standard MNI grid but stored in another orientation (e.g. RAS, not
 * FSL's LAS) reaches the model mirrored if the model was trained on the standard grid: explain
 * feeds voxels as stored (the atlas follows the affine, so regions stay right). Said, not fixed:
 * the model may have been trained on volumes stored like this one.
 */
export function storageWarnings(volume: Volume): string[] {
  const grid = Object.entries(MNI_GRIDS).find(([, g]) =>
    g.dims.every((d, i) => d === volume.dims[i]),
  );
  if (!grid) return [];
  const [name, { affine }] = grid;
  const stored = orientationCode(volume.affine);
  const standard = orientationCode(affine);
  const advice =
    'glas3d run resamples scans onto the standard grid; if the model was trained on volumes stored like this one, ignore this.';
  if (stored !== standard)
    return [
      `the volume is stored ${stored}, the standard ${name} grid of this size ${standard}: the model gets the voxels as stored, so a model trained on the standard grid sees it mirrored or rotated. ${advice}`,
    ];
  // Same orientation, other placement (a shifted origin, SPM's 91×109×91 grid, other voxel
  // sizes): the regions follow the affine, the model sees voxel positions.
  const [i, j, k] = volume.dims.map((d) => (d - 1) / 2);
  const centre = (a: readonly (readonly number[])[]) =>
    [0, 1, 2].map((r) => a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3]);
  const [here, there] = [centre(volume.affine), centre(affine)];
  const shift = Math.hypot(...here.map((v, r) => v - there[r]));
  const scaled = [0, 1, 2].some((r) =>
    [0, 1, 2].some((c) => Math.abs(volume.affine[r][c] - affine[r][c]) > 1e-3),
  );
  if (shift <= 0.5 && !scaled) return [];
  const mm = (v: number[]) => `(${v.map((x) => x.toFixed(1)).join(', ')})`;
  return [
    `the volume has the size of the standard ${name} grid but not its placement: its centre voxel is at ${mm(here)} mm, the standard grid's at ${mm(there)} mm${scaled ? ', and its voxel axes differ' : ''}. ` +
      `The model gets the voxels as stored while the regions follow the affine, so a model trained on the standard grid sees the brain ${scaled ? 'misplaced' : `${shift.toFixed(1)} mm off`}. ${advice}`,
  ];
}

const isLoaded = (model: ExplainOptions['model']): model is OnnxClassifier =>
  typeof model === 'object' && 'predict' in model;

/**
 * Where the volume's x, y, z sit in the model's input, after checking that the model takes a
 * single-channel 3-D volume of exactly this grid (resampling is the cohort run's job).
 */
export function volumeAxes(classifier: OnnxClassifier, volume: Volume): GridAxes {
  const axes = classifier.gridAxes;
  if (axes?.tensorAxis.length === 2)
    throw new ModelError(
      `${classifier.modelName}: the model takes images ([${classifier.inputShape.join(', ')}], ${axes.layout}), not volumes: explain photos with glas3d image.`,
    );
  if (!axes || axes.tensorAxis.length !== 3) {
    throw new ModelError(
      `${classifier.modelName}: the model input [${classifier.inputShape.join(', ')}] is not a 3-D volume (expected NCDHW or NDHWC; give --layout if it is one).`,
    );
  }
  classifier.checkInputFits(volume.dims, 1);
  return axes;
}

export function checkSigmas(sigmas: readonly number[]): void {
  for (const s of sigmas) {
    if (!(s > 0) || !Number.isFinite(s)) {
      throw new OptionError(`σ ${s} mm is invalid: give positive values, e.g. --sigma 10,15.`);
    }
  }
}
