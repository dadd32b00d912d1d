import { describe, expect, it } from 'vitest';
import {
  applyIntensityTransform,
  fitIntensityNormalization,
  normalizeIntensity,
  type Volume,
} from '../../src/volume/index.js';

const affine = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
  [0, 0, 0, 1],
];
const volume = (values: number[]): Volume => ({
  dims: [values.length, 1, 1],
  affine,
  data: Float32Array.from(values),
});

describe('intensity normalization', () => {
  const v = volume([0, 2, 4, 6, 0, 8]);

  it('zscore uses the non-zero voxels and leaves the background at 0', () => {
    // Non-zero 2, 4, 6, 8: mean 5, sample sd √(20/3).
    const sd = Math.sqrt(20 / 3);
    const out = normalizeIntensity(v, 'zscore').data;
    expect(Array.from(out).map((x) => Number(x.toFixed(5)))).toEqual(
      [0, (2 - 5) / sd, (4 - 5) / sd, (6 - 5) / sd, 0, (8 - 5) / sd].map((x) =>
        Number(x.toFixed(5)),
      ),
    );
  });

  it('minmax maps the whole volume to [0, 1]', () => {
    expect(Array.from(normalizeIntensity(v, 'minmax').data)).toEqual([0, 0.25, 0.5, 0.75, 0, 1]);
  });

  it('percentile clips the non-zero voxels between their 1st and 99th percentiles', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1); // 1..1000
    const out = normalizeIntensity(volume(values), 'percentile').data;
    // 1st percentile (index 10) = 11, 99th (index 990) = 991.
    expect(out[10]).toBeCloseTo(0, 6);
    expect(out[990]).toBeCloseTo(1, 6);
    expect(out[0]).toBe(0);
    expect(out[999]).toBe(1);
    expect(out[500]).toBeCloseTo((501 - 11) / 980, 6);
  });

  it("a baseline goes through the subject's transform: zero becomes black tissue inside the brain", () => {
    const t = fitIntensityNormalization(v, 'zscore');
    const sd = Math.sqrt(20 / 3);
    const zero = applyIntensityTransform(t, new Float32Array(6));
    expect(zero[1]).toBeCloseTo(-5 / sd, 6); // inside the brain: (0 − mean) / sd
    expect(zero[0]).toBe(0); // background stays background
  });
});
