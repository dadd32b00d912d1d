/**
 * Oracles whose answer is known by construction: a linear-logistic classifier that only looks
 * inside blobs. The explanation must point at the blob; recursive GLAS must find the stronger
 * blob first and the weaker one next.
 */
import { describe, expect, it } from 'vitest';
import { gridSearchPoints, runGlas, runRecursiveGlas } from '../../src/glas3d/index.js';
import type { GlasMode } from '../../src/glas3d/index.js';
import { linearLogisticClassifier, product, unravel, unravelGrid } from './oracles.js';

interface Blob {
  centre: readonly number[]; // grid coordinates
  radius: number; // physical units
  total: number; // summed weight over the blob's voxels
}

interface Geometry {
  shape: number[];
  gridAxes: number[];
  spacing: number[];
}

function physicalDistance(a: readonly number[], b: readonly number[], spacing: number[]): number {
  let d2 = 0;
  for (let i = 0; i < spacing.length; i++) d2 += ((a[i] - b[i]) * spacing[i]) ** 2;
  return Math.sqrt(d2);
}

/** Weights in model layout: total/count on every voxel of each blob, 0 elsewhere. */
function blobWeights(g: Geometry, blobs: Blob[]): Float64Array {
  const size = product(g.shape);
  const weights = new Float64Array(size);
  for (const blob of blobs) {
    const inside: number[] = [];
    for (let f = 0; f < size; f++) {
      const c = unravel(f, g.shape);
      const x = g.gridAxes.map((t) => c[t]);
      if (physicalDistance(x, blob.centre, g.spacing) <= blob.radius) inside.push(f);
    }
    for (const f of inside) weights[f] += blob.total / inside.length;
  }
  return weights;
}

/** Grid coordinates of the map's maximum. */
function argmaxPosition(map: Float32Array, gridDims: number[]): number[] {
  let best = 0;
  for (let j = 1; j < map.length; j++) if (map[j] > map[best]) best = j;
  return unravelGrid(best, gridDims);
}

const image: Geometry = { shape: [1, 32, 32], gridAxes: [2, 1], spacing: [1, 1] };
const volume: Geometry = { shape: [1, 16, 14, 12], gridAxes: [3, 2, 1], spacing: [1, 1.5, 2] };

describe('the map points at the only evidence there is', () => {
  for (const [name, g, blob, k] of [
    ['2-D', image, { centre: [22, 9], radius: 3, total: 5 }, 8],
    ['3-D', volume, { centre: [4, 9, 10], radius: 4.5, total: 5 }, 4],
  ] as const) {
    for (const mode of ['fusion', 'light', 'shadow'] as GlasMode[]) {
      it(`${name}, ${mode}: the maximum lies in the blob`, async () => {
        const classifier = linearLogisticClassifier(g.shape, blobWeights(g, [blob]), -3);
        const gridDims = g.gridAxes.map((t) => g.shape[t]);
        const result = await runGlas(
          classifier,
          { sample: new Float32Array(product(g.shape)).fill(1), baseline: 0, ...g },
          {
            points: gridSearchPoints(gridDims, k),
            sigmas: [{ light: 3, shadow: 3, spatial: 4 }],
            mode,
          },
        );
        expect(result.targetClass).toBe(1);
        const peak = argmaxPosition(result.perSigma[0].map, gridDims);
        expect(physicalDistance(peak, blob.centre, g.spacing)).toBeLessThanOrEqual(blob.radius);
      });
    }
  }
});

describe('recursive GLAS finds the stronger blob, then the other', () => {
  for (const [name, g, strong, weak, k] of [
    [
      '2-D',
      image,
      { centre: [7, 12], radius: 3, total: 4 },
      { centre: [24, 20], radius: 3, total: 2 },
      8,
    ],
    [
      '3-D',
      volume,
      { centre: [3, 3, 4], radius: 4.5, total: 4 },
      { centre: [8, 10, 12], radius: 4.5, total: 2 },
      4,
    ],
  ] as const) {
    it(name, async () => {
      const classifier = linearLogisticClassifier(g.shape, blobWeights(g, [strong, weak]), -3);
      const gridDims = g.gridAxes.map((t) => g.shape[t]);
      const points = gridSearchPoints(gridDims, k);
      const result = await runRecursiveGlas(
        classifier,
        { sample: new Float32Array(product(g.shape)).fill(1), baseline: 0, ...g },
        { points, sigma: { light: 3, shadow: 3, spatial: 4 }, maxIterations: 2 },
      );
      expect(result.passes).toHaveLength(2);
      expect(result.stopReason).toBe('max-iterations');
      const [first, second] = result.passes;
      const peak1 = argmaxPosition(first.map, gridDims);
      const peak2 = argmaxPosition(second.map, gridDims);
      expect(physicalDistance(peak1, strong.centre, g.spacing)).toBeLessThanOrEqual(strong.radius);
      expect(physicalDistance(peak2, weak.centre, g.spacing)).toBeLessThanOrEqual(weak.radius);

      // Pass 1 dropped points, all near the strong blob; pass 2 searched the rest.
      expect(first.dropped.length).toBeGreaterThan(0);
      for (const i of first.dropped) {
        expect(physicalDistance(points[i], strong.centre, g.spacing)).toBeLessThan(
          physicalDistance(points[i], weak.centre, g.spacing),
        );
      }
      expect(second.searched).toEqual(
        points.map((_, i) => i).filter((i) => !first.dropped.includes(i)),
      );
      // Dimming the found evidence lowers the class probability.
      expect(first.pAfter).toBeLessThan(first.pBefore);
      expect(second.pBefore).toBe(first.pAfter);
      // Normalized maps peak at 1 and O is their sum.
      expect(Math.max(...first.map)).toBeCloseTo(1, 6);
      for (let j = 0; j < result.accumulated.length; j += 7) {
        expect(result.accumulated[j]).toBeCloseTo(first.map[j] + second.map[j], 5);
      }
      expect(result.forwardPasses).toBe(1 + 2 * points.length + 1 + 2 * second.searched.length + 1);
    });
  }
});
