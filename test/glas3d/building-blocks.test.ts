/** The exported pieces on their own: grids of search points, products, masks, dimming, fusion. */
import { describe, expect, it } from 'vitest';
import {
  attenuateInto,
  createSeparableMask,
  fuseMap,
  gaussianFactorInto,
  gridSearchPoints,
  nearestGridIndex,
  outerProductInto,
  perturbInto,
  resolveGridLayout,
  searchPointsFromList,
  setGaussianMask,
} from '../../src/glas3d/index.js';
import { OptionError } from '../../src/errors.js';
import { maxRelativeDifference, product, seededRandom, unravel, unravelGrid } from './oracles.js';

describe('gridSearchPoints', () => {
  it('gives the centres of k×k cells, x fastest', () => {
    expect(gridSearchPoints([4, 6], 2)).toEqual([
      [0.5, 1],
      [2.5, 1],
      [0.5, 4],
      [2.5, 4],
    ]);
  });

  it('gives k³ points in 3-D, one count per axis allowed', () => {
    expect(gridSearchPoints([91, 109, 91], 3)).toHaveLength(27);
    const points = gridSearchPoints([10, 20, 30], [1, 2, 3]);
    expect(points).toHaveLength(6);
    expect(points[0]).toEqual([4.5, 4.5, 4.5]);
    expect(points[5]).toEqual([4.5, 14.5, 24.5]);
  });

  it('matches the paper: 15×15 on 224×224', () => {
    const points = gridSearchPoints([224, 224], 15);
    expect(points).toHaveLength(225);
    expect(points[0][0]).toBeCloseTo(224 / 30 - 0.5, 12);
    // Symmetric: the last centre is as far from the last pixel as the first from pixel 0.
    expect(points[224][1]).toBeCloseTo(223 - (224 / 30 - 0.5), 12);
  });

  it('rejects bad cell counts', () => {
    expect(() => gridSearchPoints([4, 4], 0)).toThrow(OptionError);
    expect(() => gridSearchPoints([4, 4], [2])).toThrow(OptionError);
  });
});

describe('searchPointsFromList', () => {
  it('passes points through as copies', () => {
    const list = [
      [1, 2, 3],
      [4.5, 5, 6],
    ];
    const points = searchPointsFromList(list, [10, 10, 10]);
    expect(points).toEqual(list);
    expect(points[0]).not.toBe(list[0]);
  });

  it('names the bad point', () => {
    expect(() => searchPointsFromList([[1, 2]], [10, 10, 10])).toThrow(/Search point 0/);
    expect(() => searchPointsFromList([[1, NaN]], [10, 10])).toThrow(OptionError);
  });
});

describe('outerProductInto', () => {
  it('is the Kronecker product, first factor slowest', () => {
    const out = new Float64Array(6);
    outerProductInto([Float64Array.of(1, 2), Float64Array.of(3, 5, 7)], out);
    expect(Array.from(out)).toEqual([3, 5, 7, 6, 10, 14]);
    const one = new Float64Array(1);
    outerProductInto([], one);
    expect(one[0]).toBe(1);
  });
});

describe('perturbInto and attenuateInto against the plain formulas', () => {
  for (const [shape, gridAxes, spacing] of [
    [
      [10, 12, 3],
      [1, 0],
      [0.8, 1.2],
    ],
    [
      [2, 5, 6, 7],
      [3, 1, 2],
      [1.5, 1, 2.5],
    ],
  ] as const) {
    const layout = resolveGridLayout(shape, gridAxes, spacing);
    const size = layout.sampleSize;
    const rand = seededRandom(1);
    const sample = Float32Array.from({ length: size }, () => rand());
    const baseline = Float32Array.from({ length: size }, () => rand());
    const gridOf = (f: number): number[] => {
      const c = unravel(f, shape);
      return gridAxes.map((t) => c[t]);
    };

    it(`perturbInto, shape [${shape.join(', ')}]`, () => {
      const mask = createSeparableMask(layout);
      const mu = layout.gridDims.map((n) => n / 2 - 0.3);
      setGaussianMask(mask, layout, mu, 2);
      const out = new Float32Array(3 * size);
      for (const kind of ['light', 'shadow'] as const) {
        perturbInto(out, size, sample, baseline, mask, kind);
        for (let f = 0; f < size; f++) {
          const x = gridOf(f);
          let d2 = 0;
          for (let a = 0; a < x.length; a++) d2 += ((x[a] - mu[a]) * spacing[a]) ** 2;
          const G = Math.exp(-d2 / 8);
          const want =
            kind === 'light'
              ? sample[f] * G + baseline[f] * (1 - G)
              : sample[f] * (1 - G) + baseline[f] * G;
          expect(out[size + f]).toBeCloseTo(want, 6);
        }
      }
      // Only the slot written was touched.
      expect(out[0]).toBe(0);
      expect(out[3 * size - 1]).toBe(0);
    });

    it(`attenuateInto, shape [${shape.join(', ')}]`, () => {
      const gridMap = Float32Array.from({ length: layout.gridSize }, () => rand());
      const out = new Float32Array(size);
      attenuateInto(out, sample, baseline, layout, gridMap);
      for (let f = 0; f < size; f++) {
        const x = gridOf(f);
        let g = 0;
        for (let a = x.length - 1; a >= 0; a--) g = g * layout.gridDims[a] + x[a];
        const want = baseline[f] + (sample[f] - baseline[f]) * (1 - gridMap[g]);
        expect(out[f]).toBeCloseTo(want, 6);
      }
      // In place, with a constant baseline 0: I ← I ⊙ (1 − S).
      const inPlace = Float32Array.from(sample);
      attenuateInto(inPlace, inPlace, 0, layout, gridMap);
      for (let f = 0; f < size; f += 5) {
        const x = gridOf(f);
        let g = 0;
        for (let a = x.length - 1; a >= 0; a--) g = g * layout.gridDims[a] + x[a];
        expect(inPlace[f]).toBeCloseTo(sample[f] * (1 - gridMap[g]), 6);
      }
    });
  }
});

describe('fuseMap', () => {
  it('divides by σ² (not 2σ²), uses physical distance and 1/|Ω|', () => {
    const gridDims = [5, 4, 3];
    const spacing = [2, 1, 3];
    const points = [
      [1, 2, 0.5],
      [3.5, 0, 2],
    ];
    const weights = [0.7, 0.2];
    const out = new Float32Array(product(gridDims));
    const map = fuseMap({ gridDims, spacing, points, weights, sigmaSpatial: 2.5 }, out);
    expect(map).toBe(out);
    const want = new Float64Array(out.length);
    for (let z = 0, g = 0; z < 3; z++)
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 5; x++, g++) {
          for (let i = 0; i < 2; i++) {
            const D =
              ((x - points[i][0]) * 2) ** 2 +
              ((y - points[i][1]) * 1) ** 2 +
              ((z - points[i][2]) * 3) ** 2;
            want[g] += (Math.exp(-D / 6.25) * weights[i]) / 2;
          }
        }
    expect(maxRelativeDifference(map, want)).toBeLessThan(1e-6);
  });

  it('sums points four at a time, equal to the plain sum when their x runs differ', () => {
    // A long x axis and a narrow σ: each point's factor is 0 over most of the row.
    const gridDims = [400, 3, 2];
    const spacing = [1, 2, 3];
    const rand = seededRandom(11);
    const points = Array.from({ length: 11 }, (_, i) => [i * 37 + rand(), 3 * rand(), 2 * rand()]);
    const weights = points.map(() => rand());
    const sigmaSpatial = 3;
    const map = fuseMap({ gridDims, spacing, points, weights, sigmaSpatial });
    const want = new Float64Array(product(gridDims));
    for (let g = 0; g < want.length; g++) {
      const x = [g % 400, Math.floor(g / 400) % 3, Math.floor(g / 1200)];
      for (let i = 0; i < points.length; i++) {
        let D = 0;
        for (let a = 0; a < 3; a++) D += ((x[a] - points[i][a]) * spacing[a]) ** 2;
        want[g] += (Math.exp(-D / sigmaSpatial ** 2) * weights[i]) / points.length;
      }
    }
    // Compared where float32 holds the value as a normal number (subnormals lose digits).
    const normal = (a: ArrayLike<number>) => Array.from(a).filter((_, g) => want[g] > 1e-37);
    expect(normal(want).length).toBeGreaterThan(want.length / 2);
    expect(maxRelativeDifference(normal(map), normal(want))).toBeLessThan(1e-6);
  });
});

describe('fuseMap, with and without the WebAssembly kernel', () => {
  it('both equal the plain sum, with points sharing coordinates and odd and even rows', () => {
    const rand = seededRandom(23);
    for (const gridDims of [
      [13, 6, 5],
      [16, 7],
      [1, 9, 4],
    ]) {
      const spacing = gridDims.map(() => 0.5 + rand());
      // A 3-per-axis grid of points (rows shared between points) and a few anywhere.
      const points = [
        ...gridSearchPoints(gridDims, 3),
        ...Array.from({ length: 5 }, () => gridDims.map((n) => n * rand())),
      ];
      const weights = points.map(() => rand());
      const sigmaSpatial = 1 + 3 * rand();
      const want = new Float64Array(product(gridDims));
      for (let g = 0; g < want.length; g++) {
        const x = unravelGrid(g, gridDims);
        for (let i = 0; i < points.length; i++) {
          let D = 0;
          for (let a = 0; a < gridDims.length; a++) D += ((x[a] - points[i][a]) * spacing[a]) ** 2;
          want[g] += (Math.exp(-D / sigmaSpatial ** 2) * weights[i]) / points.length;
        }
      }
      const input = { gridDims, spacing, points, weights, sigmaSpatial };
      const kernel = fuseMap(input);
      const js = fuseMap(input, undefined, { kernel: false });
      expect(maxRelativeDifference(kernel, want)).toBeLessThan(1e-6);
      expect(maxRelativeDifference(js, want)).toBeLessThan(1e-6);
    }
  });
});

describe('far tails', () => {
  it('factors under 1e-60 are exactly 0, and fuseMap skips them without changing the rest', () => {
    const factor = new Float64Array(300);
    gaussianFactorInto(factor, 0, 1, 1 / 100);
    const cut = Math.floor(Math.sqrt(100 * 60 * Math.LN10)); // last x with exp(−x²/100) ≥ 1e-60
    expect(factor[cut]).toBeGreaterThan(0);
    expect(factor[cut + 1]).toBe(0);
    const map = fuseMap({
      gridDims: [300, 2],
      spacing: [1, 1],
      points: [[0, 0]],
      weights: [1],
      sigmaSpatial: 10,
    });
    for (let x = 0; x <= cut; x++) {
      expect(map[x]).toBe(Math.fround(Math.exp(-(x * x) / 100)));
      expect(map[300 + x]).toBe(Math.fround(Math.exp(-(x * x + 1) / 100)));
    }
    expect(map.subarray(cut + 1, 300).every((v) => v === 0)).toBe(true);
  });
});

describe('nearestGridIndex', () => {
  it('rounds and clamps into the grid, grid order', () => {
    const layout = resolveGridLayout([1, 4, 3, 2], [3, 2, 1], [1, 1, 1]);
    expect(nearestGridIndex([1.4, 1.6, 2.2], layout)).toBe(1 + 2 * 2 + 2 * 6);
    expect(nearestGridIndex([-3, 9, 1], layout)).toBe(0 + 2 * 2 + 1 * 6);
  });
});
