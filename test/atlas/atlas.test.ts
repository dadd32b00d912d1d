import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  atlasFromVolume,
  hemisphereFromName,
  hemisphereFromX,
  loadAtlas,
  type Region,
} from '../../src/atlas/index.js';
import { AtlasError } from '../../src/errors.js';
import { writeVolume } from '../../src/volume/index.js';
import { NAMES, syntheticLabels } from './synthetic.js';

function expectVec(actual: readonly number[], expected: readonly number[], tol = 1e-9) {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThanOrEqual(tol));
}

function byIndex(regions: Region[], index: number): Region {
  const r = regions.find((x) => x.index === index);
  if (!r) throw new Error(`region ${index} missing`);
  return r;
}

describe('atlasFromVolume on a synthetic atlas (LAS, 2 × 2.5 × 3 mm voxels)', () => {
  const atlas = atlasFromVolume(syntheticLabels(), NAMES, { name: 'synthetic' });

  it('has one region per label, ascending', () => {
    expect(atlas.regions.map((r) => r.index)).toEqual([1, 3, 7, 12]);
    expect(atlas.notes).toEqual([]);
  });

  it('box A: 27 voxels, 405 mm³, centre (6, −2.5, 7) mm, right by position', () => {
    const a = byIndex(atlas.regions, 1);
    expect(a.voxels).toBe(27);
    expect(a.volumeMm3).toBeCloseTo(405, 9);
    expectVec(a.centreVoxel, [2, 3, 1]);
    expectVec(a.centreMm, [6, -2.5, 7]);
    expect(a.centreInside).toBe(true);
    expect(a.searchPointVoxel).toEqual([2, 3, 1]);
    expectVec(a.searchPointMm, [6, -2.5, 7]);
    expect(a.hemisphere).toBe('R');
  });

  it('a region on x = 0 is midline; a name that says R wins over a centre at x = −5', () => {
    const m = byIndex(atlas.regions, 3);
    expect(m.voxels).toBe(4);
    expect(m.volumeMm3).toBeCloseTo(60, 9);
    expectVec(m.centreMm, [0, 3.75, 5.5]);
    expect(m.hemisphere).toBe('midline');
    const t = byIndex(atlas.regions, 7);
    expect(t.voxels).toBe(24);
    expect(t.volumeMm3).toBeCloseTo(360, 9);
    expectVec(t.centreMm, [-5, -8.75, 16]);
    expect(t.hemisphere).toBe('R');
    expect(t.centreInside).toBe(true);
  });

  it('an L-shaped region whose centre falls outside gets its nearest inside voxel in mm', () => {
    const l = byIndex(atlas.regions, 12);
    expect(l.voxels).toBe(13);
    expect(l.volumeMm3).toBeCloseTo(195, 9);
    expectVec(l.centreVoxel, [21 / 13, 96 / 13, 6], 1e-12);
    expectVec(l.centreMm, [88 / 13, 110 / 13, 22], 1e-9);
    expect(l.centreInside).toBe(false);
    expect(l.searchPointVoxel).toEqual([0, 7, 6]);
    expectVec(l.searchPointMm, [10, 7.5, 22]);
  });

  it('every search point lies in its own region (the voxel holding it carries the label)', () => {
    const [nx, ny] = atlas.labels.dims;
    for (const r of atlas.regions) {
      const [i, j, k] = r.searchPointVoxel.map(Math.round);
      expect(atlas.labels.data[i + nx * (j + ny * k)]).toBe(r.index);
    }
  });

  it('search points are the same world points whatever the storage order (LAS, RAS, y flipped)', () => {
    // Middle's and Thing_R's centres lie halfway between voxels: a search point snapped to a
    // voxel would move by a voxel when an axis is flipped.
    const labels = syntheticLabels();
    const [nx, ny, nz] = labels.dims;
    const flipped = (axis: 0 | 1) => {
      const data = new Float32Array(labels.data.length);
      for (let k = 0; k < nz; k++)
        for (let j = 0; j < ny; j++)
          for (let i = 0; i < nx; i++) {
            const [fi, fj] = axis === 0 ? [nx - 1 - i, j] : [i, ny - 1 - j];
            data[fi + nx * (fj + ny * k)] = labels.data[i + nx * (j + ny * k)];
          }
      // Voxel f = n − 1 − v sits where v did: column `axis` negated, origin moved to v = n − 1.
      const affine = labels.affine.map((row) => {
        const r = [...row];
        r[3] += r[axis] * (labels.dims[axis] - 1);
        r[axis] = -r[axis];
        return r;
      });
      return { dims: labels.dims, affine, data };
    };
    for (const axis of [0, 1] as const) {
      const other = atlasFromVolume(flipped(axis), NAMES);
      for (const r of atlas.regions) {
        const o = byIndex(other.regions, r.index);
        expectVec(o.centreMm, r.centreMm, 1e-9);
        expectVec(o.searchPointMm, r.searchPointMm, 1e-9);
      }
    }
    expectVec(byIndex(atlas.regions, 3).searchPointMm, [0, 3.75, 5.5]);
  });

  it('drops names without voxels, with a note naming them', () => {
    const a = atlasFromVolume(syntheticLabels(), [...NAMES, { index: 99, name: 'Ghost' }]);
    expect(a.regions).toHaveLength(4);
    expect(a.notes.join('\n')).toMatch(/Ghost \(99\)/);
  });

  it('refuses labels without names, listing them', () => {
    expect(() => atlasFromVolume(syntheticLabels(), NAMES.slice(0, 2))).toThrow(AtlasError);
    expect(() => atlasFromVolume(syntheticLabels(), NAMES.slice(0, 2))).toThrow(/7, 12/);
  });

  it('refuses non-integer labels (a linearly resampled label image)', () => {
    const labels = syntheticLabels();
    labels.data[5] = 2.5;
    expect(() => atlasFromVolume(labels, NAMES)).toThrow(AtlasError);
    expect(() => atlasFromVolume(labels, NAMES)).toThrow(/\(5, 0, 0\) holds 2\.5/);
  });
});

describe('hemisphere', () => {
  it('reads the side from common naming schemes', () => {
    for (const n of [
      'Hippocampus_L',
      'Left-Hippocampus',
      'ctx-lh-insula',
      'lh.insula',
      'L_V1_ROI',
      '7Networks_LH_Vis_1',
      'Left Amygdala',
    ]) {
      expect(hemisphereFromName(n), n).toBe('L');
    }
    for (const n of ['Amygdala_R', 'Right-Putamen', 'ctx_rh_precuneus', 'rh.V1', 'R_V1_ROI']) {
      expect(hemisphereFromName(n), n).toBe('R');
    }
    for (const n of ['Vermis_4_5', 'Brain-Stem', 'Lingual', 'Rolandic', 'Left_Right']) {
      expect(hemisphereFromName(n), n).toBeUndefined();
    }
  });

  it('falls back to x in mm, |x| < 2 being midline', () => {
    expect(hemisphereFromX(-2)).toBe('L');
    expect(hemisphereFromX(-1.99)).toBe('midline');
    expect(hemisphereFromX(1.99)).toBe('midline');
    expect(hemisphereFromX(2)).toBe('R');
  });
});

describe('loadAtlas from files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'glas3d-atlas-'));
    await writeVolume(join(dir, 'syn.nii.gz'), syntheticLabels(), { datatype: 'int16' });
    await writeFile(
      join(dir, 'syn.nii.txt'),
      NAMES.map((n) => `${n.index} ${n.name} 0`).join('\n') + '\n',
    );
    await writeFile(join(dir, 'other.tsv'), 'id\tname\n1\tBoxA\n3\tMiddle\n7\tThing_R\n12\tEll\n');
    await writeFile(join(dir, 'short.txt'), '1 BoxA\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds the sibling names file and keeps the geometry through NIfTI', async () => {
    const atlas = await loadAtlas(join(dir, 'syn.nii.gz'));
    expect(atlas.name).toBe('syn');
    expect(atlas.source.names).toBe(join(dir, 'syn.nii.txt'));
    expect(atlas.regions.map((r) => r.voxels)).toEqual([27, 4, 24, 13]);
    expectVec(byIndex(atlas.regions, 12).searchPointMm, [10, 7.5, 22], 1e-4);
  });

  it('takes an explicit names file', async () => {
    const atlas = await loadAtlas(join(dir, 'syn.nii.gz'), { names: join(dir, 'other.tsv') });
    expect(atlas.regions.map((r) => r.name)).toEqual(['BoxA', 'Middle', 'Thing_R', 'Ell']);
  });

  it('names the names file when labels are missing from it', async () => {
    const p = loadAtlas(join(dir, 'syn.nii.gz'), { names: join(dir, 'short.txt') });
    await expect(p).rejects.toThrow(AtlasError);
    await expect(p).rejects.toThrow(/short\.txt: 3, 7, 12/);
  });

  it('says so when there is no names file, or no such atlas', async () => {
    await writeVolume(join(dir, 'lonely.nii'), syntheticLabels());
    await expect(loadAtlas(join(dir, 'lonely.nii'))).rejects.toThrow(/no names file.*--names/);
    await expect(loadAtlas(join(dir, 'absent.nii'))).rejects.toThrow(AtlasError);
  });
});
