/**
 * The AAL atlas shipped in atlases/aal (MRIcron's aal.nii.gz). Reference centres come from
 * nibabel + numpy (mean voxel index of each label through the sform); the per-label sums
 * below are a plain loop written for the test, independent of the library's census.
 */
import { describe, expect, it } from 'vitest';
import { aalDir, atlasOnGrid, loadAal, type Atlas, type Region } from '../../src/atlas/index.js';
import { MNI_GRIDS, readVolume, sameGrid, spacingMm } from '../../src/volume/index.js';
import { join } from 'node:path';

const atlas: Atlas = await loadAal();

function region(index: number): Region {
  const r = atlas.regions.find((x) => x.index === index);
  if (!r) throw new Error(`region ${index} missing`);
  return r;
}

function within(actual: readonly number[], expected: readonly number[], tol: number) {
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]), `axis ${i}`).toBeLessThanOrEqual(tol));
}

describe('AAL (atlases/aal)', () => {
  it('has 116 regions, 1..116, and no notes', () => {
    expect(atlas.regions).toHaveLength(116);
    expect(atlas.regions.map((r) => r.index)).toEqual(Array.from({ length: 116 }, (_, i) => i + 1));
    expect(atlas.notes).toEqual([]);
  });

  it('matches nibabel + numpy centres and voxel counts', () => {
    const h = region(37);
    expect(h.name).toBe('Hippocampus_L');
    expect(h.voxels).toBe(7469);
    within(h.centreMm, [-26.03, -20.74, -10.13], 0.01);
    const a = region(42);
    expect(a.name).toBe('Amygdala_R');
    expect(a.voxels).toBe(1965);
    within(a.centreMm, [26.32, 0.64, -17.5], 0.01);
    const t = region(90);
    expect(t.name).toBe('Temporal_Inf_R');
    within(t.centreMm, [52.69, -31.07, -22.32], 0.01);
    expect(h.volumeMm3).toBe(7469);
  });

  it('matches an independent per-label loop for every region', () => {
    const [nx, ny, nz] = atlas.labels.dims;
    const n = new Float64Array(117);
    const s = [new Float64Array(117), new Float64Array(117), new Float64Array(117)];
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const l = atlas.labels.data[i + nx * (j + ny * k)];
          n[l]++;
          s[0][l] += i;
          s[1][l] += j;
          s[2][l] += k;
        }
    for (const r of atlas.regions) {
      expect(r.voxels).toBe(n[r.index]);
      // AAL's sform is a pure translation: (−90, −125, −71).
      const expected = [
        s[0][r.index] / n[r.index] - 90,
        s[1][r.index] / n[r.index] - 125,
        s[2][r.index] / n[r.index] - 71,
      ];
      within(r.centreMm, expected, 1e-9);
    }
  });

  it('has exactly five centres outside their own region, and every search point inside', () => {
    expect(atlas.regions.filter((r) => !r.centreInside).map((r) => r.index)).toEqual([
      4, 21, 22, 101, 102,
    ]);
    const [nx, ny] = atlas.labels.dims;
    for (const r of atlas.regions) {
      const [i, j, k] = r.searchPointVoxel.map(Math.round);
      expect(atlas.labels.data[i + nx * (j + ny * k)], r.name).toBe(r.index);
      within(
        r.searchPointMm,
        r.searchPointVoxel.map((v, a) => v - [90, 125, 71][a]),
        1e-9,
      );
      // Inside: the centre of mass itself (not its voxel); outside: a whole voxel of the region.
      if (r.centreInside) within(r.searchPointMm, r.centreMm, 1e-9);
      else expect(r.searchPointVoxel.every(Number.isInteger)).toBe(true);
    }
  });

  it('takes the side from _L/_R names and puts the vermis on the midline', () => {
    for (const r of atlas.regions) {
      const expected = r.name.endsWith('_L') ? 'L' : r.name.endsWith('_R') ? 'R' : 'midline';
      expect(r.hemisphere, r.name).toBe(expected);
    }
  });

  it('shares one grid with ch2bet: 181×217×181, 1 mm, sform code 4, translation affine', async () => {
    const dir = aalDir();
    const labels = await readVolume(join(dir, 'aal.nii.gz'));
    const template = await readVolume(atlas.template ?? '');
    expect(atlas.template).toBe(join(dir, 'ch2bet.nii.gz'));
    for (const v of [labels, template]) {
      expect(v.dims).toEqual([181, 217, 181]);
      expect(spacingMm(v)).toEqual([1, 1, 1]);
      expect(v.source.header.sformCode).toBe(4);
      expect(v.source.affineSource).toBe('sform');
      expect(v.affine.slice(0, 3)).toEqual([
        [1, 0, 0, -90],
        [0, 1, 0, -125],
        [0, 0, 1, -71],
      ]);
    }
    expect(sameGrid(labels, template)).toBe(true);
    expect(sameGrid(atlas.labels, MNI_GRIDS.colin1mm)).toBe(true);
  });

  it('on MNI 2 mm (91×109×91, LAS) keeps all 116 regions, centres within 2 mm', () => {
    const grid = MNI_GRIDS.mni2mm;
    expect(grid.dims).toEqual([91, 109, 91]);
    expect(grid.affine.slice(0, 3)).toEqual([
      [-2, 0, 0, 90],
      [0, 2, 0, -126],
      [0, 0, 2, -72],
    ]);
    const moved = atlasOnGrid(atlas, grid);
    expect(moved.labels.dims).toEqual([91, 109, 91]);
    expect(moved.regions).toHaveLength(116);
    const [nx, ny] = grid.dims;
    for (const r of moved.regions) {
      const before = region(r.index);
      expect(r.name).toBe(before.name);
      expect(Math.hypot(...r.centreMm.map((v, i) => v - before.centreMm[i]))).toBeLessThan(2);
      // 8 mm³ per voxel now; the volume stays within 15% of the 1 mm count.
      expect(r.volumeMm3).toBe(r.voxels * 8);
      expect(Math.abs(r.volumeMm3 - before.volumeMm3) / before.volumeMm3).toBeLessThan(0.15);
      const [i, j, k] = r.searchPointVoxel.map(Math.round);
      expect(moved.labels.data[i + nx * (j + ny * k)]).toBe(r.index);
    }
    expect(atlasOnGrid(atlas, MNI_GRIDS.colin1mm)).toBe(atlas);
  });
});
