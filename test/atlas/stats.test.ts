import { describe, expect, it } from 'vitest';
import { atlasFromVolume, atlasOnGrid, medianInPlace, regionStats } from '../../src/atlas/index.js';
import type { Grid, Volume } from '../../src/volume/index.js';
import { GRID, NAMES, SHAPES, shapeAt, syntheticLabels } from './synthetic.js';

const atlas = atlasFromVolume(syntheticLabels(), NAMES);

/** Mean, max, min, sum and median the slow obvious way. */
function reference(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const sum = sorted.reduce((a, b) => a + b, 0);
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { voxels: n, mean: sum / n, max: sorted[n - 1], min: sorted[0], sum, median };
}

/** A small deterministic generator (LCG) of integers in [0, 100). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % 100;
  };
}

describe('regionStats on the atlas grid', () => {
  it('gives hand-computed mean, max, sum and median per region', () => {
    const [nx, ny, nz] = GRID.dims;
    const map: Volume = { ...GRID, data: new Float32Array(nx * ny * nz).fill(1000) };
    const seen = new Map<number, number>();
    const valuesFor: Record<number, (n: number) => number> = {
      1: (n) => n + 1, // 1..27
      3: (n) => [5, 1, 4, 2][n],
      7: (n) => (n < 12 ? 10 : 30),
      12: () => 7,
    };
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const s = shapeAt(i, j, k);
          if (!s) continue;
          const n = seen.get(s.index) ?? 0;
          seen.set(s.index, n + 1);
          map.data[i + nx * (j + ny * k)] = valuesFor[s.index](n);
        }
    const stats = regionStats(atlas, map);
    expect(stats.map((s) => s.index)).toEqual([1, 3, 7, 12]);
    expect(stats[0]).toMatchObject({
      name: 'BoxA',
      voxels: 27,
      mean: 14,
      max: 27,
      min: 1,
      sum: 378,
      median: 14,
    });
    expect(stats[1]).toMatchObject({ voxels: 4, mean: 3, max: 5, min: 1, sum: 12, median: 3 });
    expect(stats[2]).toMatchObject({
      voxels: 24,
      mean: 20,
      max: 30,
      min: 10,
      sum: 480,
      median: 20,
    });
    expect(stats[3]).toMatchObject({ voxels: 13, mean: 7, max: 7, sum: 91, median: 7 });
  });
});

describe('regionStats on another grid (RAS, half-size voxels, labels resampled nearest)', () => {
  // Map voxels are half the atlas's along each axis, offset by a quarter atlas voxel so that
  // no map voxel centre sits on an atlas voxel boundary: each atlas voxel holds exactly 8.
  //   map x = −12.5 + n,  y = −10.625 + 1.25 m,  z = 3.25 + 1.5 p
  const mapGrid: Grid = {
    dims: [24, 20, 16],
    affine: [
      [1, 0, 0, -12.5],
      [0, 1.25, 0, -10.625],
      [0, 0, 1.5, 3.25],
      [0, 0, 0, 1],
    ],
  };

  it('matches statistics gathered by locating each map voxel in the atlas by hand', () => {
    const [mx, my, mz] = mapGrid.dims;
    const next = lcg(42);
    const map: Volume = { ...mapGrid, data: new Float32Array(mx * my * mz) };
    const byRegion = new Map<number, number[]>(SHAPES.map((s) => [s.index, []]));
    for (let p = 0; p < mz; p++)
      for (let m = 0; m < my; m++)
        for (let n = 0; n < mx; n++) {
          const v = next();
          map.data[n + mx * (m + my * p)] = v;
          const [x, y, z] = [-12.5 + n, -10.625 + 1.25 * m, 3.25 + 1.5 * p];
          // The atlas voxel whose cell holds (x, y, z): x = 10 − 2i, y = −10 + 2.5j, z = 4 + 3k.
          const s = shapeAt(
            Math.round((10 - x) / 2),
            Math.round((y + 10) / 2.5),
            Math.round((z - 4) / 3),
          );
          if (s) byRegion.get(s.index)?.push(v);
        }
    const stats = regionStats(atlas, map);
    expect(stats.map((s) => s.voxels)).toEqual([27 * 8, 4 * 8, 24 * 8, 13 * 8]);
    for (const s of stats) {
      const ref = reference(byRegion.get(s.index) ?? []);
      expect(s.voxels).toBe(ref.voxels);
      expect(s.sum).toBe(ref.sum);
      expect(s.mean).toBeCloseTo(ref.mean, 12);
      expect(s.max).toBe(ref.max);
      expect(s.min).toBe(ref.min);
      expect(s.median).toBe(ref.median);
    }
  });

  it('atlasOnGrid moves the regions there: 8× the voxels, same centres and volumes', () => {
    const moved = atlasOnGrid(atlas, mapGrid);
    expect(moved.regions.map((r) => r.voxels)).toEqual([27 * 8, 4 * 8, 24 * 8, 13 * 8]);
    for (const r of moved.regions) {
      const before = atlas.regions.find((b) => b.index === r.index);
      expect(r.volumeMm3).toBeCloseTo(before?.volumeMm3 ?? NaN, 9);
      r.centreMm.forEach((v, i) => expect(v).toBeCloseTo(before?.centreMm[i] ?? NaN, 9));
    }
    expect(moved.notes.join('\n')).toMatch(/resampled \(nearest\) from 12×10×8 onto 24×20×16/);
  });

  it('atlasOnGrid on a grid the atlas does not overlap says so', () => {
    const far: Grid = {
      ...mapGrid,
      affine: mapGrid.affine.map((row, r) => row.map((v, c) => (c === 3 && r === 0 ? v + 500 : v))),
    };
    expect(() => atlasOnGrid(atlas, far)).toThrow(
      /has no region on the 24×20×16 grid of the data: they do not overlap in world space/,
    );
  });

  it('atlasOnGrid reports regions that vanish on a coarse grid', () => {
    // One 30 mm voxel per axis-step: only a few atlas voxels are sampled.
    const coarse: Grid = {
      dims: [2, 2, 2],
      affine: [
        [-30, 0, 0, 6],
        [0, 30, 0, -2.5],
        [0, 0, 30, 7],
        [0, 0, 0, 1],
      ],
    };
    const moved = atlasOnGrid(atlas, coarse);
    // Only (0,0,0) → atlas voxel (2, 3, 1) of BoxA lands inside a region.
    expect(moved.regions.map((r) => r.name)).toEqual(['BoxA']);
    expect(moved.notes.join('\n')).toMatch(
      /3 region\(s\) have no voxel.*Middle \(3\), Thing_R \(7\), Ell \(12\)/,
    );
    const stats = regionStats(atlas, {
      ...coarse,
      data: new Float32Array([5, 6, 7, 8, 9, 10, 11, 12]),
    });
    expect(stats.map((s) => s.voxels)).toEqual([1, 0, 0, 0]);
    expect(stats[0]).toMatchObject({ mean: 5, median: 5, sum: 5 });
    expect(stats[1].mean).toBeNaN();
    expect(stats[1].median).toBeNaN();
  });
});

describe('medianInPlace', () => {
  it('agrees with sorting on random data with many ties, odd and even lengths', () => {
    const next = lcg(7);
    for (let n = 1; n <= 200; n++) {
      const values = Array.from({ length: n }, () => next() % (n % 3 === 0 ? 5 : 100));
      expect(medianInPlace(Float32Array.from(values)), `n=${n}`).toBe(reference(values).median);
    }
    expect(medianInPlace(new Float32Array(0))).toBeNaN();
  });
});
