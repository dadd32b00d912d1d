/**
 * Choosing a batch size by measurement: the largest power of two whose per-sample time still
 * beats the previous power's by a margin, up to a cap, stopping at the first size that fails
 * (out of device memory, say); or, for GPUs (`exhaustive`), every power up to the cap and the
 * largest about as fast as the fastest. Generic over a function that runs one batch of n samples.
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
  /**
   * Try every power of two up to the cap (stopping only at a failure or the budget) and keep the
   * largest whose time per sample is within `minGain` of the fastest. For GPUs, where the time
   * per sample is not monotone in the batch and a real job also saves per-run costs that the
   * probe's identical runs do not show (MobileNetV2's float twin, in-graph, H100: 0.24 ms per
   * sample at 64 and 0.26 at 128 in the probe, yet 0.144 → 0.136 → 0.109 → 0.100 s per 15×15
   * image at batch 64, 128, 256, 512 end to end).
   */
  readonly exhaustive?: boolean;
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
 * The cap on a GPU, enough for one run per σ set of a 15×15 photo grid (450 rows) or of the 116
 * AAL points (232 rows). Measured with bench:gpu on an H100 (2026-11-27), in-graph perturbation:
 * MobileNetV2's float twin 0.095 s per image at batch 256 (2 runs), 0.083 s at 512 (one); the
 * paper CNN 0.197 s per subject at 128, 0.188 s at 256 and 0.187 s at 512 (one run either way).
 */
export const GPU_MAX_BATCH = 512;

/**
 * A GPU batch holds at most this many bytes of float32 model input (activations are a multiple):
 * 256 MNI 2 mm volumes (0.92 GB) or 512 photos at 224² (0.31 GB), but 16 volumes of 256³. Larger
 * batches gained nothing measurable (the paper CNN above) and only risk the card's memory.
 */
export const GPU_MAX_BATCH_BYTES = 2 ** 30;

/** The probe's cap on a device for samples of `sampleBytes`: a power of two, at least 1. */
export function maxBatchFor(device: string, sampleBytes: number): number {
  if (device === 'cpu') return DEFAULT_MAX_BATCH;
  let n = 1;
  while (n * 2 <= GPU_MAX_BATCH && n * 2 * sampleBytes <= GPU_MAX_BATCH_BYTES) n *= 2;
  return n;
}

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
  let stoppedBy: BatchProbeResult['stoppedBy'] = 'cap';
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
      stoppedBy = 'error';
      break;
    }
    const perSample = fastest / n;
    trials.push({ batchSize: n, msPerSample: perSample });
    if (!options.exhaustive) {
      if (n > 1 && !(perSample < bestMs * (1 - minGain)))
        return { batchSize: best, trials, stoppedBy: 'no-gain' };
      best = n;
      bestMs = perSample;
    }
    if (now() - start > budgetMs && n * 2 <= max) {
      stoppedBy = 'budget';
      break;
    }
  }
  if (options.exhaustive) best = largestNearFastest(trials, minGain);
  return { batchSize: best, trials, stoppedBy };
}

/** The largest tried size whose time per sample is within `margin` of the fastest. */
function largestNearFastest(trials: readonly BatchProbeTrial[], margin: number): number {
  const timed = trials.filter((t) => t.msPerSample !== undefined);
  const fastest = Math.min(...timed.map((t) => t.msPerSample!));
  return Math.max(
    ...timed.filter((t) => t.msPerSample! <= fastest * (1 + margin)).map((t) => t.batchSize),
  );
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
