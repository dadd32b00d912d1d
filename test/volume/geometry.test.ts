import { describe, expect, it } from 'vitest';
import {
  affineFromQuaternion,
  applyAffine,
  invertAffine,
  MNI_GRIDS,
  mmToVoxel,
  multiplyAffines,
  orientationCode,
  quaternionFromAffine,
  resample,
  voxelToMm,
  type Affine,
  type Grid,
  type Volume,
} from '../../src/volume/index.js';
import { prng } from './fixtures.js';

function rotation(axis: 0 | 1 | 2, degrees: number): Affine {
  const t = (degrees * Math.PI) / 180;
  const c = Math.cos(t);
  const s = Math.sin(t);
  const [a, b] = axis === 0 ? [1, 2] : axis === 1 ? [2, 0] : [0, 1];
  const m: Affine = [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
  m[a][a] = c;
  m[a][b] = -s;
  m[b][a] = s;
  m[b][b] = c;
  return m;
}

describe('orientation codes', () => {
  it('reads the direction each voxel axis points to', () => {
    expect(orientationCode(MNI_GRIDS.colin1mm.affine)).toBe('RAS');
    expect(orientationCode(MNI_GRIDS.mni2mm.affine)).toBe('LAS');
    // FreeSurfer-conformed: i → left, j → inferior, k → anterior.
    const lia: Affine = [
      [-1, 0, 0, 128],
      [0, 0, 1, -128],
      [0, -1, 0, 128],
      [0, 0, 0, 1],
    ];
    expect(orientationCode(lia)).toBe('LIA');
    // Sagittal acquisition stored as (A→P, S→I, L→R): i → posterior, j → inferior, k → right.
    const psr: Affine = [
      [0, 0, 1, 0],
      [-1, 0, 0, 0],
      [0, -1, 0, 0],
      [0, 0, 0, 1],
    ];
    expect(orientationCode(psr)).toBe('PIR');
    // A 20° oblique RAS scan is still RAS.
    expect(orientationCode(multiplyAffines(rotation(0, 20), MNI_GRIDS.colin1mm.affine))).toBe(
      'RAS',
    );
  });
});

describe('affines', () => {
  it('inverse and voxel ↔ mm helpers agree', () => {
    const grid: Grid = {
      dims: [10, 10, 10],
      affine: multiplyAffines(rotation(2, 33), MNI_GRIDS.mni2mm.affine),
    };
    const ijk = [3.25, 7.5, 1];
    const back = mmToVoxel(grid, voxelToMm(grid, ijk));
    back.forEach((v, i) => expect(v).toBeCloseTo(ijk[i], 10));
    const id = multiplyAffines(grid.affine, invertAffine(grid.affine));
    id.forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(r === c ? 1 : 0, 12)));
  });

  it('quaternion ↔ affine round trips for random rotations, flips and voxel sizes', () => {
    const r = prng(3);
    for (let n = 0; n < 200; n++) {
      let a = multiplyAffines(rotation(0, r() * 360), rotation(1, r() * 360));
      a = multiplyAffines(a, rotation(2, r() * 360));
      const sizes = [0.5 + r() * 2, 0.5 + r() * 2, 0.5 + r() * 2];
      const flip = r() < 0.5 ? -1 : 1;
      for (let row = 0; row < 3; row++) {
        for (let c = 0; c < 3; c++) a[row][c] *= sizes[c] * (c === 2 ? flip : 1);
        a[row][3] = (r() - 0.5) * 200;
      }
      const back = affineFromQuaternion(quaternionFromAffine(a));
      for (let row = 0; row < 3; row++)
        for (let c = 0; c < 4; c++) expect(back[row][c]).toBeCloseTo(a[row][c], 9);
    }
  });
});

/** A smooth intensity field in world mm (long wavelengths, so trilinear error stays small). */
function field([x, y, z]: number[]): number {
  return Math.sin(x / 30) + Math.cos(y / 35) * Math.sin(z / 40 + 0.3) + 0.002 * x;
}

function sampleField(grid: Grid): Volume {
  const [nx, ny, nz] = grid.dims;
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++)
        data[i + nx * (j + ny * k)] = field(applyAffine(grid.affine, [i, j, k]));
  return { ...grid, data };
}

describe('resampling through world coordinates', () => {
  const source: Grid = {
    dims: [40, 44, 36],
    affine: [
      [1.5, 0, 0, -30],
      [0, 1.5, 0, -33],
      [0, 0, 1.5, -27],
      [0, 0, 0, 1],
    ],
  };

  it('a volume moved by a known affine and resampled back matches the original inside', () => {
    const original = sampleField(source);
    // The moved grid: rotated 12° about z and 7° about x, shifted, finer voxels.
    const move = multiplyAffines(rotation(2, 12), rotation(0, 7));
    move[0][3] = 4.2;
    move[1][3] = -3.1;
    move[2][3] = 2.5;
    const movedGrid: Grid = {
      dims: [60, 66, 54],
      affine: multiplyAffines(move, [
        [1, 0, 0, -30],
        [0, 1, 0, -33],
        [0, 0, 1, -27],
        [0, 0, 0, 1],
      ]),
    };
    const moved = resample(original, movedGrid, 'linear');
    // The moved volume samples the same field at its own voxels' world positions.
    const truthMoved = sampleField(movedGrid);
    let maxErrMoved = 0;
    const back = resample(moved, source, 'linear');
    let maxErr = 0;
    let interior = 0;
    const [nx, ny, nz] = source.dims;
    for (let k = 8; k < nz - 8; k++)
      for (let j = 8; j < ny - 8; j++)
        for (let i = 8; i < nx - 8; i++) {
          const o = i + nx * (j + ny * k);
          maxErr = Math.max(maxErr, Math.abs(back.data[o] - original.data[o]));
          interior++;
        }
    for (let o = 0; o < moved.data.length; o++) {
      if (moved.data[o] !== 0)
        maxErrMoved = Math.max(maxErrMoved, Math.abs(moved.data[o] - truthMoved.data[o]));
    }
    expect(interior).toBeGreaterThan(10000);
    expect(maxErrMoved).toBeLessThan(1e-3);
    expect(maxErr).toBeLessThan(1e-3);
  });

  it('a flipped grid over the same world box gives the reversed array, exactly', () => {
    const original = sampleField(source);
    const [nx] = source.dims;
    const flipped: Grid = {
      dims: source.dims,
      affine: [
        [-1.5, 0, 0, -30 + 1.5 * (nx - 1)],
        [0, 1.5, 0, -33],
        [0, 0, 1.5, -27],
        [0, 0, 0, 1],
      ],
    };
    const out = resample(original, flipped, 'nearest');
    const lin = resample(original, flipped, 'linear');
    for (const o of [0, 5, 1234, 30000]) {
      const i = o % nx;
      const rest = o - i;
      expect(out.data[o]).toBe(original.data[rest + nx - 1 - i]);
      expect(lin.data[o]).toBeCloseTo(original.data[rest + nx - 1 - i], 5);
    }
  });

  it('nearest keeps label values; outside the source is 0', () => {
    const labels: Volume = { ...source, data: new Float32Array(40 * 44 * 36) };
    labels.data.forEach((_, o) => (labels.data[o] = 1 + (o % 7)));
    const bigger: Grid = {
      dims: [30, 30, 30],
      affine: [
        [3, 0, 0, -60],
        [0, 3, 0, -60],
        [0, 0, 3, -60],
        [0, 0, 0, 1],
      ],
    };
    const out = resample(labels, bigger, 'nearest');
    const values = new Set(out.data);
    for (const v of values) expect([0, 1, 2, 3, 4, 5, 6, 7]).toContain(v);
    // The corner (−60, −60, −60) mm lies outside the source box, which starts at −30 mm.
    expect(out.data[0]).toBe(0);
    expect(resample(sampleField(source), bigger, 'linear').data[0]).toBe(0);
  });
});

describe('Gaussian smoothing in mm', () => {
  it('keeps a constant volume constant and spreads a point by σ in mm on anisotropic voxels', async () => {
    const { gaussianSmooth } = await import('../../src/volume/index.js');
    const dims: [number, number, number] = [41, 21, 11];
    const affine: Affine = [
      [1, 0, 0, 0],
      [0, 2, 0, 0],
      [0, 0, 4, 0],
      [0, 0, 0, 1],
    ];
    const flat = gaussianSmooth({ dims, affine, data: new Float32Array(41 * 21 * 11).fill(3) }, 6);
    for (const v of flat.data) expect(v).toBeCloseTo(3, 5);
    const point = new Float32Array(41 * 21 * 11);
    const centre = 20 + 41 * (10 + 21 * 5);
    point[centre] = 1;
    const out = gaussianSmooth({ dims, affine, data: point }, 4).data;
    // Along each axis the profile falls as exp(−d²/2σ²) with d in mm: 8 mm = 2σ → e^−2.
    expect(out[centre + 8] / out[centre]).toBeCloseTo(Math.exp(-2), 2); // x: 8 voxels of 1 mm
    expect(out[centre + 4 * 41] / out[centre]).toBeCloseTo(Math.exp(-2), 2); // y: 4 voxels of 2 mm
    expect(out[centre + 2 * 41 * 21] / out[centre]).toBeCloseTo(Math.exp(-2), 2); // z: 2 voxels of 4 mm
  });
});
