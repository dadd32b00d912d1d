/**
 * BatchWorkspace fills batch slots with the WebAssembly kernel, incrementally: a slot refilled
 * with the same kind only has the old support restored and the new one written. Whatever the
 * order of fills, every slot must hold exactly (bit for bit) what perturbInto writes, which in turn
 * is the plain formula B + (I − B)·G or I − (I − B)·G within float32 rounding and the MASK_CUT
 * bound. Random layouts (rows not a multiple of four, channels first and last), centres on and off
 * the grid, supports smaller and larger than the sample, constant and array baselines.
 */
import { describe, expect, it } from 'vitest';
import { BatchWorkspace } from '../../src/glas3d/batch-workspace.js';
import {
  createSeparableMask,
  MASK_CUT,
  perturbInto,
  resolveGridLayout,
  setGaussianMask,
} from '../../src/glas3d/index.js';
import type { GridLayout, Perturbation } from '../../src/glas3d/index.js';
import { product, seededRandom, unravel } from './oracles.js';

const layouts: [number[], number[], number[]][] = [
  [
    [3, 13, 18],
    [2, 1],
    [1, 1.3],
  ], // CHW, rows of 18
  [
    [11, 9, 3],
    [1, 0],
    [0.7, 1],
  ], // HWC, rows of 3 (channels)
  [
    [1, 17, 15, 21],
    [3, 2, 1],
    [1.5, 1, 2],
  ], // 3-D, rows of 21
  [
    [2, 10, 12, 7],
    [1, 2, 3],
    [1, 1, 1],
  ], // 3-D, two channels, rows of 7
];

/** The plain formula at flat index f, G by a per-voxel exp. */
function plainCopy(
  layout: GridLayout,
  f: number,
  mu: readonly number[],
  sigma: number,
  I: number,
  B: number,
  kind: Perturbation,
): number {
  const c = unravel(f, layout.shape);
  let d2 = 0;
  for (let a = 0; a < layout.gridAxes.length; a++) {
    d2 += ((c[layout.gridAxes[a]] - mu[a]) * layout.spacing[a]) ** 2;
  }
  const G = Math.exp(-d2 / (2 * sigma * sigma));
  return kind === 'light' ? B + (I - B) * G : I - (I - B) * G;
}

describe('BatchWorkspace', () => {
  it('uses the WebAssembly kernel on this runtime', () => {
    expect(new BatchWorkspace(2, [3, 4, 5]).usesKernel).toBe(true);
    expect(new BatchWorkspace(2, [3, 4, 5], { kernel: false }).usesKernel).toBe(false);
  });

  for (const [shape, gridAxes, spacing] of layouts) {
    for (const kernel of [true, false]) {
      it(`shape [${shape.join(', ')}]${kernel ? '' : ', without the kernel'}: every fill equals perturbInto and the formula`, () => {
        const layout = resolveGridLayout(shape, gridAxes, spacing);
        const size = product(shape);
        const rand = seededRandom(shape.length * 100 + size);
        const batchSize = 4;
        const workspace = new BatchWorkspace(batchSize, shape, { kernel });
        const reference = new Float32Array(batchSize * size);
        const mask = createSeparableMask(layout);
        const extent = layout.gridDims.map((n, a) => n * layout.spacing[a]);
        for (const baseline of [
          Float32Array.from({ length: size }, () => 2 * rand() - 0.5),
          0.3,
          0, // the zero kernel, which skips I − B
          -0,
        ]) {
          const sample = Float32Array.from({ length: size }, () => 4 * rand() - 1);
          // Signed zeros, where B = 0 and B = −0 give different bits.
          sample[0] = -0;
          sample[1] = 0;
          sample[size - 1] = -0;
          workspace.begin(sample, baseline);
          workspace.batch.fill(NaN); // begin() forgets the slots, so all of each must be written
          for (let step = 0; step < 40; step++) {
            const slot = Math.floor(rand() * batchSize);
            const kind: Perturbation = rand() < 0.5 ? 'light' : 'shadow';
            // Centres up to a quarter of the grid outside it; σ from a fraction of a step to
            // twice the grid, so supports from a few voxels to the whole sample.
            const mu = layout.gridDims.map((n) => (1.5 * rand() - 0.25) * n);
            const sigma = (0.1 + 2 * rand() ** 2) * Math.max(...extent);
            setGaussianMask(workspace.mask, layout, mu, sigma);
            setGaussianMask(mask, layout, mu, sigma);
            workspace.fill(slot, kind);
            perturbInto(reference, slot * size, sample, baseline, mask, kind);

            const got = workspace.batch.subarray(slot * size, (slot + 1) * size);
            for (let f = 0; f < size; f++) {
              const want = reference[slot * size + f];
              if (!Object.is(got[f], want)) {
                const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
                expect.fail(
                  `step ${step}, slot ${slot}, ${kind}, element ${f}: ${show(got[f])} ≠ ${show(want)}`,
                );
              }
            }
            // Spot checks against the plain formula (perturbInto's own tests cover all of it).
            for (let probe = 0; probe < 20; probe++) {
              const f = Math.floor(rand() * size);
              const I = sample[f];
              const B = typeof baseline === 'number' ? baseline : baseline[f];
              const want = plainCopy(layout, f, mu, sigma, I, B, kind);
              const bound = Math.abs(want) * 2 ** -24 + MASK_CUT * Math.abs(I - B) + 1e-12;
              expect(Math.abs(got[f] - want)).toBeLessThanOrEqual(bound);
            }
          }
        }
      });
    }
  }

  it('refuses a sample or baseline of the wrong size, and fill before begin', () => {
    const workspace = new BatchWorkspace(2, [2, 3]);
    expect(() => workspace.fill(0, 'light')).toThrow(/before begin/);
    expect(() => workspace.begin(new Float32Array(5), 0)).toThrow(RangeError);
    expect(() => workspace.begin(new Float32Array(6), new Float32Array(7))).toThrow(RangeError);
    workspace.begin(new Float32Array(6), 0);
    expect(() => workspace.fill(2, 'light')).toThrow(RangeError);
  });
});
