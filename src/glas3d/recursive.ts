import { OptionError } from '../errors.js';
import type { Classifier } from './classifier.js';
import { argmaxRow, ForwardPassRunner } from './forward.js';
import type { GlasInput, GlasSigmaResult } from './glas.js';
import { checkGlasRun, perturbAndFuse, predictOne } from './glas.js';
import type { GridLayout } from './layout.js';
import { perturbAndFuseInGraph, type PerturbingClassifier } from './in-graph.js';
import { attenuateInto } from './perturb.js';
import type { SearchPoint } from './search-points.js';
import type { GlasMode, SigmaSet } from './validate.js';

export interface RecursiveGlasOptions {
  readonly points: readonly SearchPoint[];
  readonly sigma: SigmaSet;
  /** Default 'fusion'. */
  readonly mode?: GlasMode;
  /** Default: the model's top class on the unperturbed sample; kept for every pass. */
  readonly targetClass?: number;
  readonly lambda?: number;
  /** Points where the normalized map exceeds t1 are dropped (paper: 0.8). */
  readonly t1?: number;
  /** Stop once sqrt(mean(S) / P(y|I)) ≥ t2 (paper: 5). */
  readonly t2?: number;
  /** Upper bound on passes, which the paper leaves open. Default 5. */
  readonly maxIterations?: number;
  /** Called after every model call within a pass (pass counts from 0). */
  readonly onProgress?: (done: number, total: number, pass: number) => void;
  /**
   * The same model with the perturbation in its graph: each pass's perturbed copies are then made
   * on its device (the unperturbed predictions stay with `classifier`). Default: on the host.
   */
  readonly perturbing?: PerturbingClassifier;
}

/** Why the recursion ended. */
export type RecursiveStopReason =
  | 'threshold' // sqrt(mean(S) / P(y|I)) reached t2
  | 'no-points' // every search point was dropped
  | 'max-iterations'
  | 'empty-map'; // S was 0 everywhere, so nothing more can be found

export interface RecursiveGlasPass {
  /** S normalized to [0, 1] (divided by its maximum), grid order. */
  readonly map: Float32Array;
  /** max(S) before normalization. */
  readonly mapMax: number;
  /** Indices (into options.points) of the points searched in this pass. */
  readonly searched: number[];
  /** Indices (into options.points) dropped after this pass: their voxel had S > t1. */
  readonly dropped: number[];
  /** P(y | I) on the input this pass explained. */
  readonly pBefore: number;
  /** P(y | I) after I was dimmed by this pass's map. */
  readonly pAfter: number;
  /** sqrt(mean(S) / pAfter), compared with t2. */
  readonly stopValue: number;
  /** The plain GLAS result of this pass (unnormalized map, per-point scores). */
  readonly glas: GlasSigmaResult;
}

export interface RecursiveGlasResult {
  readonly targetClass: number;
  readonly pOriginal: number;
  readonly passes: RecursiveGlasPass[];
  /** O = Σ of the normalized pass maps, grid order. */
  readonly accumulated: Float32Array;
  readonly stopReason: RecursiveStopReason;
  /** The input after the last pass dimmed it (model layout). */
  readonly finalSample: Float32Array;
  readonly forwardPasses: number;
  readonly timing: { readonly totalMs: number; readonly modelMs: number };
}

/**
 * Recursive GLAS (Algorithm 1): explain, drop the search points the map already covers, dim the
 * input where the map is high (I ← B + (I − B)·(1 − S)) and explain again, so that each pass
 * finds the next most important evidence.
 */
export async function runRecursiveGlas(
  classifier: Classifier,
  input: GlasInput,
  options: RecursiveGlasOptions,
): Promise<RecursiveGlasResult> {
  const start = performance.now();
  const t1 = options.t1 ?? 0.8;
  const t2 = options.t2 ?? 5;
  const maxIterations = options.maxIterations ?? 5;
  const { mode, lambda, layout, points } = checkGlasRun(classifier, input, {
    points: options.points,
    sigmas: [options.sigma],
    mode: options.mode,
    lambda: options.lambda,
    targetClass: options.targetClass,
  });
  if (!Number.isFinite(t1)) throw new OptionError(`t1 ${t1} must be a finite number.`);
  if (Number.isNaN(t2)) throw new OptionError(`t2 must be a number.`);
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new OptionError(`maxIterations ${maxIterations} must be a whole number ≥ 1.`);
  }
  const runner = new ForwardPassRunner(classifier);

  const current = Float32Array.from(input.sample);
  const probabilities = await predictOne(runner, current);
  const targetClass = options.targetClass ?? argmaxRow(probabilities, 0, classifier.classes);
  const pOriginal = probabilities[targetClass];
  const accumulated = new Float32Array(layout.gridSize);
  const voxelOfPoint = points.map((p) => nearestGridIndex(p, layout));
  const passes: RecursiveGlasPass[] = [];
  let remaining = points.map((_, i) => i);
  let pBefore = pOriginal;
  let stopReason: RecursiveStopReason = 'max-iterations';
  const deviceStats = { forwardPasses: 0, modelMs: 0 };

  for (let pass = 0; pass < maxIterations; pass++) {
    const passTotal = remaining.length * (mode === 'fusion' ? 2 : 1);
    const job = {
      layout,
      sample: current,
      baseline: input.baseline,
      points: remaining.map((i) => points[i]),
      sigmas: [options.sigma],
      mode,
      lambda,
      targetClass,
      pReference: pBefore,
      onProgress:
        options.onProgress && ((done: number) => options.onProgress?.(done, passTotal, pass)),
    };
    const perturbing = options.perturbing;
    if (perturbing) await perturbing.setSample(current, input.baseline, input.spacing);
    const [glas] = perturbing
      ? await perturbAndFuseInGraph(perturbing, job, deviceStats)
      : await perturbAndFuse(runner, job);
    const map = Float32Array.from(glas.map);
    const mapMax = maxOf(map);
    if (!(mapMax > 0)) {
      stopReason = 'empty-map';
      break;
    }
    for (let j = 0; j < map.length; j++) map[j] /= mapMax;

    const dropped = remaining.filter((i) => map[voxelOfPoint[i]] > t1);
    attenuateInto(current, current, input.baseline, layout, map);
    for (let j = 0; j < map.length; j++) accumulated[j] += map[j];
    const pAfter = (await predictOne(runner, current))[targetClass];
    const stopValue = Math.sqrt(meanOf(map) / pAfter);
    passes.push({
      map,
      mapMax,
      searched: remaining,
      dropped,
      pBefore,
      pAfter,
      stopValue,
      glas,
    });
    remaining = remaining.filter((i) => !dropped.includes(i));
    pBefore = pAfter;
    if (stopValue >= t2) {
      stopReason = 'threshold';
      break;
    }
    if (remaining.length === 0) {
      stopReason = 'no-points';
      break;
    }
  }
  runner.release(); // after a failure the buffer is simply not reused
  return {
    targetClass,
    pOriginal,
    passes,
    accumulated,
    stopReason,
    finalSample: current,
    forwardPasses: runner.forwardPasses + deviceStats.forwardPasses,
    timing: {
      totalMs: performance.now() - start,
      modelMs: runner.modelMs + deviceStats.modelMs,
    },
  };
}

/** Grid-order index of the voxel nearest to a point (rounded, clamped into the grid). */
export function nearestGridIndex(point: SearchPoint, layout: GridLayout): number {
  let index = 0;
  let stride = 1;
  for (let a = 0; a < layout.gridDims.length; a++) {
    const n = layout.gridDims[a];
    const i = Math.min(n - 1, Math.max(0, Math.round(point[a])));
    index += i * stride;
    stride *= n;
  }
  return index;
}

function maxOf(values: Float32Array): number {
  let m = -Infinity;
  for (let j = 0; j < values.length; j++) if (values[j] > m) m = values[j];
  return m;
}

function meanOf(values: Float32Array): number {
  let sum = 0;
  for (let j = 0; j < values.length; j++) sum += values[j];
  return sum / values.length;
}
