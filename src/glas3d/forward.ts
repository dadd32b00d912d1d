import { ModelError, NonFiniteOutputError } from '../errors.js';
import { BatchWorkspace } from './batch-workspace.js';
import type { Classifier, ResponseKind } from './classifier.js';

/** Probabilities may miss [0, 1] by float rounding; beyond this they are not probabilities. */
const PROBABILITY_TOLERANCE = 1e-4;

/**
 * One released batch workspace per classifier, for its next runner. Fresh memory costs a page
 * fault per page on first write — about 0.2 s for a batch of 16 MNI 2 mm volumes (58 MB) on a
 * 2-core VM, as much as 5% of a subject — so later subjects or images reuse the first one's.
 * Held as long as the classifier is (WeakMap); a runner in use never shares its workspace.
 */
const idleWorkspaces = new WeakMap<Classifier, BatchWorkspace>();

/**
 * Feeds a classifier from one preallocated batch buffer (batchSize samples), so peak memory
 * does not depend on how many samples are run. Callers write samples at `offset(k)` and call
 * `run(n)`; every output is checked before anyone reads it. Counts passes and model time.
 * `release()` when done lets the next runner on the same classifier reuse the buffer.
 */
export class ForwardPassRunner {
  /** The batch buffer and the kernel that fills it with perturbed copies (perturbAndFuse). */
  readonly workspace: BatchWorkspace;
  /** workspace.batch: batchSize samples. */
  readonly buffer: Float32Array;
  readonly batchSize: number;
  readonly sampleSize: number;
  forwardPasses = 0;
  modelMs = 0;

  constructor(readonly classifier: Classifier) {
    const { batchSize, classes } = classifier;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new ModelError(
        `Model batch size ${batchSize} is not usable: it must be a whole number ≥ 1.`,
      );
    }
    if (!Number.isInteger(classes) || classes < 1) {
      throw new ModelError(`Model reports ${classes} classes; it must be a whole number ≥ 1.`);
    }
    this.batchSize = batchSize;
    const shape = classifier.inputShape;
    this.sampleSize = shape.reduce((p, d) => p * d, 1);
    const idle = idleWorkspaces.get(classifier);
    idleWorkspaces.delete(classifier);
    const fits =
      idle?.batchSize === batchSize &&
      idle.shape.length === shape.length &&
      idle.shape.every((d, i) => d === shape[i]);
    this.workspace = fits ? idle : new BatchWorkspace(batchSize, [...shape]);
    this.buffer = this.workspace.batch;
  }

  /** Hands the workspace to the next runner on this classifier; do not use this runner after. */
  release(): void {
    idleWorkspaces.set(this.classifier, this.workspace);
  }

  /** Element offset of batch slot k in `buffer`. */
  offset(k: number): number {
    return k * this.sampleSize;
  }

  /**
   * Runs the first n samples of the buffer. The classifier gets a view of exactly n samples on
   * the same memory each time; the probabilities it returns are checked and returned as given.
   */
  async run(n: number): Promise<Float32Array> {
    const batch = n === this.batchSize ? this.buffer : this.buffer.subarray(0, n * this.sampleSize);
    const start = performance.now();
    const probabilities = await this.classifier.predict(batch, n);
    this.modelMs += performance.now() - start;
    this.forwardPasses += n;
    checkProbabilities(probabilities, n, this.classifier.classes, this.classifier.responses);
    return probabilities;
  }
}

/**
 * Throws a ModelError unless `p` holds n rows of `classes` finite probabilities (or, for
 * responses 'values', finite numbers).
 */
export function checkProbabilities(
  p: Float32Array,
  n: number,
  classes: number,
  responses: ResponseKind = 'probabilities',
): void {
  const noun = responses === 'values' ? 'values' : 'probabilities';
  // Exactly n rows: a model with more columns than its `classes` would be read misaligned.
  if (!p || typeof p.length !== 'number' || p.length !== n * classes) {
    throw new ModelError(
      `Model returned ${p?.length ?? 'no'} values for ${n} sample(s) of ${classes} classes; ` +
        `expected ${n * classes} ${noun} (${classes} per sample).`,
    );
  }
  const low = responses === 'values' ? -Infinity : -PROBABILITY_TOLERANCE;
  const high = responses === 'values' ? Infinity : 1 + PROBABILITY_TOLERANCE;
  for (let i = 0; i < n * classes; i++) {
    const v = p[i];
    if (!(v >= low && v <= high)) {
      const row = Math.floor(i / classes);
      const what = Number.isNaN(v)
        ? 'NaN'
        : responses === 'values'
          ? `${v}`
          : `${v}, which is not a probability`;
      const message =
        `Model returned ${what} for class ${i % classes} of sample ${row} in a batch of ${n}; ` +
        (responses === 'values'
          ? 'check that the input holds no NaN.'
          : `check that the model outputs probabilities (softmax), or read its outputs as values (activation 'identity', e.g. a regression), and that the input holds no NaN.`);
      if (Number.isFinite(v)) throw new ModelError(message);
      throw new NonFiniteOutputError(
        message,
        row,
        Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : '-Inf',
      );
    }
  }
}

/** Index of the largest value among the first `classes` entries of row `row`. */
export function argmaxRow(p: Float32Array, row: number, classes: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let c = 0; c < classes; c++) {
    const v = p[row * classes + c];
    if (v > bestValue) {
      bestValue = v;
      best = c;
    }
  }
  return best;
}
