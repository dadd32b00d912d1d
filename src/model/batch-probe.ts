/**
 * Choosing a batch size by measurement: the largest power of two whose per-sample time still
 * beats the previous power's by a margin, up to a cap, stopping at the first size that fails
 * (out of device memory, say). Generic over a function that runs one batch of n samples.
 */
import type { Classifier } from '../glas3d/classifier.js';

export interface BatchProbeOptions {
  /** Largest batch tried (default 64). */
  readonly max?: number;
  /** A doubling is kept only if it cuts the time per sample by more than this (default 0.1). */
  readonly minGain?: number;
  /** Timed runs per size after one untimed warm-up; the fastest counts (default 2). */
  readonly repeats?: number;
  /** Stop doubling once the probe has taken this long (default 20 000 ms). */
  readonly budgetMs?: number;
  /** Milliseconds now (default performance.now; tests pass a fake clock). */
  readonly clock?: () => number;
}

export interface BatchProbeTrial {
  readonly batchSize: number;
  /** Fastest run divided by the batch size; undefined when the size failed. */
  readonly msPerSample?: number;
  /** What the failed run said. */
  readonly error?: string;
}

export interface BatchProbeResult {
  readonly batchSize: number;
  readonly trials: readonly BatchProbeTrial[];
  /** Why the doubling stopped. */
  readonly stoppedBy: 'cap' | 'no-gain' | 'error' | 'budget';
}

export const DEFAULT_MAX_BATCH = 64;
/**
 * The cap on a GPU. Measured with bench:gpu on an H100 and an H200 (2026-11-26): the paper CNN
 * with in-graph perturbation still gained from 32 to 64 volumes per run (1.15 → 0.91 ms each),
 * and MobileNetV2's float twin from 32 to 64 images (0.39 → 0.28 ms).
 */
export const GPU_MAX_BATCH = 256;

/**
 * Runs `runBatch(n)` for n = 1, 2, 4, … and returns the largest n whose per-sample time is more
 * than `minGain` below that of n/2 (every smaller power having improved too). A size whose run
 * throws ends the probe; size 1 failing is rethrown, since then no batch size works.
 */
export async function probeBatchSize(
  runBatch: (n: number) => Promise<unknown>,
  options: BatchProbeOptions = {},
): Promise<BatchProbeResult> {
  const max = options.max ?? DEFAULT_MAX_BATCH;
  const minGain = options.minGain ?? 0.1;
  const repeats = Math.max(1, options.repeats ?? 2);
  const budgetMs = options.budgetMs ?? 20_000;
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`probe cap ${max} must be ≥ 1`);
  const now = options.clock ?? (() => performance.now());
  const start = now();
  const trials: BatchProbeTrial[] = [];
  let best = 1;
  let bestMs = Infinity;
  for (let n = 1; n <= max; n *= 2) {
    let fastest = Infinity;
    try {
      await runBatch(n); // warm-up: first runs of a shape allocate and compile
      for (let r = 0; r < repeats; r++) {
        const t = now();
        await runBatch(n);
        fastest = Math.min(fastest, now() - t);
      }
    } catch (e) {
      if (n === 1) throw e;
      trials.push({ batchSize: n, error: e instanceof Error ? e.message : String(e) });
      return { batchSize: best, trials, stoppedBy: 'error' };
    }
    const perSample = fastest / n;
    trials.push({ batchSize: n, msPerSample: perSample });
    if (n > 1 && !(perSample < bestMs * (1 - minGain)))
      return { batchSize: best, trials, stoppedBy: 'no-gain' };
    best = n;
    bestMs = perSample;
    if (now() - start > budgetMs && n * 2 <= max)
      return { batchSize: best, trials, stoppedBy: 'budget' };
  }
  return { batchSize: best, trials, stoppedBy: 'cap' };
}

/**
 * probeBatchSize for a Classifier: runs copies of `sample` (one model sample) in batches of up to
 * min(max, classifier.batchSize).
 */
export async function probeClassifierBatchSize(
  classifier: Classifier,
  sample: Float32Array,
  options: BatchProbeOptions = {},
): Promise<BatchProbeResult> {
  const max = Math.min(options.max ?? DEFAULT_MAX_BATCH, classifier.batchSize);
  const size = sample.length;
  let cap = 1;
  while (cap * 2 <= max) cap *= 2;
  const buffer = new Float32Array(cap * size);
  for (let k = 0; k < cap; k++) buffer.set(sample, k * size);
  return probeBatchSize((n) => classifier.predict(buffer.subarray(0, n * size), n), {
    ...options,
    max: cap,
  });
}

/** The same classifier, handing the engine at most `batchSize` samples per call. */
export function withBatchSize(classifier: Classifier, batchSize: number): Classifier {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > classifier.batchSize)
    throw new RangeError(`batch size ${batchSize} must be in 1..${classifier.batchSize}`);
  return {
    inputShape: classifier.inputShape,
    classes: classifier.classes,
    batchSize,
    predict: (batch, n) => classifier.predict(batch, n),
  };
}
