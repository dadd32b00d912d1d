/**
 * Plain-JS classifiers whose behaviour is known by construction, and a direct, per-voxel
 * implementation of eq. 1–3 to check the separable engine against.
 */
import type { Classifier } from '../../src/glas3d/classifier.js';
import type { GlasMode, Perturbation, SigmaSet } from '../../src/glas3d/index.js';
import {
  createSeparableMask,
  perturbInto,
  resolveGridLayout,
  setGaussianMask,
} from '../../src/glas3d/index.js';

/** Small deterministic generator (mulberry32) so that tests do not depend on Math.random. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function product(values: readonly number[]): number {
  return values.reduce((p, v) => p * v, 1);
}

/** A classifier built from a per-sample function returning logits; softmax applied here. */
export function logitClassifier(
  inputShape: readonly number[],
  classes: number,
  logits: (sample: Float32Array, offset: number) => number[],
  batchSize = 4,
): Classifier {
  const size = product(inputShape);
  return {
    inputShape,
    classes,
    batchSize,
    async predict(batch: Float32Array, n: number): Promise<Float32Array> {
      const out = new Float32Array(n * classes);
      for (let s = 0; s < n; s++) {
        const z = logits(batch, s * size);
        const m = Math.max(...z);
        const e = z.map((v) => Math.exp(v - m));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let c = 0; c < classes; c++) out[s * classes + c] = e[c] / sum;
      }
      return out;
    },
  };
}

/**
 * A classifier whose every output is a hash of all the bits of the sample it is given, so that
 * two samples differing anywhere, by one ulp or in a zero's sign, all but surely get different
 * probabilities: comparing its outputs compares the copies a model was fed, bit for bit.
 */
export function hashClassifier(
  inputShape: readonly number[],
  classes: number,
  batchSize: number,
): Classifier {
  const size = product(inputShape);
  return logitClassifier(
    inputShape,
    classes,
    (x, o) => {
      const bits = new Uint32Array(x.buffer, x.byteOffset + 4 * o, size);
      let h = 0x811c9dc5;
      for (let j = 0; j < size; j++) {
        h = Math.imul(h ^ bits[j], 0x9e3779b1);
        h ^= h >>> 15;
      }
      // A logit in [0, 4) per class from 24 more mixed bits each.
      return Array.from({ length: classes }, (_, c) => {
        h = Math.imul(h ^ (h >>> 13), 0x85ebca6b) ^ c;
        return (h >>> 8) / 2 ** 22;
      });
    },
    batchSize,
  );
}

/**
 * The perturbed copy perturbInto writes for one Gaussian (the bit-exact reference of every other
 * way of making copies), on a fresh mask.
 */
export function referenceCopy(
  input: {
    readonly sample: Float32Array;
    readonly baseline: Float32Array | number;
    readonly gridAxes: readonly number[];
    readonly spacing: readonly number[];
  },
  inputShape: readonly number[],
  centre: readonly number[],
  sigma: number,
  kind: Perturbation,
): Float32Array {
  const layout = resolveGridLayout(inputShape, input.gridAxes, input.spacing);
  const mask = createSeparableMask(layout);
  setGaussianMask(mask, layout, centre, sigma);
  const out = new Float32Array(input.sample.length);
  perturbInto(out, 0, input.sample, input.baseline, mask, kind);
  return out;
}

/**
 * Nonlinear oracle: logit_k = Σ W_k·x + a_k·tanh(Σ V_k·x) with seeded random weights.
 */
export function nonlinearClassifier(
  inputShape: readonly number[],
  classes: number,
  seed: number,
  batchSize = 4,
): Classifier {
  const size = product(inputShape);
  const rand = seededRandom(seed);
  const W = Array.from({ length: classes }, () =>
    Float64Array.from({ length: size }, () => (rand() - 0.5) * 0.6),
  );
  const V = Array.from({ length: classes }, () =>
    Float64Array.from({ length: size }, () => (rand() - 0.5) * 0.4),
  );
  const A = Array.from({ length: classes }, () => 1 + 2 * rand());
  return logitClassifier(
    inputShape,
    classes,
    (x, o) =>
      W.map((w, k) => {
        let lin = 0;
        let inner = 0;
        for (let j = 0; j < size; j++) {
          lin += w[j] * x[o + j];
          inner += V[k][j] * x[o + j];
        }
        return lin + A[k] * Math.tanh(inner);
      }),
    batchSize,
  );
}

/**
 * Linear-logistic oracle with two classes: logit of class 1 = Σ w·x + bias, class 0 fixed at 0.
 * Class 1 depends only on where w is non-zero, so that is where the explanation must be.
 */
export function linearLogisticClassifier(
  inputShape: readonly number[],
  weights: Float64Array,
  bias: number,
  batchSize = 8,
): Classifier {
  const size = product(inputShape);
  return logitClassifier(
    inputShape,
    2,
    (x, o) => {
      let z = bias;
      for (let j = 0; j < size; j++) z += weights[j] * x[o + j];
      return [0, z];
    },
    batchSize,
  );
}

/** Tensor coordinates of flat index f in C order (last axis fastest). */
export function unravel(f: number, shape: readonly number[]): number[] {
  const coords = new Array<number>(shape.length);
  for (let t = shape.length - 1; t >= 0; t--) {
    coords[t] = f % shape[t];
    f = Math.floor(f / shape[t]);
  }
  return coords;
}

/** Grid coordinates (x, y[, z]) of grid-order index g (axis 0 fastest). */
export function unravelGrid(g: number, gridDims: readonly number[]): number[] {
  return gridDims.map((n) => {
    const c = g % n;
    g = Math.floor(g / n);
    return c;
  });
}

export interface DirectResult {
  map: Float64Array;
  light: number[];
  shadow: number[];
  shadowDelta: number[];
  score: number[];
}

/**
 * Eq. 1–3 written plainly: a full Gaussian evaluated per voxel with Math.exp, the mask
 * multiplied in explicitly, one model call per perturbed sample, and the fused map summed
 * voxel by voxel over an explicit distance loop.
 */
export async function directGlas(
  classifier: Classifier,
  sample: Float32Array,
  baseline: Float32Array,
  gridAxes: readonly number[],
  spacing: readonly number[],
  points: readonly (readonly number[])[],
  sigma: SigmaSet,
  mode: GlasMode,
  targetClass: number,
  lambda = 1e-5,
): Promise<DirectResult> {
  const shape = classifier.inputShape;
  const size = product(shape);
  const gridDims = gridAxes.map((t) => shape[t]);
  const p0 = (await classifier.predict(Float32Array.from(sample), 1))[targetClass];

  const maskValue = (f: number, mu: readonly number[], s: number): number => {
    const c = unravel(f, shape);
    let d2 = 0;
    for (let a = 0; a < gridAxes.length; a++) {
      const d = (c[gridAxes[a]] - mu[a]) * spacing[a];
      d2 += d * d;
    }
    return Math.exp(-d2 / (2 * s * s));
  };
  const response = async (mu: readonly number[], kind: 'light' | 'shadow'): Promise<number> => {
    const x = new Float32Array(size);
    const s = kind === 'light' ? sigma.light : sigma.shadow;
    for (let f = 0; f < size; f++) {
      const G = maskValue(f, mu, s);
      x[f] =
        kind === 'light'
          ? sample[f] * G + baseline[f] * (1 - G)
          : sample[f] * (1 - G) + baseline[f] * G;
    }
    return (await classifier.predict(x, 1))[targetClass];
  };

  const light: number[] = [];
  const shadow: number[] = [];
  const shadowDelta: number[] = [];
  const score: number[] = [];
  for (const mu of points) {
    const fl = mode === 'shadow' ? NaN : await response(mu, 'light');
    const delta = mode === 'light' ? NaN : (await response(mu, 'shadow')) - p0;
    const fs = Math.abs(delta) + lambda;
    light.push(fl);
    shadow.push(fs);
    shadowDelta.push(delta);
    score.push(mode === 'fusion' ? fl * fs : mode === 'light' ? fl : fs);
  }

  const gridSize = product(gridDims);
  const map = new Float64Array(gridSize);
  for (let g = 0; g < gridSize; g++) {
    const x = unravelGrid(g, gridDims);
    let sum = 0;
    for (let i = 0; i < points.length; i++) {
      let D = 0;
      for (let a = 0; a < gridDims.length; a++) {
        const d = (x[a] - points[i][a]) * spacing[a];
        D += d * d;
      }
      sum += Math.exp(-D / (sigma.spatial * sigma.spatial)) * score[i];
    }
    map[g] = sum / points.length;
  }
  return { map, light, shadow, shadowDelta, score };
}

/** Largest |a − b| / |b| over all entries (NaN where both are NaN counts as equal). */
export function maxRelativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    const r = Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1e-300);
    if (!(r <= worst)) worst = r;
  }
  return worst;
}
