/**
 * GLAS's forward passes with every class kept. A light or shadow copy does not depend on the
 * class explained, so one set of passes answers eq. 1–2 for all classes at once: the pointing
 * game explains several object classes per photo, and a σ sweep reuses each σ_l's light passes
 * across every σ_s and σ_spatial. `fuseClass` then gives exactly what runGlas gives for one class
 * (same masks, same perturbation, same eq. 3).
 */
import { OptionError } from '../errors.js';
import {
  DEFAULT_LAMBDA,
  ForwardPassRunner,
  fuseMap,
  resolveGridLayout,
  searchPointsFromList,
  setGaussianMask,
  type Classifier,
  type GlasInput,
  type GlasMode,
  type SearchPoint,
} from '../glas3d/index.js';

export interface ClassResponses {
  readonly classes: number;
  readonly points: readonly SearchPoint[];
  readonly gridDims: readonly number[];
  readonly spacing: readonly number[];
  /** P(c | I) on the unperturbed sample. */
  readonly probabilities: Float32Array;
  /** σ_light → P(c | light at point i), at index i·classes + c. */
  readonly light: ReadonlyMap<number, Float32Array>;
  /** σ_shadow → P(c | shadow at point i), at index i·classes + c. */
  readonly shadow: ReadonlyMap<number, Float32Array>;
  readonly forwardPasses: number;
  readonly modelMs: number;
  readonly totalMs: number;
}

export interface ClassResponseOptions {
  /** σ of the light masks to run (physical units of input.spacing); may be empty. */
  readonly lightSigmas: readonly number[];
  readonly shadowSigmas: readonly number[];
  /** P(c | I) when already known: the unperturbed pass is then not run. */
  readonly probabilities?: Float32Array;
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * points × (light σ count + shadow σ count) forward passes, plus the unperturbed one unless its
 * probabilities are given; all class rows kept.
 */
export async function classResponses(
  classifier: Classifier,
  input: GlasInput,
  points: readonly SearchPoint[],
  options: ClassResponseOptions,
): Promise<ClassResponses> {
  const start = performance.now();
  const layout = resolveGridLayout(classifier.inputShape, input.gridAxes, input.spacing);
  if (input.sample.length !== layout.sampleSize) {
    throw new OptionError(
      `classResponses: the sample has ${input.sample.length} values, the model input ${layout.sampleSize}.`,
    );
  }
  const checked = searchPointsFromList(points, layout.gridDims);
  const sigmas = [...options.lightSigmas, ...options.shadowSigmas];
  if (sigmas.some((s) => !Number.isFinite(s) || s <= 0)) {
    throw new OptionError(`σ values [${sigmas.join(', ')}] must be positive finite numbers.`);
  }
  const classes = classifier.classes;
  const runner = new ForwardPassRunner(classifier);
  let probabilities = options.probabilities;
  if (probabilities === undefined) {
    runner.buffer.set(input.sample, 0);
    probabilities = Float32Array.from((await runner.run(1)).subarray(0, classes));
  } else if (probabilities.length !== classes) {
    throw new OptionError(`${probabilities.length} probabilities given for ${classes} classes.`);
  }

  type Job = { kind: 'light' | 'shadow'; sigma: number; rows: Float32Array };
  const jobs: Job[] = [
    ...options.lightSigmas.map((sigma) => ({
      kind: 'light' as const,
      sigma,
      rows: new Float32Array(checked.length * classes),
    })),
    ...options.shadowSigmas.map((sigma) => ({
      kind: 'shadow' as const,
      sigma,
      rows: new Float32Array(checked.length * classes),
    })),
  ];
  const first = runner.forwardPasses;
  const total = first + jobs.length * checked.length;
  options.onProgress?.(first, total);
  // Copies are made in the runner's workspace as runGlas makes them (bit for bit perturbInto's),
  // begun after the unperturbed pass wrote slot 0. Light σ run before shadow σ, so a slot changes
  // kind at most once; otherwise the workspace refills it incrementally.
  const workspace = runner.workspace;
  workspace.begin(input.sample, input.baseline);
  const mask = workspace.mask;
  const slotJob = new Int32Array(runner.batchSize);
  const slotPoint = new Int32Array(runner.batchSize);
  let filled = 0;
  let done = first;
  const flush = async () => {
    const p = await runner.run(filled);
    for (let s = 0; s < filled; s++) {
      jobs[slotJob[s]].rows.set(p.subarray(s * classes, (s + 1) * classes), slotPoint[s] * classes);
    }
    done += filled;
    filled = 0;
    options.onProgress?.(done, total);
  };
  for (let j = 0; j < jobs.length; j++) {
    for (let i = 0; i < checked.length; i++) {
      setGaussianMask(mask, layout, checked[i], jobs[j].sigma);
      workspace.fill(filled, jobs[j].kind);
      slotJob[filled] = j;
      slotPoint[filled] = i;
      if (++filled === runner.batchSize) await flush();
    }
  }
  if (filled > 0) await flush();
  runner.release();
  const light = new Map<number, Float32Array>();
  const shadow = new Map<number, Float32Array>();
  for (const job of jobs) (job.kind === 'light' ? light : shadow).set(job.sigma, job.rows);
  return {
    classes,
    points: checked,
    gridDims: layout.gridDims,
    spacing: layout.spacing,
    probabilities,
    light,
    shadow,
    forwardPasses: runner.forwardPasses,
    modelMs: runner.modelMs,
    totalMs: performance.now() - start,
  };
}

export interface FuseClassOptions {
  readonly mode: GlasMode;
  /** Must be among the responses' light σ (unless mode is 'shadow'). */
  readonly lightSigma: number;
  /** Must be among the responses' shadow σ (unless mode is 'light'). */
  readonly shadowSigma: number;
  readonly spatialSigma: number;
  readonly lambda?: number;
}

/** Eq. 1–3 for one class from the kept responses: per-point f_l, f_s, weight, and the map. */
export function fuseClass(
  responses: ClassResponses,
  targetClass: number,
  options: FuseClassOptions,
): {
  map: Float32Array;
  light: Float64Array;
  shadow: Float64Array;
  /** P(y | shadow) − P(y | I); NaN in light mode. */
  shadowDelta: Float64Array;
  score: Float64Array;
} {
  const { classes, points } = responses;
  const lambda = options.lambda ?? DEFAULT_LAMBDA;
  const n = points.length;
  const light = new Float64Array(n).fill(NaN);
  const shadow = new Float64Array(n).fill(NaN);
  const shadowDelta = new Float64Array(n).fill(NaN);
  if (options.mode !== 'shadow') {
    const rows = responses.light.get(options.lightSigma);
    if (!rows) throw new OptionError(`no light passes at σ ${options.lightSigma} were run.`);
    for (let i = 0; i < n; i++) light[i] = rows[i * classes + targetClass];
  }
  if (options.mode !== 'light') {
    const rows = responses.shadow.get(options.shadowSigma);
    if (!rows) throw new OptionError(`no shadow passes at σ ${options.shadowSigma} were run.`);
    const reference = responses.probabilities[targetClass];
    for (let i = 0; i < n; i++) {
      shadowDelta[i] = rows[i * classes + targetClass] - reference;
      shadow[i] = Math.abs(shadowDelta[i]) + lambda;
    }
  }
  const score = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    score[i] =
      options.mode === 'fusion'
        ? light[i] * shadow[i]
        : options.mode === 'light'
          ? light[i]
          : shadow[i];
  }
  const map = fuseMap({
    gridDims: responses.gridDims,
    spacing: responses.spacing,
    points,
    weights: score,
    sigmaSpatial: options.spatialSigma,
  });
  return { map, light, shadow, shadowDelta, score };
}
