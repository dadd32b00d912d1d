/**
 * GLAS on a 2-D image classifier (the paper's ImageNet experiments): one photo, one ONNX model
 * → the fused saliency map over the model's input crop and the score of every search point.
 *
 * The paper masks the image before normalisation. Blending is affine and normalisation is
 * affine per channel, so normalise(B + (I − B)·G) = norm(B) + (norm(I) − norm(B))·G: the engine
 * gets the normalised image and the normalised baseline, and the result is the same as masking
 * the [0, 1] image. The paper's zero baseline (black) therefore becomes (0 − mean)/std per
 * channel, not 0, in the model's input.
 */
import { ModelError, OptionError } from '../errors.js';
import { checkBatchIndependence } from '../glas3d/batch-check.js';
import { runGlasInGraph, type PerturbingClassifier } from '../glas3d/in-graph.js';
import {
  gridSearchPoints,
  runGlas,
  runRecursiveGlas,
  type GlasInput,
  type GlasMode,
  type RecursiveStopReason,
  type SigmaSet,
} from '../glas3d/index.js';
import {
  loadOnnxClassifierOn,
  type DeviceChoice,
  type GridAxes,
  type OnnxClassifier,
  type OnnxClassifierOptions,
  type PerturbationSite,
} from '../model/index.js';
import type { ModelRecord } from '../model/onnx-classifier.js';
import { flatWarnings } from '../model/flat-warning.js';
import { IMAGE_BASELINES, imageBaseline, type ImageBaselineKind } from './baselines.js';
import { channelsError } from './image-model.js';
import {
  preprocessImage,
  toModelSample,
  type CropGeometry,
  type PreprocessedImage,
  type PreprocessOptions,
} from './preprocess.js';

/** σ units: grid cells (one cell = image size / grid, the paper's 2-D reading) or pixels. */
export type SigmaUnits = 'cells' | 'pixels';

export const DEFAULT_IMAGE_SIGMA: SigmaSet = { light: 5, shadow: 3, spatial: 6 };
export const DEFAULT_GRID = 15;

export interface ExplainImageOptions {
  /** An ONNX model file, its bytes, or a classifier already loaded (reused across images). */
  model: string | Uint8Array | OnnxClassifier;
  /** Options for loading the model when `model` is not loaded yet (device 'auto' too). */
  modelOptions?: Omit<OnnxClassifierOptions, 'device'> & { device?: DeviceChoice };
  /** Preprocessing when the image is a path or bytes (default: 256 / 224 / ImageNet mean, std). */
  preprocess?: PreprocessOptions;
  /** Class y to explain; default the model's top class on the image. */
  targetClass?: number;
  /** k of the k × k grid of search points (cell centres). Default 15, the paper's. */
  grid?: number;
  /** σ of light, shadow and eq. 3's spatial weight, in `units`. Default 5, 3, 6 (cells). */
  sigma?: Partial<SigmaSet>;
  /** Default 'cells'. */
  units?: SigmaUnits;
  /** Default 'fusion'. */
  mode?: GlasMode;
  /** What light and shadow blend toward. Default 'zero', the paper's. */
  baseline?: ImageBaselineKind;
  /** σ of the 'blur' baseline in `units`. Default one grid cell. */
  blurSigma?: number;
  /** λ of eq. 2 (default 1e-5). */
  lambda?: number;
  /** Also run recursive GLAS (Algorithm 1) for up to this many passes (0 or absent = off). */
  recursivePasses?: number;
  /**
   * The same model with the perturbation in its graph (loadInGraphClassifier): GLAS then makes
   * the perturbed copies on the model's device, in recursive passes too.
   */
  inGraph?: PerturbingClassifier;
  onProgress?: (done: number, total: number) => void;
}

/** One search point and the class responses there. */
export interface ImagePointScore {
  /** Centre of the point in crop pixels (x = column, y = row). */
  readonly x: number;
  readonly y: number;
  /** f_l = P(y | light) (eq. 1); NaN in shadow mode. */
  readonly light: number;
  /** f_s = |P(y|I) − P(y | shadow)| + λ (eq. 2); NaN in light mode. */
  readonly shadow: number;
  /** P(y | shadow) − P(y | I): negative where hiding the point lowers the class. */
  readonly shadowDelta: number;
  /** The mode's weight: f_l·f_s, f_l or f_s. */
  readonly score: number;
}

export interface ImageRecursive {
  /** Each pass's map normalised to [0, 1], crop order (x fastest). */
  readonly passes: Float32Array[];
  /** P(y | I) after each pass dimmed the image by its map. */
  readonly pAfter: number[];
  readonly accumulated: Float32Array;
  readonly stopReason: RecursiveStopReason;
}

export interface ImageExplanation {
  readonly targetClass: number;
  /** P(y | I) on the unperturbed crop. */
  readonly probability: number;
  readonly probabilities: Float32Array;
  /** Eq. 3's S over the crop, width × height, row-major (index x + width·y). */
  readonly map: Float32Array;
  readonly width: number;
  readonly height: number;
  /** The k × k search points, x fastest. */
  readonly points: ImagePointScore[];
  readonly grid: number;
  readonly sigma: SigmaSet;
  readonly units: SigmaUnits;
  /** One grid cell in pixels along x and y (σ in cells × this = σ in pixels). */
  readonly cellSize: readonly [number, number];
  readonly mode: GlasMode;
  readonly baseline: ImageBaselineKind;
  /** σ of the blur baseline in pixels, when it was used. */
  readonly blurSigmaPixels?: number;
  readonly recursive?: ImageRecursive;
  /** The crop that was explained ([0, 1] RGB) and where it lies on the photo. */
  readonly image: PreprocessedImage;
  readonly geometry: CropGeometry;
  /** Samples run through the model (1 + points × passes per point, plus any recursion). */
  readonly forwardPasses: number;
  /** Where the perturbed copies were made: on the host (JS) or in the model's graph (`inGraph`). */
  readonly perturbation: PerturbationSite;
  /**
   * Milliseconds: loading the model (0 when one was given), decoding and preprocessing, GLAS
   * (all forward passes and the fusion), of which inside the model, and everything.
   */
  readonly timing: {
    readonly loadMs: number;
    readonly preprocessMs: number;
    readonly glasMs: number;
    readonly modelMs: number;
    readonly totalMs: number;
  };
  readonly model: ModelRecord;
  /** Present when the ranking of grid cells carries no information (flatWarnings). */
  readonly warnings?: string[];
}

const isPreprocessed = (v: unknown): v is PreprocessedImage =>
  typeof v === 'object' && v !== null && 'pixels' in v && 'normalization' in v;

const isClassifier = (v: unknown): v is OnnxClassifier =>
  typeof v === 'object' && v !== null && 'predict' in v;

/** Explain an image (a path, the bytes of an image file, or one already preprocessed). */
export async function explainImage(
  image: string | Uint8Array | PreprocessedImage,
  options: ExplainImageOptions,
): Promise<ImageExplanation> {
  const started = performance.now();
  const grid = options.grid ?? DEFAULT_GRID;
  const units = options.units ?? 'cells';
  const mode = options.mode ?? 'fusion';
  const baselineKind = options.baseline ?? 'zero';
  const sigma: SigmaSet = { ...DEFAULT_IMAGE_SIGMA, ...definedOnly(options.sigma ?? {}) };
  checkImageOptions(grid, units, baselineKind, options);

  const pre = isPreprocessed(image) ? image : await preprocessImage(image, options.preprocess);
  const preprocessMs = performance.now() - started;
  const { width, height } = pre;
  if (grid > Math.min(width, height)) {
    throw new OptionError(
      `grid ${grid} has more cells than the ${width}×${height} image has pixels along a side.`,
    );
  }

  const loadStart = performance.now();
  const owned = !isClassifier(options.model);
  const classifier = isClassifier(options.model)
    ? options.model
    : await loadOnnxClassifierOn(options.model, {
        // A model with symbolic sample dims takes the preprocessed image's size.
        dataGrid: { dims: [width, height], channels: 3 },
        ...options.modelOptions,
      }).then((started) => started.value);
  const loadMs = owned ? performance.now() - loadStart : 0;
  try {
    const axes = imageAxes(classifier, pre);
    if (options.targetClass !== undefined) classifier.checkClass(options.targetClass);

    const { input, cellSize, blurSigmaPixels } = imageModelInput(axes, pre, {
      grid,
      units,
      baseline: baselineKind,
      blurSigma: options.blurSigma,
    });
    const points = gridSearchPoints([width, height], grid);

    // Copies run in batches: a model that answers a sample differently in one is refused.
    if (!options.inGraph) await checkBatchIndependence(classifier, input.sample);
    const glasStart = performance.now();
    const glasOptions = {
      points,
      sigmas: [sigma],
      mode,
      targetClass: options.targetClass,
      lambda: options.lambda,
      onProgress: options.onProgress,
    };
    const result = options.inGraph
      ? await runGlasInGraph(options.inGraph, input, glasOptions)
      : await runGlas(classifier, input, glasOptions);
    const glasMs = performance.now() - glasStart;
    const s = result.perSigma[0];
    let forwardPasses = result.forwardPasses;
    let modelMs = result.timing.modelMs;

    let recursive: ImageRecursive | undefined;
    if (options.recursivePasses && options.recursivePasses > 0) {
      const rec = await runRecursiveGlas(classifier, input, {
        points,
        sigma,
        mode,
        targetClass: result.targetClass,
        lambda: options.lambda,
        maxIterations: options.recursivePasses,
        perturbing: options.inGraph,
      });
      recursive = {
        passes: rec.passes.map((p) => p.map),
        pAfter: rec.passes.map((p) => p.pAfter),
        accumulated: rec.accumulated,
        stopReason: rec.stopReason,
      };
      forwardPasses += rec.forwardPasses;
      modelMs += rec.timing.modelMs;
    }

    const warnings = flatWarnings(
      result,
      mode,
      classifier,
      () => `grid ${grid}`,
      // Photos are normalized by --preprocess (its mean and std), not --normalize.
      '--preprocess: its mean and std',
    );
    return {
      targetClass: result.targetClass,
      probability: result.pOriginal,
      probabilities: result.probabilities,
      map: s.map,
      width,
      height,
      points: points.map((p, i) => ({
        x: p[0],
        y: p[1],
        light: s.light[i],
        shadow: s.shadow[i],
        shadowDelta: s.shadowDelta[i],
        score: s.score[i],
      })),
      grid,
      sigma,
      units,
      cellSize,
      mode,
      baseline: baselineKind,
      blurSigmaPixels,
      recursive,
      image: pre,
      geometry: pre.geometry,
      forwardPasses,
      perturbation: options.inGraph ? 'device' : 'host',
      timing: {
        loadMs,
        preprocessMs,
        glasMs,
        modelMs,
        totalMs: performance.now() - started,
      },
      model: classifier.record,
      ...(warnings.length > 0 && { warnings }),
    };
  } finally {
    if (owned) await classifier.dispose();
  }
}

/**
 * Where x, y and the channels of the crop sit in the model's input, after checking that the
 * model takes a 3-channel image of exactly the crop's size.
 */
export function imageAxes(classifier: OnnxClassifier, image: PreprocessedImage): GridAxes {
  const axes = classifier.gridAxes;
  if (!axes || axes.tensorAxis.length !== 2) {
    throw new ModelError(
      `${classifier.modelName}: the model input [${classifier.inputShape.join(', ')}] is not an image (expected NCHW or NHWC; give the layout if it is one).`,
    );
  }
  if (axes.channels !== 3)
    throw channelsError(classifier.modelName, ['N', ...classifier.inputShape], axes.channels);
  try {
    classifier.checkInputFits([image.width, image.height], 3);
  } catch (e) {
    const [w, h] = axes.gridDims;
    if (
      e instanceof ModelError &&
      axes.channels === 3 &&
      (w !== image.width || h !== image.height)
    ) {
      throw new ModelError(
        `${e.message}. Preprocess ${image.source} to the model's size: crop ${w === h ? w : `{ width: ${w}, height: ${h} }`} (resize the short side to at least that).`,
      );
    }
    throw e;
  }
  return axes;
}

/** What GLAS needs from a preprocessed image: the model's sample and baseline, grid and spacing. */
export interface ImageModelInput {
  readonly input: GlasInput;
  /** One grid cell in pixels along x and y. */
  readonly cellSize: [number, number];
  /** σ of the blur baseline in pixels, when it is used. */
  readonly blurSigmaPixels?: number;
}

/**
 * The crop normalised into the model's layout, the baseline likewise, and the spacing that
 * makes σ mean grid cells (one cell = size / grid) or pixels.
 */
export function imageModelInput(
  axes: GridAxes,
  pre: PreprocessedImage,
  options: { grid: number; units: SigmaUnits; baseline: ImageBaselineKind; blurSigma?: number },
): ImageModelInput {
  const { width, height } = pre;
  const { grid, units, baseline: baselineKind } = options;
  const cellSize: [number, number] = [width / grid, height / grid];
  const spacing = units === 'cells' ? [1 / cellSize[0], 1 / cellSize[1]] : [1, 1];
  // One cell in pixels for the isotropic blur (the geometric mean when cells are not square).
  const cellPixels = Math.sqrt(cellSize[0] * cellSize[1]);
  const blurSigmaPixels =
    baselineKind !== 'blur'
      ? undefined
      : options.blurSigma === undefined
        ? cellPixels
        : options.blurSigma * (units === 'cells' ? cellPixels : 1);
  const size = { width, height };
  const sample = toModelSample(pre.pixels, size, pre.normalization, axes);
  const baselinePixels = imageBaseline(
    baselineKind,
    pre.pixels,
    width,
    height,
    blurSigmaPixels ?? 1,
  );
  const baseline = toModelSample(baselinePixels, size, pre.normalization, axes);
  return {
    input: { sample, baseline, gridAxes: axes.tensorAxis, spacing },
    cellSize,
    blurSigmaPixels,
  };
}

function definedOnly(sigma: Partial<SigmaSet>): Partial<SigmaSet> {
  const out: { light?: number; shadow?: number; spatial?: number } = {};
  for (const key of ['light', 'shadow', 'spatial'] as const) {
    if (sigma[key] !== undefined) out[key] = sigma[key];
  }
  return out;
}

function checkImageOptions(
  grid: number,
  units: SigmaUnits,
  baseline: ImageBaselineKind,
  options: ExplainImageOptions,
): void {
  if (!Number.isInteger(grid) || grid < 1) {
    throw new OptionError(`grid ${grid} must be a positive whole number (the paper uses 15).`);
  }
  if (units !== 'cells' && units !== 'pixels') {
    throw new OptionError(`σ units '${units}' are not 'cells' or 'pixels'.`);
  }
  if (!IMAGE_BASELINES.includes(baseline)) {
    throw new OptionError(
      `unknown baseline '${baseline}': use one of ${IMAGE_BASELINES.join(', ')}.`,
    );
  }
  for (const key of ['light', 'shadow', 'spatial'] as const) {
    const v = options.sigma?.[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) {
      throw new OptionError(`σ ${key} = ${v} must be a positive finite number (in ${units}).`);
    }
  }
  const b = options.blurSigma;
  if (b !== undefined && (!Number.isFinite(b) || b <= 0)) {
    throw new OptionError(`blur σ ${b} must be a positive finite number (in ${units}).`);
  }
  const r = options.recursivePasses;
  if (r !== undefined && (!Number.isInteger(r) || r < 0)) {
    throw new OptionError(`recursive passes ${r} must be a whole number ≥ 0.`);
  }
}
