/**
 * GLAS with the perturbations made by the classifier itself (on its device) instead of in JS.
 * The engine stays pure: it only sees `PerturbingClassifier`, which takes the sample once and
 * then rows of (centre, σ, light/shadow); src/model's InGraphOnnxClassifier implements it with
 * the perturbation joined into the ONNX graph, and `perturbInJs` implements it over any
 * Classifier with the host's perturbation (the reference the in-graph path is tested against).
 *
 * runGlasInGraph gives runGlas's result (same items, same order, same fusion); only where the
 * perturbed copies are made differs.
 */
import { OptionError } from '../errors.js';
import type { Classifier, ResponseKind } from './classifier.js';
import { checkProbabilities, ForwardPassRunner } from './forward.js';
import type { FusionInput } from './fusion.js';
import { fusionInput, PointResponses } from './responses.js';
import type {
  GlasInput,
  GlasOptions,
  GlasResult,
  GlasSigmaResult,
  PerturbAndFuseJob,
} from './glas.js';
import { checkGlasRun, glasResult, jobFromReference, unperturbed } from './glas.js';
import { resolveGridLayout, type GridLayout } from './layout.js';
import { setGaussianMask } from './masks.js';
import { checkBaseline, checkSample } from './validate.js';

/** Light rows carry kind 1, shadow rows 0 (as the perturbation graph reads them). */
export const LIGHT = 1;
export const SHADOW = 0;

/** n perturbation rows, laid out for one device call. */
export interface PerturbationRows {
  /** n × gridRank Gaussian centres μ in grid (voxel index) coordinates, row after row. */
  readonly centres: Float64Array;
  /** n σ values in the units of the spacing. */
  readonly sigmas: Float64Array;
  /** n kinds: LIGHT (1) or SHADOW (0). */
  readonly kinds: Uint8Array;
}

/** A classifier that makes GLAS's perturbed copies of one sample itself. */
export interface PerturbingClassifier {
  /** Sample shape without the batch axis, in the model's memory order. */
  readonly inputShape: readonly number[];
  readonly classes: number;
  /** What the rows hold; default 'probabilities'. */
  readonly responses?: ResponseKind;
  /** Most rows per `predictPerturbed` call. */
  readonly batchSize: number;
  /** For each grid axis the sample-tensor axis that holds it (what the perturbation was built for). */
  readonly gridAxes: readonly number[];
  /**
   * Sets what later calls perturb: the sample and baseline (model layout; a number for a
   * constant baseline) and the physical spacing of the grid axes.
   */
  setSample(
    sample: Float32Array,
    baseline: Float32Array | number,
    spacing: readonly number[],
  ): void | Promise<void>;
  /** Class probabilities of the unperturbed sample (1 × classes). */
  predictSample(): Promise<Float32Array>;
  /**
   * Class probabilities of n perturbed copies of the sample, n × classes. (Rows are in double
   * precision so a JS implementation perturbs exactly as runGlas; a float32 device rounds them.)
   */
  predictPerturbed(rows: PerturbationRows, n: number): Promise<Float32Array>;
  /**
   * Eq. 3 on the classifier's device, when it can (a GPU: the map is a matrix product there;
   * maps too small to gain stay on the host). Without it, fuseMap runs on the host. Float32 where fuseMap sums in double: the weights are
   * never negative, so the map differs by at most (points)·2^-24 relative, in practice ~1e-7.
   */
  fuseMap?(input: FusionInput): Promise<Float32Array>;
}

/** runGlas with the perturbations made by `classifier` (see PerturbingClassifier). */
export async function runGlasInGraph(
  classifier: PerturbingClassifier,
  input: GlasInput,
  options: GlasOptions,
): Promise<GlasResult> {
  const start = performance.now();
  const built = classifier.gridAxes;
  if (built.length !== input.gridAxes.length || built.some((t, a) => t !== input.gridAxes[a]))
    throw new OptionError(
      `gridAxes [${input.gridAxes.join(', ')}] differ from the axes [${built.join(', ')}] ` +
        `the classifier's in-graph perturbation was built for; load it with these grid axes.`,
    );
  const run = checkGlasRun(classifier, input, options);
  if (!Number.isInteger(classifier.batchSize) || classifier.batchSize < 1)
    throw new OptionError(`batch size ${classifier.batchSize} must be a whole number ≥ 1`);

  const stats = { forwardPasses: 0, modelMs: 0 };
  await classifier.setSample(input.sample, input.baseline, input.spacing);
  const t = performance.now();
  const p = await unperturbed(
    classifier.predictSample().then((q) => {
      checkProbabilities(q, 1, classifier.classes, classifier.responses);
      return q;
    }),
  );
  stats.modelMs += performance.now() - t;
  stats.forwardPasses += 1;
  const probabilities = Float32Array.from(p.subarray(0, classifier.classes));
  const { targetClass, job } = jobFromReference(run, input, options, probabilities);
  const perSigma = await perturbAndFuseInGraph(classifier, job, stats);
  return glasResult(targetClass, probabilities, perSigma, stats, start);
}

/**
 * perturbAndFuse for a PerturbingClassifier whose sample is already set (setSample): the same
 * (sigma set, point, light/shadow) items in the same order, sent as rows instead of copies.
 * `stats` (optional) accumulates forward passes and model time.
 */
export async function perturbAndFuseInGraph(
  classifier: PerturbingClassifier,
  job: PerturbAndFuseJob,
  stats: { forwardPasses: number; modelMs: number } = { forwardPasses: 0, modelMs: 0 },
): Promise<GlasSigmaResult[]> {
  const { layout, points, sigmas, mode } = job;
  const classes = classifier.classes;
  const rank = layout.gridDims.length;
  const batchSize = classifier.batchSize;
  const responses = new PointResponses(job);

  const rows = {
    centres: new Float64Array(batchSize * rank),
    sigmas: new Float64Array(batchSize),
    kinds: new Uint8Array(batchSize),
  };
  await responses.collect({
    batchSize,
    classes,
    stage(slot, centre, sigma, kind) {
      for (let a = 0; a < rank; a++) rows.centres[slot * rank + a] = centre[a];
      rows.sigmas[slot] = sigma;
      rows.kinds[slot] = kind === 'light' ? LIGHT : SHADOW;
    },
    async predict(n) {
      const view: PerturbationRows =
        n === batchSize
          ? rows
          : {
              centres: rows.centres.subarray(0, n * rank),
              sigmas: rows.sigmas.subarray(0, n),
              kinds: rows.kinds.subarray(0, n),
            };
      const t = performance.now();
      const p = await classifier.predictPerturbed(view, n);
      stats.modelMs += performance.now() - t;
      stats.forwardPasses += n;
      checkProbabilities(p, n, classes, classifier.responses);
      return p;
    },
  });

  if (!classifier.fuseMap) return responses.fuse(layout, points, sigmas, mode);
  const results: GlasSigmaResult[] = [];
  for (const [set, sigma] of sigmas.entries()) {
    const score = responses.score(set, mode);
    const map = await classifier.fuseMap(fusionInput(layout, points, score, sigma));
    results.push(responses.result(set, sigma, score, map));
  }
  return results;
}

/**
 * A PerturbingClassifier over any Classifier that makes the copies on the host, in the runner's
 * batch workspace as runGlas makes them (bit for bit perturbInto's): the reference for in-graph
 * implementations and a fallback for models the graph cannot be joined to.
 * runGlasInGraph(perturbInJs(c, axes), …) equals runGlas(c, …).
 */
export function perturbInJs(
  classifier: Classifier,
  gridAxes: readonly number[],
): PerturbingClassifier {
  const runner = new ForwardPassRunner(classifier);
  const workspace = runner.workspace;
  let state: { layout: GridLayout; sample: Float32Array; baseline: Float32Array | number } | null =
    null;
  // Whether the workspace holds state's copies: setSample changes the sample, and predictSample
  // writes it into slot 0, so either makes the next predictPerturbed begin again.
  let begun = false;
  const current = () => {
    if (!state) throw new OptionError('setSample must be called before predicting');
    return state;
  };
  return {
    inputShape: classifier.inputShape,
    classes: classifier.classes,
    batchSize: classifier.batchSize,
    gridAxes: [...gridAxes],
    setSample(sample, baseline, spacing) {
      const layout = resolveGridLayout(classifier.inputShape, gridAxes, spacing);
      checkSample(sample, layout);
      checkBaseline(baseline, layout);
      state = { layout, sample, baseline };
      begun = false;
    },
    async predictSample() {
      runner.buffer.set(current().sample, 0);
      begun = false;
      return Float32Array.from((await runner.run(1)).subarray(0, classifier.classes));
    },
    async predictPerturbed(rows, n) {
      const { layout, sample, baseline } = current();
      if (!Number.isInteger(n) || n < 1 || n > runner.batchSize)
        throw new RangeError(
          `predictPerturbed: n = ${n} must be a whole number in 1..${runner.batchSize}`,
        );
      if (!begun) workspace.begin(sample, baseline);
      begun = true;
      const rank = layout.gridDims.length;
      const centre = new Array<number>(rank);
      for (let k = 0; k < n; k++) {
        for (let a = 0; a < rank; a++) centre[a] = rows.centres[k * rank + a];
        setGaussianMask(workspace.mask, layout, centre, rows.sigmas[k]);
        workspace.fill(k, rows.kinds[k] === LIGHT ? 'light' : 'shadow');
      }
      return runner.run(n);
    },
  };
}
