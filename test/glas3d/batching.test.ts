/**
 * Peak memory must not grow with the number of search points: every perturbed copy goes through
 * one preallocated batch buffer, at most batchSize samples per model call. Later runs on the same
 * classifier reuse it (fresh memory is slow to page in); runs at the same time each have their own.
 */
import { describe, expect, it } from 'vitest';
import type { Classifier } from '../../src/glas3d/classifier.js';
import { gridSearchPoints, runGlas, runRecursiveGlas } from '../../src/glas3d/index.js';
import { nonlinearClassifier, product, seededRandom } from './oracles.js';

interface Call {
  buffer: ArrayBufferLike;
  byteOffset: number;
  length: number;
  n: number;
}

function recording(inner: Classifier): { classifier: Classifier; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    classifier: {
      inputShape: inner.inputShape,
      classes: inner.classes,
      batchSize: inner.batchSize,
      predict(batch, n) {
        calls.push({ buffer: batch.buffer, byteOffset: batch.byteOffset, length: batch.length, n });
        return inner.predict(batch, n);
      },
    },
  };
}

const shape = [1, 9, 8, 7];
const gridDims = [7, 8, 9];
const size = product(shape);
const rand = seededRandom(2);
const sample = Float32Array.from({ length: size }, () => rand());
const input = { sample, baseline: 0, gridAxes: [3, 2, 1], spacing: [1, 1, 1] };
const sigmas = [
  { light: 2, shadow: 2, spatial: 2 },
  { light: 3, shadow: 3, spatial: 3 },
];

describe('batching', () => {
  const backingBytes = new Set<number>();
  for (const k of [2, 3]) {
    it(`${k ** 3} points: one buffer, at most batchSize samples per call`, async () => {
      const { classifier, calls } = recording(nonlinearClassifier(shape, 3, 1, 5));
      const points = gridSearchPoints(gridDims, k);
      const progress: Array<[number, number]> = [];
      const result = await runGlas(classifier, input, {
        points,
        sigmas,
        onProgress: (done, total) => progress.push([done, total]),
      });
      const total = 1 + sigmas.length * points.length * 2;
      expect(result.forwardPasses).toBe(total);
      expect(calls.reduce((s, c) => s + c.n, 0)).toBe(total);
      expect(new Set(calls.map((c) => c.buffer)).size).toBe(1);
      for (const c of calls) {
        expect(c.byteOffset).toBe(0);
        expect(c.n).toBeGreaterThanOrEqual(1);
        expect(c.n).toBeLessThanOrEqual(classifier.batchSize);
        expect(c.length).toBe(c.n * size);
      }
      // The batch lives in one fixed memory beside the sample, the baseline and per-row scratch
      // (BatchWorkspace), in 64 KiB pages: its size depends on the sample and the batch size only.
      const bound = (classifier.batchSize + 3) * size * 4;
      expect(calls[0].buffer.byteLength).toBeLessThanOrEqual(Math.ceil(bound / 65536) * 65536);
      backingBytes.add(calls[0].buffer.byteLength);
      // All calls but the unperturbed one and the last are full.
      expect(calls.slice(1, -1).every((c) => c.n === classifier.batchSize)).toBe(true);
      // Progress rises to the total after every call.
      expect(progress).toHaveLength(calls.length);
      expect(progress.at(-1)).toEqual([total, total]);
      for (let i = 1; i < progress.length; i++) {
        expect(progress[i][0]).toBeGreaterThan(progress[i - 1][0]);
      }
      expect(result.timing.modelMs).toBeLessThanOrEqual(result.timing.totalMs);
      expect(backingBytes.size).toBe(1); // the same for 8 and 27 points
    });
  }

  it('a later run on the same classifier reuses the buffer; runs at once never share one', async () => {
    const { classifier, calls } = recording(nonlinearClassifier(shape, 3, 1, 5));
    const options = { points: gridSearchPoints(gridDims, 2), sigmas };
    const alone = await runGlas(classifier, input, options);
    const first = calls[0].buffer;
    calls.length = 0;
    await runGlas(classifier, input, options);
    expect(new Set(calls.map((c) => c.buffer))).toEqual(new Set([first]));
    calls.length = 0;
    const both = await Promise.all([
      runGlas(classifier, input, options),
      runRecursiveGlas(classifier, input, { points: options.points, sigma: sigmas[0] }),
      runGlas(classifier, input, options),
    ]);
    expect(new Set(calls.map((c) => c.buffer)).size).toBe(3);
    expect(Array.from(both[0].perSigma[1].map)).toEqual(Array.from(alone.perSigma[1].map));
    expect(Array.from(both[2].perSigma[1].map)).toEqual(Array.from(alone.perSigma[1].map));
  });

  it('light and shadow modes run one pass per point', async () => {
    const classifier = nonlinearClassifier(shape, 3, 1, 4);
    const points = gridSearchPoints(gridDims, 2);
    for (const mode of ['light', 'shadow'] as const) {
      const result = await runGlas(classifier, input, { points, sigmas, mode });
      expect(result.forwardPasses).toBe(1 + sigmas.length * points.length);
      const computed = mode === 'light' ? result.perSigma[0].light : result.perSigma[0].shadow;
      const skipped = mode === 'light' ? result.perSigma[0].shadow : result.perSigma[0].light;
      expect(Array.from(computed).every(Number.isFinite)).toBe(true);
      expect(Array.from(skipped).every(Number.isNaN)).toBe(true);
      expect(Array.from(result.perSigma[0].score)).toEqual(Array.from(computed));
    }
  });

  it('recursive GLAS reuses one buffer across passes and leaves the input alone', async () => {
    const { classifier, calls } = recording(nonlinearClassifier(shape, 3, 1, 6));
    const before = Float32Array.from(sample);
    const result = await runRecursiveGlas(classifier, input, {
      points: gridSearchPoints(gridDims, 2),
      sigma: sigmas[0],
      maxIterations: 3,
      t2: Infinity,
    });
    expect(new Set(calls.map((c) => c.buffer)).size).toBe(1);
    expect(calls.every((c) => c.n <= classifier.batchSize)).toBe(true);
    expect(result.forwardPasses).toBe(calls.reduce((s, c) => s + c.n, 0));
    expect(Array.from(sample)).toEqual(Array.from(before));
    expect(result.finalSample).not.toBe(sample);
  });

  it('the unperturbed sample is fed as it is, and the default class is the top one', async () => {
    const inner = nonlinearClassifier(shape, 3, 1, 4);
    const { classifier, calls } = recording(inner);
    const seen: Float32Array[] = [];
    const spy: Classifier = {
      ...classifier,
      predict(batch, n) {
        seen.push(Float32Array.from(batch.subarray(0, size)));
        return classifier.predict(batch, n);
      },
    };
    const result = await runGlas(spy, input, { points: [[3, 3, 3]], sigmas });
    expect(Array.from(seen[0])).toEqual(Array.from(sample));
    const p = await inner.predict(Float32Array.from(sample), 1);
    expect(Array.from(result.probabilities)).toEqual(Array.from(p));
    expect(result.targetClass).toBe(p.indexOf(Math.max(...p)));
    expect(result.pOriginal).toBe(p[result.targetClass]);
    expect(calls.length).toBeGreaterThan(1);
  });
});
