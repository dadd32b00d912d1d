/**
 * The same brain stored another lossless way must give the same z-score input: a resampling
 * between grids whose voxel centres coincide copies values (background stays exactly 0), and
 * the z-score's brain mask treats a background that is zero up to rounding as background.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyIntensityTransform,
  brainMask,
  fitIntensityNormalization,
  normalizeIntensity,
  readVolume,
  resample,
  writeNifti,
  writeVolume,
  type Affine,
  type Grid,
  type Vec3,
  type Volume,
} from '../../src/volume/index.js';
import { int16Bytes, prng, rawNifti } from './fixtures.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glas3d-background-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A skull-stripped "brain": an ellipsoid of smooth, non-integer values; background exactly 0. */
function brain(dims: Vec3, affine: Affine): Volume {
  const [nx, ny, nz] = dims;
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const u = (i - (nx - 1) / 2) / (0.4 * nx);
        const v = (j - (ny - 1) / 2) / (0.4 * ny);
        const w = (k - (nz - 1) / 2) / (0.4 * nz);
        if (u * u + v * v + w * w >= 1) continue;
        data[i + nx * (j + ny * k)] = 300 + 150 * Math.sin(0.7 * i) * Math.cos(0.5 * j + 0.3 * k);
      }
    }
  }
  return { dims, affine, data };
}

/** Trilinear sample of `v` at a continuous voxel index (float64; for building test data). */
function trilinear(v: Volume, x: number, y: number, z: number): number {
  const [nx, ny] = v.dims;
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const z0 = Math.floor(z);
  let sum = 0;
  for (const [dx, wx] of [
    [0, 1 - (x - x0)],
    [1, x - x0],
  ]) {
    for (const [dy, wy] of [
      [0, 1 - (y - y0)],
      [1, y - y0],
    ]) {
      for (const [dz, wz] of [
        [0, 1 - (z - z0)],
        [1, z - z0],
      ]) {
        const w = wx * wy * wz;
        if (w !== 0) sum += w * v.data[x0 + dx + nx * (y0 + dy + ny * (z0 + dz))];
      }
    }
  }
  return sum;
}

function countNonzero(d: Float32Array): number {
  let n = 0;
  for (const x of d) if (x !== 0) n++;
  return n;
}

describe('resampling between grids whose voxel centres coincide is exact', () => {
  it('a 1 mm LIA copy stored with only a qform (qfac −1) resamples back to the 2 mm LAS original exactly', async () => {
    // 2 mm LAS, as the MNI grid: x = −2a + 22, y = 2b − 28, z = 2c − 20.
    const las = brain(
      [24, 28, 22],
      [
        [-2, 0, 0, 22],
        [0, 2, 0, -28],
        [0, 0, 2, -20],
        [0, 0, 0, 1],
      ],
    );
    // 1 mm LIA over the same box (FreeSurfer's conformed orientation): x = −i + 22,
    // y = k − 28, z = −j + 22; every 2 mm voxel centre is a 1 mm voxel centre.
    const liaDims: Vec3 = [47, 43, 55];
    const liaAffine = [
      [-1, 0, 0, 22],
      [0, 0, 1, -28],
      [0, -1, 0, 22],
      [0, 0, 0, 1],
    ];
    const lia = new Float32Array(liaDims[0] * liaDims[1] * liaDims[2]);
    for (let k = 0; k < liaDims[2]; k++) {
      for (let j = 0; j < liaDims[1]; j++) {
        for (let i = 0; i < liaDims[0]; i++) {
          // LAS index of this 1 mm voxel: a = (22 − x) / 2, b = (y + 28) / 2, c = (z + 20) / 2.
          lia[i + liaDims[0] * (j + liaDims[1] * k)] = trilinear(las, i / 2, k / 2, (42 - j) / 2);
        }
      }
    }
    const path = join(dir, 'lia-qform-only.nii.gz');
    await writeNifti(path, { dims: liaDims, affine: liaAffine, data: lia, only: 'qform' });
    const read = await readVolume(path);
    expect(read.source.affineSource).toBe('qform');
    expect(read.source.header.pixdim[0]).toBe(-1); // qfac −1
    // The float32 quaternion (c = −d = 0.70710677) gives −0.9999999999999998, not −1: the
    // sample positions miss whole voxels by ~1e-14, which used to leave 1e-12 in the background.
    expect(read.affine[0][0]).not.toBe(-1);

    const back = resample(read, las, 'linear');
    expect(countNonzero(back.data)).toBe(countNonzero(las.data));
    let differing = 0;
    for (let o = 0; o < las.data.length; o++) if (back.data[o] !== las.data[o]) differing++;
    expect(differing).toBe(0);
    // And so the z-score input is the original's, bit for bit.
    expect(normalizeIntensity(back, 'zscore').data).toEqual(normalizeIntensity(las, 'zscore').data);
  });

  it('a qform-only grid rotated 90° (float32 quaternion 3.4e-8 off the diagonal) resamples back exactly', async () => {
    // RIA: a 90° rotation about x, qfac 1: b = 1/√2 in float32 misses by 3.4e-8 per voxel, so
    // 8.8e-6 voxel at index 256; here 6.8e-6 at index 200 (above a 1e-6 snap tolerance).
    const ria: Grid = {
      dims: [6, 201, 201],
      affine: [
        [1, 0, 0, -3],
        [0, 0, 1, -100],
        [0, -1, 0, 100],
        [0, 0, 0, 1],
      ],
    };
    const original = brain(ria.dims as Vec3, ria.affine);
    const path = join(dir, 'ria-qform-only.nii.gz');
    await writeNifti(path, { ...original, only: 'qform' });
    const read = await readVolume(path);
    expect(read.source.affineSource).toBe('qform');
    expect(Math.abs(read.affine[1][1])).toBeGreaterThan(1e-8);
    const back = resample(read, ria, 'linear');
    let differing = 0;
    for (let o = 0; o < original.data.length; o++) {
      if (back.data[o] !== original.data[o]) differing++;
    }
    expect(differing).toBe(0);
  });

  it('elsewhere, snapping changes a sample by at most 1e-4 of its neighbours’ difference', () => {
    const source = brain(
      [20, 22, 18],
      [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    );
    // Random values everywhere, so any interpolation error shows.
    const rand = prng(7);
    for (let o = 0; o < source.data.length; o++) source.data[o] = 1000 * rand();
    const shifted = (s: number): Grid => ({
      dims: [10, 10, 10],
      affine: [
        [1, 0, 0, 4 + s],
        [0, 1, 0, 5 - s],
        [0, 0, 1, 3 + 2 * s],
        [0, 0, 0, 1],
      ],
    });
    const worst = (s: number) => {
      const g = shifted(s);
      const out = resample(source, g, 'linear').data;
      let max = 0;
      for (let k = 0; k < 10; k++) {
        for (let j = 0; j < 10; j++) {
          for (let i = 0; i < 10; i++) {
            const want = trilinear(source, i + 4 + s, j + 5 - s, k + 3 + 2 * s);
            max = Math.max(max, Math.abs(out[i + 10 * (j + 10 * k)] - want));
          }
        }
      }
      return max;
    };
    // Off by 0.3 or 1e-3 voxel: plain trilinear (float32 rounding of values up to 1000 only).
    expect(worst(0.3)).toBeLessThan(1e-4);
    expect(worst(1e-3)).toBeLessThan(1e-4);
    // Off by 4e-5, 4e-5 and 8e-5 voxel (within the tolerance): snapped, which changes a sample
    // by at most each axis's shift times a neighbour difference (≤ 1000), summed: 0.16.
    const near = worst(4e-5);
    expect(near).toBeGreaterThan(1e-4); // it did snap
    expect(near).toBeLessThanOrEqual((4e-5 + 4e-5 + 8e-5) * 1000);
  });
});

describe('the z-score brain mask: background is zero up to rounding', () => {
  // 16-bit stored values: 400 + brain·20 → value raw·0.05 − 20, so raw 400 is 0 (background).
  const dims: Vec3 = [20, 24, 18];
  const affine = [
    [-2, 0, 0, 20],
    [0, 2, 0, -24],
    [0, 0, 2, -18],
    [0, 0, 0, 1],
  ];

  it('a scaled int16 copy (scl_slope 0.05, scl_inter −20) z-scores as the float copy does', async () => {
    const b = brain(dims, affine);
    const raw = Array.from(b.data, (v) => (v === 0 ? 400 : 400 + Math.round(v * 20)));
    // The float copy holds the values the int16 copy means: raw·0.05 − 20, exactly 0 outside.
    const exact: Volume = {
      dims,
      affine,
      data: Float32Array.from(raw, (r) => (r === 400 ? 0 : (r - 400) / 20)),
    };
    const floatPath = join(dir, 'float.nii.gz');
    await writeVolume(floatPath, exact);
    const intPath = join(dir, 'int16.nii');
    await writeFile(
      intPath,
      rawNifti({
        dims,
        datatypeCode: 4,
        bitpix: 16,
        pixdim: [1, 2, 2, 2, 1, 1, 1, 1],
        sclSlope: 0.05,
        sclInter: -20,
        sformCode: 1,
        srow: affine.slice(0, 3),
        data: int16Bytes(raw),
      }),
    );
    const asFloat = await readVolume(floatPath);
    const asInt = await readVolume(intPath);
    // As the NIfTI standard says: 400 · float32(0.05) − 20 = 2.98e-7, not 0.
    expect(asInt.data[0]).toBeCloseTo(2.98e-7, 9);
    expect(asInt.data[0]).not.toBe(0);

    expect(brainMask(asInt.data)).toEqual(brainMask(asFloat.data));
    const zi = normalizeIntensity(asInt, 'zscore').data;
    const zf = normalizeIntensity(asFloat, 'zscore').data;
    expect(countNonzero(zi)).toBe(countNonzero(b.data));
    let max = 0;
    for (let o = 0; o < zf.length; o++) max = Math.max(max, Math.abs(zi[o] - zf[o]));
    // The two reads differ by float32 rounding (≤ 3e-7 on values up to ~23): z within 1e-5.
    expect(max).toBeLessThan(1e-5);
    for (let o = 0; o < zf.length; o++) if (zf[o] === 0) expect(zi[o]).toBe(0);
  });

  it('1e-7 noise in the background z-scores (and percentile-scales) as the clean volume', () => {
    const clean = brain(dims, affine);
    const noisy: Volume = { ...clean, data: Float32Array.from(clean.data) };
    const rand = prng(3);
    for (let o = 0; o < noisy.data.length; o++) {
      if (noisy.data[o] === 0) noisy.data[o] = (rand() - 0.5) * 2e-7;
    }
    expect(normalizeIntensity(noisy, 'zscore').data).toEqual(
      normalizeIntensity(clean, 'zscore').data,
    );
    expect(normalizeIntensity(noisy, 'percentile').data).toEqual(
      normalizeIntensity(clean, 'percentile').data,
    );
    // The baseline goes through the same mask: zero stays 0 outside the brain.
    const t = fitIntensityNormalization(noisy, 'zscore');
    const zero = applyIntensityTransform(t, new Float32Array(noisy.data.length));
    expect(countNonzero(zero)).toBe(countNonzero(clean.data));
  });

  it('small tissue values stay brain: the tolerance is 1e-6 of the largest |value|', () => {
    // Max 1000: 0.01 (1e-5 of it, a 16-bit step is 3e-5) is brain; 5e-4 (5e-7 of it) is not.
    const v: Volume = {
      dims: [5, 1, 1],
      affine,
      data: Float32Array.from([0, 5e-4, 0.01, -1000, 500]),
    };
    expect(Array.from(brainMask(v.data))).toEqual([0, 0, 1, 1, 1]);
    expect(Array.from(brainMask(new Float32Array(3)))).toEqual([0, 0, 0]);
    expect(Array.from(brainMask(Float32Array.from([0, NaN, 1])))).toEqual([0, 1, 1]);
  });
});
