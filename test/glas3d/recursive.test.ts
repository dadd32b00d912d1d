/** How recursive GLAS stops: by the paper's t2 rule, out of points, out of passes, or on an empty map. */
import { describe, expect, it } from 'vitest';
import type { Classifier } from '../../src/glas3d/classifier.js';
import { gridSearchPoints, runRecursiveGlas } from '../../src/glas3d/index.js';
import { perturbInJs } from '../../src/glas3d/in-graph.js';
import { nonlinearClassifier, product, seededRandom } from './oracles.js';

const shape = [2, 8, 10];
const gridDims = [10, 8];
const rand = seededRandom(9);
const input = {
  sample: Float32Array.from({ length: product(shape) }, () => rand()),
  baseline: 0.1,
  gridAxes: [2, 1],
  spacing: [1, 1],
};
const classifier = nonlinearClassifier(shape, 3, 21, 4);
const points = gridSearchPoints(gridDims, 4);
const sigma = { light: 2, shadow: 2, spatial: 2 };

describe('recursive GLAS stop rules', () => {
  it('stops when sqrt(mean(S) / P(y|I)) reaches t2', async () => {
    const result = await runRecursiveGlas(classifier, input, { points, sigma, t2: 0.01 });
    expect(result.stopReason).toBe('threshold');
    expect(result.passes).toHaveLength(1);
    const [pass] = result.passes;
    const mean = pass.map.reduce((s, v) => s + v, 0) / pass.map.length;
    expect(pass.stopValue).toBeCloseTo(Math.sqrt(mean / pass.pAfter), 6);
  });

  it('stops when every point is dropped', async () => {
    const result = await runRecursiveGlas(classifier, input, {
      points,
      sigma,
      t1: -1,
      t2: Infinity,
    });
    expect(result.stopReason).toBe('no-points');
    expect(result.passes).toHaveLength(1);
    expect(result.passes[0].dropped).toHaveLength(points.length);
  });

  it('stops after maxIterations, searching only points not yet dropped', async () => {
    const result = await runRecursiveGlas(classifier, input, {
      points,
      sigma,
      t2: Infinity,
      maxIterations: 3,
    });
    expect(result.stopReason).toBe('max-iterations');
    expect(result.passes).toHaveLength(3);
    for (let p = 1; p < result.passes.length; p++) {
      const prev = result.passes[p - 1];
      expect(result.passes[p].searched).toEqual(
        prev.searched.filter((i) => !prev.dropped.includes(i)),
      );
    }
    // With a constant baseline b, the final input is b + (I − b)·Π(1 − S_pass).
    const [c, h, w] = shape;
    for (let ch = 0; ch < c; ch++) {
      for (const [x, y] of [
        [0, 0],
        [4, 3],
        [9, 7],
      ]) {
        const f = (ch * h + y) * w + x;
        let keep = 1;
        for (const pass of result.passes) keep *= 1 - pass.map[x + gridDims[0] * y];
        expect(result.finalSample[f]).toBeCloseTo(0.1 + (input.sample[f] - 0.1) * keep, 5);
      }
    }
  });

  it('stops on a map that is zero everywhere', async () => {
    const never: Classifier = {
      inputShape: shape,
      classes: 2,
      batchSize: 4,
      predict: async (_batch, n) => new Float32Array(2 * n).fill(0).map((_, i) => (i % 2 ? 0 : 1)),
    };
    const result = await runRecursiveGlas(never, input, {
      points,
      sigma,
      mode: 'light',
      targetClass: 1,
    });
    expect(result.stopReason).toBe('empty-map');
    expect(result.passes).toHaveLength(0);
    expect(result.accumulated.every((v) => v === 0)).toBe(true);
  });
});

describe('recursive GLAS with the perturbation made elsewhere (PerturbingClassifier)', () => {
  it('perturbInJs gives exactly the host result, pass for pass', async () => {
    const options = { points, sigma, t2: Infinity, maxIterations: 3 };
    const host = await runRecursiveGlas(classifier, input, options);
    const moved = await runRecursiveGlas(classifier, input, {
      ...options,
      perturbing: perturbInJs(classifier, input.gridAxes),
    });
    expect(moved.passes.map((p) => p.searched)).toEqual(host.passes.map((p) => p.searched));
    expect(Array.from(moved.accumulated)).toEqual(Array.from(host.accumulated));
    expect(Array.from(moved.finalSample)).toEqual(Array.from(host.finalSample));
    expect(moved.forwardPasses).toBe(host.forwardPasses);
  });
});
