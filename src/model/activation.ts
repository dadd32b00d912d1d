/** Turning a model's raw output rows into class probabilities. */
import type { ResponseKind } from '../glas3d/classifier.js';

/**
 * - 'auto': 'none' when the graph's output is made by Softmax or Sigmoid (autoActivation);
 *   otherwise a single output column is a logit for class 1 (sigmoid), and several columns are
 *   softmaxed unless the rows are already probability simplexes;
 * - 'softmax': rows are logits;
 * - 'sigmoid': a single column is the logit of class 1;
 * - 'none': rows are probabilities already (a single column is P(class 1));
 * - 'identity': the raw outputs are the responses, one per column (a regression such as brain
 *   age: GLAS then explains the predicted value, not a probability).
 * Under every activation but 'identity' one column becomes two classes: [1 − p, p].
 */
export type Activation = 'auto' | 'softmax' | 'sigmoid' | 'none' | 'identity';

export const ACTIVATIONS: readonly Activation[] = [
  'auto',
  'softmax',
  'sigmoid',
  'none',
  'identity',
];

/** Operators whose outputs are probabilities already. */
const PROBABILITY_OPS = ['Softmax', 'Sigmoid', 'HardSigmoid'];

/**
 * What 'auto' means for a model whose output has `columns` values per sample and is made by the
 * operator `finalOp` (see finalOpOf): 'none' after Softmax or Sigmoid, 'sigmoid' for one column
 * of anything else; several columns stay 'auto' (softmax unless the rows are simplexes).
 */
export function autoActivation(columns: number, finalOp: string | undefined): Activation {
  if (finalOp !== undefined && PROBABILITY_OPS.includes(finalOp)) return 'none';
  return columns === 1 ? 'sigmoid' : 'auto';
}

/** What the rows hold under `activation`: raw values under 'identity', else probabilities. */
export const responsesOf = (activation: Activation): ResponseKind =>
  activation === 'identity' ? 'values' : 'probabilities';

/** Classes a model with `columns` output values per sample has under `activation`. */
export const classesOf = (columns: number, activation: Activation): number =>
  columns === 1 && activation !== 'identity' ? 2 : columns;

/** Tolerance on a row sum for it to count as a probability simplex. */
export const SIMPLEX_TOLERANCE = 1e-4;

/** Whether each of the n rows of c values lies in [0, 1] and sums to 1 within `tol`. */
export function isSimplexRows(
  data: ArrayLike<number>,
  n: number,
  c: number,
  tol = SIMPLEX_TOLERANCE,
): boolean {
  for (let r = 0; r < n; r++) {
    let sum = 0;
    for (let j = r * c, end = j + c; j < end; j++) {
      const v = data[j];
      if (!(v >= 0 && v <= 1)) return false;
      sum += v;
    }
    if (Math.abs(sum - 1) > tol) return false;
  }
  return true;
}

/** Row-wise softmax, shifted by the row maximum so large logits do not overflow. */
export function softmaxRows(data: ArrayLike<number>, n: number, c: number): Float32Array {
  const out = new Float32Array(n * c);
  for (let r = 0; r < n; r++) {
    const start = r * c;
    let max = -Infinity;
    for (let j = 0; j < c; j++) max = Math.max(max, data[start + j]);
    let sum = 0;
    for (let j = 0; j < c; j++) sum += Math.exp(data[start + j] - max);
    for (let j = 0; j < c; j++) out[start + j] = Math.exp(data[start + j] - max) / sum;
  }
  return out;
}

/** Numerically stable logistic function. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** n values p of class 1 (probabilities, or logits when `logits`) → rows [1 − p, p]. */
export function twoClassRows(data: ArrayLike<number>, n: number, logits: boolean): Float32Array {
  const out = new Float32Array(2 * n);
  for (let r = 0; r < n; r++) {
    const p = logits ? sigmoid(data[r]) : data[r];
    out[2 * r] = 1 - p;
    out[2 * r + 1] = p;
  }
  return out;
}

/** The first row holding NaN or ±Inf, and which, or undefined when all values are finite. */
export function firstNonFinite(
  data: ArrayLike<number>,
  n: number,
  c: number,
): { sample: number; value: 'NaN' | 'Inf' | '-Inf' } | undefined {
  for (let i = 0; i < n * c; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      return { sample: Math.floor(i / c), value: Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : '-Inf' };
    }
  }
  return undefined;
}
