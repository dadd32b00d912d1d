/**
 * Perturbed copies computed over the mask's support only: where G < MASK_CUT a copy is left at
 * B (light) or I (shadow), which changes it by less than MASK_CUT·|I − B|. Checked against the
 * plain formula on samples much larger than the support, and for every element of the slot.
 */
import { describe, expect, it } from 'vitest';
import {
  createSeparableMask,
  MASK_CUT,
  perturbInto,
  resolveGridLayout,
  setGaussianMask,
  supportSpans,
  updateRowFactors,
} from '../../src/glas3d/index.js';
import type { GridLayout } from '../../src/glas3d/index.js';
import { seededRandom, unravel } from './oracles.js';

/** G at flat index f of the sample, by a per-voxel exp. */
function plainMask(layout: GridLayout, f: number, mu: readonly number[], sigma: number): number {
  const c = unravel(f, layout.shape);
  let d2 = 0;
  for (let a = 0; a < layout.gridAxes.length; a++) {
    d2 += ((c[layout.gridAxes[a]] - mu[a]) * layout.spacing[a]) ** 2;
  }
  return Math.exp(-d2 / (2 * sigma * sigma));
}

describe('supportSpans', () => {
  it('per row, the run is exactly where rowFactor·last ≥ MASK_CUT', () => {
    const layout = resolveGridLayout([2, 23, 31, 19], [3, 2, 1], [1.5, 1, 2]);
    const mask = createSeparableMask(layout);
    for (const [mu, sigma] of [
      [[9, 15, 11], 2],
      [[-3, 0.5, 30], 1.5], // centre off the grid on two axes
      [[9, 15, 11], 40], // support wider than the grid
    ] as const) {
      setGaussianMask(mask, layout, mu, sigma);
      const complete = supportSpans(mask);
      const last = mask.factors[3];
      let allFull = true;
      for (let r = 0; r < mask.rowFactors.length; r++) {
        const inside: number[] = [];
        for (let j = 0; j < last.length; j++) {
          if (mask.rowFactors[r] * last[j] >= MASK_CUT) inside.push(j);
        }
        const [start, end] = [mask.spans[2 * r], mask.spans[2 * r + 1]];
        if (inside.length === 0) {
          expect(end).toBe(start);
        } else {
          expect([start, end]).toEqual([inside[0], inside[inside.length - 1] + 1]);
          expect(inside).toHaveLength(end - start); // one run, no gaps
        }
        if (end - start < last.length) allFull = false;
      }
      expect(complete).toBe(allFull);
      expect(complete).toBe(sigma === 40);
    }
  });

  it('a row whose factor is 0 has an empty run', () => {
    const layout = resolveGridLayout([3, 5], [1, 0], [1, 1]);
    const mask = createSeparableMask(layout);
    mask.factors[0].set([1, 0, 1]);
    mask.factors[1].set([0.1, 0.5, 1, 0.5, 0.1]);
    updateRowFactors(mask);
    expect(supportSpans(mask)).toBe(false);
    expect(Array.from(mask.spans)).toEqual([0, 5, 2, 2, 0, 5]);
  });
});

describe('perturbInto over the support only', () => {
  for (const [shape, gridAxes, spacing, sigma] of [
    [[1, 32, 28, 26], [3, 2, 1], [1, 1.2, 0.9], 1.5],
    [[3, 60, 50], [2, 1], [1, 1], 4],
    [[60, 50, 2], [1, 0], [0.5, 0.5], 2],
  ] as const) {
    const layout = resolveGridLayout(shape, gridAxes, spacing);
    const size = layout.sampleSize;
    const rand = seededRandom(5);
    const sample = Float32Array.from({ length: size }, () => 4 * rand() - 1);
    const baselineArray = Float32Array.from({ length: size }, () => rand());

    it(`shape [${shape.join(', ')}]: within MASK_CUT·|I − B| of the formula, everywhere`, () => {
      const mask = createSeparableMask(layout);
      const mu = layout.gridDims.map((n) => n / 3 + 0.4);
      setGaussianMask(mask, layout, mu, sigma);
      expect(supportSpans(mask)).toBe(false); // the support is smaller than the sample
      const out = new Float32Array(3 * size);
      for (const baseline of [baselineArray, 0.25]) {
        for (const kind of ['light', 'shadow'] as const) {
          out.fill(NaN); // every element of the slot must be written
          perturbInto(out, size, sample, baseline, mask, kind);
          let cut = 0;
          for (let f = 0; f < size; f++) {
            const I = sample[f];
            const B = typeof baseline === 'number' ? baseline : baseline[f];
            const G = plainMask(layout, f, mu, sigma);
            const want = kind === 'light' ? B + (I - B) * G : I - (I - B) * G;
            const got = out[size + f];
            // Float32 rounding of the result, plus what the cut may leave out.
            const bound = Math.abs(want) * 2 ** -24 + MASK_CUT * Math.abs(I - B) + 1e-12;
            if (Math.abs(got - want) > bound) {
              expect.fail(`element ${f}: got ${got}, want ${want} (G ${G})`);
            }
            if (G < MASK_CUT / 2) {
              // Far outside the support: exactly the unperturbed value.
              expect(got).toBe(kind === 'light' ? Math.fround(B) : I);
              cut++;
            }
          }
          expect(cut).toBeGreaterThan(size / 4);
          expect(Number.isNaN(out[0]) && Number.isNaN(out[3 * size - 1])).toBe(true);
        }
      }
    });
  }
});
