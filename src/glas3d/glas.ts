import { ModelError, NonFiniteOutputError, OptionError } from '../errors.js';
import type { Classifier } from './classifier.js';
import { argmaxRow, ForwardPassRunner } from './forward.js';
import type { GridLayout } from './layout.js';
import { resolveGridLayout } from './layout.js';
import { setGaussianMask } from './masks.js';
import { PointResponses } from './responses.js';
import type { SearchPoint } from './search-points.js';
import { searchPointsFromList } from './search-points.js';
import type { GlasMode, SigmaSet } from './validate.js';
import {
  checkBaseline,
  checkLambda,
  checkLightResponse,
  checkMode,
  checkSample,
  checkSigmaSets,
  checkTargetClass,
  perturbationsFor,
} from './validate.js';

/** λ of eq. 2: keeps f_s, and so the fused weight, from being exactly 0. */
export const DEFAULT_LAMBDA = 1e-5;

/** The sample to explain, in the model's memory layout, and where its grid lies. */
export interface GlasInput {
  /** One sample, prod(classifier.inputShape) floats, C order, batch axis excluded. */
  readonly sample: Float32Array;
  /** What light and shadow blend toward: a sample-sized array, or one number (0 = the paper). */
  readonly baseline: Float32Array | number;
  /** For each grid axis (0 = x, 1 = y, 2 = z) the tensor axis that holds it. */
  readonly gridAxes: readonly number[];
  /** Physical size of one grid step per grid axis; sigmas are in the same units. */
  readonly spacing: readonly number[];
}

export interface GlasOptions {
  /** Search points μ_i in grid (voxel index) coordinates. */
  readonly points: readonly SearchPoint[];
  /** One result is returned per sigma set. */
  readonly sigmas: readonly SigmaSet[];
  /** Default 'fusion'. */
  readonly mode?: GlasMode;
  /** Class y to explain; default the model's top class on the unperturbed sample. */
  readonly targetClass?: number;
  /** λ of eq. 2; default 1e-5. */
  readonly lambda?: number;
  /** Called after every model call with forward passes done and the total to run. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface GlasSigmaResult {
  readonly sigma: SigmaSet;
  /** Eq. 3's S in grid order (axis 0 fastest: x + nx·(y + ny·z)). */
  readonly map: Float32Array;
  /** f_l(μ_i) = P(y | light) per point (eq. 1); NaN where the mode runs no light pass. */
  readonly light: Float64Array;
  /** f_s(μ_i) = |P(y|I) − P(y | shadow)| + λ per point (eq. 2); NaN without shadow passes. */
  readonly shadow: Float64Array;
  /** P(y | shadow) − P(y|I) per point: negative where shadowing the point lowers the class. */
  readonly shadowDelta: Float64Array;
  /** The mode's weight w_i of eq. 3: f_l·f_s, f_l or f_s. */
  readonly score: Float64Array;
}

export interface GlasResult {
  readonly targetClass: number;
  /** P(y | I) on the unperturbed sample. */
  readonly pOriginal: number;
  /** All class probabilities on the unperturbed sample. */
  readonly probabilities: Float32Array;
  readonly perSigma: GlasSigmaResult[];
  /** Samples run through the model: 1 + sigma sets × points × (1 or 2). */
  readonly forwardPasses: number;
  readonly timing: { readonly totalMs: number; readonly modelMs: number };
}

/**
 * GLAS (eq. 1–3): perturbs the sample with a Gaussian light and/or shadow at every search point,
 * for every sigma set, and fuses the class responses into one map per sigma set.
 */
export async function runGlas(
  classifier: Classifier,
  input: GlasInput,
  options: GlasOptions,
): Promise<GlasResult> {
  const start = performance.now();
  const run = checkGlasRun(classifier, input, options);
  const runner = new ForwardPassRunner(classifier);
  const probabilities = await predictOne(runner, input.sample);
  const { targetClass, job } = jobFromReference(run, input, options, probabilities);
  const perSigma = await perturbAndFuse(runner, job);
  runner.release(); // after a failure the buffer is simply not reused
  return glasResult(targetClass, probabilities, perSigma, runner, start);
}

/**
 * A GLAS run's options checked against the model's sample shape: runGlas, runGlasInGraph and
 * runRecursiveGlas (with its one σ set) all start here.
 */
export interface CheckedGlasRun {
  readonly mode: GlasMode;
  readonly lambda: number;
  readonly layout: GridLayout;
  readonly points: SearchPoint[];
  readonly classes: number;
  /** Forward passes the run makes: the unperturbed one and one per item. */
  readonly total: number;
}

export function checkGlasRun(
  model: { readonly inputShape: readonly number[]; readonly classes: number },
  input: GlasInput,
  options: GlasOptions,
): CheckedGlasRun {
  const mode = options.mode ?? 'fusion';
  const lambda = options.lambda ?? DEFAULT_LAMBDA;
  const layout = resolveGridLayout(model.inputShape, input.gridAxes, input.spacing);
  checkSample(input.sample, layout);
  checkBaseline(input.baseline, layout);
  checkMode(mode);
  checkLambda(lambda);
  checkSigmaSets(options.sigmas);
  const points = checkedPoints(options.points, layout);
  if (options.targetClass !== undefined) checkTargetClass(options.targetClass, model.classes);
  const total = 1 + options.sigmas.length * points.length * perturbationsFor(mode).length;
  return { mode, lambda, layout, points, classes: model.classes, total };
}

/** The target class and the perturbAndFuse job, once P(· | I) is known. */
export function jobFromReference(
  run: CheckedGlasRun,
  input: GlasInput,
  options: GlasOptions,
  probabilities: Float32Array,
): { targetClass: number; job: PerturbAndFuseJob } {
  const targetClass = options.targetClass ?? argmaxRow(probabilities, 0, run.classes);
  checkLightResponse(probabilities[targetClass], run.mode, 'on the unperturbed sample');
  const { total } = run;
  options.onProgress?.(1, total);
  const job: PerturbAndFuseJob = {
    layout: run.layout,
    sample: input.sample,
    baseline: input.baseline,
    points: run.points,
    sigmas: options.sigmas,
    mode: run.mode,
    lambda: run.lambda,
    targetClass,
    pReference: probabilities[targetClass],
    onProgress: options.onProgress && ((done) => options.onProgress?.(1 + done, total)),
  };
  return { targetClass, job };
}

/** A finished run's result; `stats` counts its forward passes and model time. */
export function glasResult(
  targetClass: number,
  probabilities: Float32Array,
  perSigma: GlasSigmaResult[],
  stats: { readonly forwardPasses: number; readonly modelMs: number },
  startMs: number,
): GlasResult {
  return {
    targetClass,
    pOriginal: probabilities[targetClass],
    probabilities,
    perSigma,
    forwardPasses: stats.forwardPasses,
    timing: { totalMs: performance.now() - startMs, modelMs: stats.modelMs },
  };
}

/** Checks points against the layout's grid; throws OptionError when there are none. */
export function checkedPoints(points: readonly SearchPoint[], layout: GridLayout): SearchPoint[] {
  const checked = searchPointsFromList(points, layout.gridDims);
  if (checked.length === 0) {
    throw new OptionError('No search points given: GLAS needs at least one.');
  }
  return checked;
}

/** Runs one sample alone and returns a copy of its class probabilities. */
export async function predictOne(
  runner: ForwardPassRunner,
  sample: Float32Array,
): Promise<Float32Array> {
  runner.buffer.set(sample, 0);
  const p = await unperturbed(runner.run(1));
  return Float32Array.from(p.subarray(0, runner.classifier.classes));
}

/**
 * The model's answer on a sample without perturbation. A NaN or ±Inf there is the input's
 * (or the model's) fault, not GLAS's: the message says so.
 */
export async function unperturbed<T>(answer: Promise<T>): Promise<T> {
  try {
    return await answer;
  } catch (e) {
    if (!(e instanceof NonFiniteOutputError)) throw e;
    throw new ModelError(
      `${e.message}, on the input itself (no perturbation yet): check that the input is what the model was trained on (its intensity normalization, its grid).`,
    );
  }
}

/** Everything `perturbAndFuse` needs once the unperturbed response is known. */
export interface PerturbAndFuseJob {
  readonly layout: GridLayout;
  readonly sample: Float32Array;
  readonly baseline: Float32Array | number;
  readonly points: readonly SearchPoint[];
  readonly sigmas: readonly SigmaSet[];
  readonly mode: GlasMode;
  readonly lambda: number;
  readonly targetClass: number;
  /** P(y | sample), the reference of eq. 2. */
  readonly pReference: number;
  /** Perturbed passes done so far, after every model call. */
  readonly onProgress?: (done: number) => void;
}

/**
 * The core of GLAS once P(y|I) is known (validated inputs assumed). Streams every
 * (sigma set, point, light/shadow) perturbation through the runner's one batch buffer.
 */
export async function perturbAndFuse(
  runner: ForwardPassRunner,
  job: PerturbAndFuseJob,
): Promise<GlasSigmaResult[]> {
  const { layout, sample, baseline, points, sigmas, mode } = job;
  const responses = new PointResponses(job);

  // Copies are made in the runner's workspace, which refills a slot incrementally when it held
  // the same kind before. Items alternate light/shadow in fusion mode, so with an even batch
  // size every slot keeps its kind from batch to batch.
  const workspace = runner.workspace;
  workspace.begin(sample, baseline);
  const mask = workspace.mask;
  await responses.collect({
    batchSize: runner.batchSize,
    classes: runner.classifier.classes,
    stage(slot, centre, sigma, kind) {
      setGaussianMask(mask, layout, centre, sigma);
      workspace.fill(slot, kind);
    },
    predict: (n) => runner.run(n),
  });
  return responses.fuse(layout, points, sigmas, mode);
}
