/**
 * The per-point responses of one GLAS run, filled as batches come back, and their fusion into
 * one map per σ set. Shared by the host-perturbation path (glas.ts) and the in-graph path
 * (in-graph.ts): both run their items through `collect`, and differ only in how a batch of
 * perturbed samples is made and run (their BatchedModel).
 *
 * Items are numbered set-major: item = set·(points·kinds) + point·kinds + kind.
 */
import { ModelError, NonFiniteOutputError } from '../errors.js';
import { fuseMap, type FusionInput } from './fusion.js';
import type { GlasSigmaResult, PerturbAndFuseJob } from './glas.js';
import type { GridLayout } from './layout.js';
import type { SearchPoint } from './search-points.js';
import type { Perturbation } from './perturb.js';
import { checkLightResponse, perturbationsFor, type GlasMode, type SigmaSet } from './validate.js';

/** How `PointResponses.collect` gets a batch of perturbed samples run. */
export interface BatchedModel {
  /** Most items per `predict` call. */
  readonly batchSize: number;
  readonly classes: number;
  /** Puts one item's perturbation, a Gaussian at `centre`, into batch slot `slot`. */
  stage(slot: number, centre: SearchPoint, sigma: number, kind: Perturbation): void;
  /** Runs slots 0 … n − 1; returns their class probabilities, checked, `classes` per row. */
  predict(n: number): Promise<Float32Array>;
}

export class PointResponses {
  readonly light: Float64Array[];
  readonly shadow: Float64Array[];
  readonly shadowDelta: Float64Array[];
  /** Perturbed passes the job makes: σ sets × points × kinds. */
  readonly itemCount: number;
  private readonly pointCount: number;
  private readonly job: PerturbAndFuseJob;
  private readonly kinds: readonly ('light' | 'shadow')[];
  private readonly targetClass: number;
  /** P(y | sample), the reference of eq. 2. */
  private readonly pReference: number;
  private readonly lambda: number;
  private readonly perSet: number;

  constructor(job: PerturbAndFuseJob) {
    const sigmaSets = job.sigmas.length;
    const pointCount = job.points.length;
    this.pointCount = pointCount;
    this.job = job;
    this.kinds = perturbationsFor(job.mode);
    this.targetClass = job.targetClass;
    this.pReference = job.pReference;
    this.lambda = job.lambda;
    const nan = () =>
      Array.from({ length: sigmaSets }, () => new Float64Array(pointCount).fill(NaN));
    this.light = nan();
    this.shadow = nan();
    this.shadowDelta = nan();
    this.perSet = pointCount * this.kinds.length;
    this.itemCount = sigmaSets * this.perSet;
  }

  /** Which σ set, point and kind an item number stands for. */
  itemAt(item: number): { set: number; point: number; kind: 'light' | 'shadow' } {
    const set = Math.floor(item / this.perSet);
    const rest = item - set * this.perSet;
    return {
      set,
      point: Math.floor(rest / this.kinds.length),
      kind: this.kinds[rest % this.kinds.length],
    };
  }

  /**
   * Runs every item, in item order, in batches of at most model.batchSize: stages each into the
   * next slot, and once the batch is full (and at the end) predicts it, records every row, and
   * reports the items done to the job's onProgress.
   */
  async collect(model: BatchedModel): Promise<void> {
    const { points, sigmas } = this.job;
    const slotItem = new Int32Array(model.batchSize);
    let filled = 0;
    let done = 0;
    const flush = async (): Promise<void> => {
      const p = await model.predict(filled).catch((e: unknown) => {
        throw this.perturbedFailure(e, slotItem, filled);
      });
      for (let s = 0; s < filled; s++) this.record(slotItem[s], p, s, model.classes);
      done += filled;
      filled = 0;
      this.job.onProgress?.(done);
    };
    for (let item = 0; item < this.itemCount; item++) {
      const { set, point, kind } = this.itemAt(item);
      const sigma = kind === 'light' ? sigmas[set].light : sigmas[set].shadow;
      model.stage(filled, points[point], sigma, kind);
      slotItem[filled++] = item;
      if (filled === model.batchSize) await flush();
    }
    if (filled > 0) await flush();
  }

  /**
   * A NaN or ±Inf for a perturbed copy, said as such: which copy broke the model, which answers
   * the unperturbed input (that ran first). Other errors pass unchanged.
   */
  private perturbedFailure(e: unknown, slotItem: Int32Array, filled: number): unknown {
    if (!(e instanceof NonFiniteOutputError) || e.sample >= filled) return e;
    const { set, point, kind } = this.itemAt(slotItem[e.sample]);
    const sigmas = this.job.sigmas[set];
    const centre = this.job.points[point].map((c) => Math.round(c * 10) / 10);
    return new ModelError(
      `the model gives ${e.value} for a perturbed copy (${kind} at search point ${point + 1} of ${this.pointCount}, grid (${centre.join(', ')}), σ ${kind === 'light' ? sigmas.light : sigmas.shadow}), ` +
        'though it answers the input itself: it breaks on some blends of the input and the baseline. ' +
        'Try another baseline, or check the model for operations that fail out of its training range (Log, Sqrt, Div).',
    );
  }

  /** Record row `row` of a batch's probabilities (`classes` per row) as item `item`. */
  record(item: number, probabilities: Float32Array, row: number, classes: number): void {
    const { set, point, kind } = this.itemAt(item);
    const py = probabilities[row * classes + this.targetClass];
    if (kind === 'light') {
      checkLightResponse(py, this.job.mode, `with light at search point ${point + 1}`);
      this.light[set][point] = py;
    } else {
      const delta = py - this.pReference;
      this.shadowDelta[set][point] = delta;
      this.shadow[set][point] = Math.abs(delta) + this.lambda;
    }
  }

  /** The mode's weight w_i of eq. 3 per point of σ set `set`: f_l·f_s, f_l or f_s. */
  score(set: number, mode: GlasMode): Float64Array {
    const light = this.light[set];
    const shadow = this.shadow[set];
    const score = new Float64Array(this.pointCount);
    for (let i = 0; i < this.pointCount; i++) {
      score[i] = mode === 'fusion' ? light[i] * shadow[i] : mode === 'light' ? light[i] : shadow[i];
    }
    return score;
  }

  /** σ set `set`'s result, given its scores and the eq. 3 map made from them. */
  result(set: number, sigma: SigmaSet, score: Float64Array, map: Float32Array): GlasSigmaResult {
    const { light, shadow, shadowDelta } = this;
    return {
      sigma,
      map,
      light: light[set],
      shadow: shadow[set],
      shadowDelta: shadowDelta[set],
      score,
    };
  }

  /** Eq. 3 per σ set (on the host), weighted by the mode's score. */
  fuse(
    layout: GridLayout,
    points: readonly SearchPoint[],
    sigmas: readonly SigmaSet[],
    mode: GlasMode,
  ): GlasSigmaResult[] {
    return sigmas.map((sigma, set) => {
      const score = this.score(set, mode);
      const map = fuseMap(fusionInput(layout, points, score, sigma));
      return this.result(set, sigma, score, map);
    });
  }
}

/** What eq. 3 needs for one σ set. */
export function fusionInput(
  layout: GridLayout,
  points: readonly SearchPoint[],
  weights: Float64Array,
  sigma: SigmaSet,
): FusionInput {
  return {
    gridDims: layout.gridDims,
    spacing: layout.spacing,
    points,
    weights,
    sigmaSpatial: sigma.spatial,
  };
}
