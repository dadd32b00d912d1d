/**
 * The separable engine must equal eq. 1–3 evaluated plainly (per-voxel exp, explicit mask
 * multiply, explicit distance loop) on small 2-D and 3-D inputs, in every mode.
 */
import { describe, expect, it } from 'vitest';
import { gridSearchPoints, runGlas } from '../../src/glas3d/index.js';
import type { GlasMode, SigmaSet } from '../../src/glas3d/index.js';
import {
  directGlas,
  maxRelativeDifference,
  nonlinearClassifier,
  product,
  seededRandom,
} from './oracles.js';

interface Case {
  name: string;
  shape: number[];
  gridAxes: number[];
  spacing: number[];
  k: number;
}

const cases: Case[] = [
  {
    name: '2-D, 3 channels first (CHW)',
    shape: [3, 10, 12],
    gridAxes: [2, 1],
    spacing: [1, 1],
    k: 3,
  },
  {
    name: '2-D, channels last (HWC)',
    shape: [10, 12, 3],
    gridAxes: [1, 0],
    spacing: [0.8, 1.2],
    k: 3,
  },
  {
    name: '3-D, 1×9×8×7 anisotropic',
    shape: [1, 9, 8, 7],
    gridAxes: [3, 2, 1],
    spacing: [1.5, 1, 2.5],
    k: 2,
  },
  {
    // Masks here are cut (MASK_CUT) well inside the grid, so copies are patched, not recomputed.
    name: '3-D, 1×24×22×20, masks smaller than the grid',
    shape: [1, 24, 22, 20],
    gridAxes: [3, 2, 1],
    spacing: [1.5, 1, 2.5],
    k: 2,
  },
];

const sigmas: SigmaSet[] = [
  { light: 2, shadow: 3, spatial: 2.5 },
  { light: 4, shadow: 2, spatial: 5 },
];
const modes: GlasMode[] = ['fusion', 'light', 'shadow'];

describe('separable GLAS equals the plain per-voxel equations', () => {
  for (const c of cases) {
    for (const mode of modes) {
      it(`${c.name}, ${mode}`, async () => {
        const size = product(c.shape);
        const rand = seededRandom(7);
        const sample = Float32Array.from({ length: size }, () => rand());
        const baseline = Float32Array.from({ length: size }, () => 0.5 * rand());
        const classifier = nonlinearClassifier(c.shape, 3, 11, 4);
        const gridDims = c.gridAxes.map((t) => c.shape[t]);
        // Grid centres plus one point off the cell centres.
        const points = [...gridSearchPoints(gridDims, c.k), gridDims.map((n) => n / 3 + 0.25)];

        const result = await runGlas(
          classifier,
          { sample, baseline, gridAxes: c.gridAxes, spacing: c.spacing },
          { points, sigmas, mode },
        );
        expect(result.forwardPasses).toBe(
          1 + sigmas.length * points.length * (mode === 'fusion' ? 2 : 1),
        );
        expect(result.perSigma).toHaveLength(sigmas.length);
        for (let s = 0; s < sigmas.length; s++) {
          const direct = await directGlas(
            classifier,
            sample,
            baseline,
            c.gridAxes,
            c.spacing,
            points,
            sigmas[s],
            mode,
            result.targetClass,
          );
          const got = result.perSigma[s];
          expect(got.sigma).toEqual(sigmas[s]);
          expect(got.map).toHaveLength(product(gridDims));
          expect(maxRelativeDifference(got.map, direct.map)).toBeLessThan(1e-5);
          expect(maxRelativeDifference(got.score, direct.score)).toBeLessThan(1e-5);
          expect(maxRelativeDifference(got.light, direct.light)).toBeLessThan(1e-5);
          expect(maxRelativeDifference(got.shadow, direct.shadow)).toBeLessThan(1e-5);
          for (let i = 0; i < points.length; i++) {
            if (mode === 'light') expect(got.shadowDelta[i]).toBeNaN();
            else expect(Math.abs(got.shadowDelta[i] - direct.shadowDelta[i])).toBeLessThan(1e-6);
          }
        }
      });
    }
  }

  it('a constant baseline equals the same baseline given as an array', async () => {
    const shape = [1, 9, 8, 7];
    const size = product(shape);
    const rand = seededRandom(3);
    const sample = Float32Array.from({ length: size }, () => rand());
    const classifier = nonlinearClassifier(shape, 3, 5);
    const common = { sample, gridAxes: [3, 2, 1], spacing: [1.5, 1, 2.5] };
    const options = { points: gridSearchPoints([7, 8, 9], 2), sigmas: [sigmas[0]] };
    const asNumber = await runGlas(classifier, { ...common, baseline: 0.25 }, options);
    const asArray = await runGlas(
      classifier,
      { ...common, baseline: new Float32Array(size).fill(0.25) },
      options,
    );
    expect(Array.from(asNumber.perSigma[0].map)).toEqual(Array.from(asArray.perSigma[0].map));
  });
});
