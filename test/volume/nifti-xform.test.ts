/**
 * The NIFTI_XFORM_* code a volume carries: read from the header (the code of the sform or
 * qform that gave the affine; 0 when neither is set), written back by writeVolume, so a map of an
 * MNI input (code 4, AFNI's +tlrc) is not written as "aligned anatomical" (2, +orig). And the one
 * check that a file holds one volume.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { NiftiError } from '../../src/errors.js';
import {
  checkOneVolume,
  emptyVolume,
  positionUnknown,
  readNifti,
  readVolume,
  writeNifti,
  writeVolume,
  type Volume,
} from '../../src/volume/index.js';
import { float32Bytes, rawNifti } from './fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glas3d-nifti-xform-'));
});

const LAS = [
  [-2, 0, 0, 4],
  [0, 2, 0, -6],
  [0, 0, 2, -2],
  [0, 0, 0, 1],
];
const small = (extra: Partial<Volume> = {}): Volume => ({
  dims: [3, 4, 2],
  affine: LAS,
  data: Float32Array.from({ length: 24 }, (_, i) => i),
  ...extra,
});
const codesOf = async (path: string) => {
  const { header } = await readNifti(path);
  return [header.sformCode, header.qformCode];
};

describe('xformCode', () => {
  it('readVolume takes the code of the affine it used; 0 when the header places nothing', async () => {
    const data = float32Bytes(Array.from({ length: 8 }, (_, i) => i));
    const srow = [
      [2, 0, 0, -10],
      [0, 2, 0, -20],
      [0, 0, 2, -30],
    ];
    const base = { dims: [2, 2, 2], datatypeCode: 16, bitpix: 32, data };
    const cases: [string, Partial<Parameters<typeof rawNifti>[0]>, number, string][] = [
      ['mni.nii', { sformCode: 4, qformCode: 1, srow }, 4, 'sform'],
      ['scanner.nii', { qformCode: 1, pixdim: [1, 2, 2, 2, 1, 1, 1, 1] }, 1, 'qform'],
      ['none.nii', { pixdim: [1, 2, 2, 2, 1, 1, 1, 1], srow }, 0, 'pixdim'],
    ];
    for (const [name, spec, code, source] of cases) {
      const path = join(dir, name);
      await writeFile(path, rawNifti({ ...base, ...spec }));
      const v = await readVolume(path);
      expect(v.source.affineSource).toBe(source);
      expect(v.xformCode).toBe(code);
      expect(positionUnknown(v)).toBe(code === 0);
    }
    expect(positionUnknown(small())).toBe(false); // made in memory: taken as placed
  });

  it("writeVolume writes the volume's code (a code-4 map stays MNI), 2 without one", async () => {
    const mni = join(dir, 'mni.nii.gz');
    await writeVolume(mni, small(), { xformCode: 4 });
    const read = await readVolume(mni);
    expect(read.xformCode).toBe(4);
    const copy = join(dir, 'copy-of-mni.nii.gz');
    await writeVolume(copy, { ...read, data: read.data.map((x) => x * 2) });
    expect(await codesOf(copy)).toEqual([4, 4]);

    const plain = join(dir, 'plain.nii.gz');
    await writeVolume(plain, small());
    expect(await codesOf(plain)).toEqual([2, 2]);
    const forced = join(dir, 'forced.nii.gz');
    await writeVolume(forced, read, { xformCode: 2 });
    expect(await codesOf(forced)).toEqual([2, 2]);
  });

  it('a volume whose header placed nothing is written so (codes 0, same affine)', async () => {
    const none = join(dir, 'noorient.nii');
    await writeNifti(none, { ...small(), affine: LAS.map((r) => r.map(Math.abs)), xformCode: 0 });
    const read = await readVolume(none);
    expect(read.xformCode).toBe(0);
    const map = join(dir, 'map-of-noorient.nii.gz');
    await writeVolume(map, read);
    expect(await codesOf(map)).toEqual([0, 0]);
    const back = await readVolume(map);
    expect(back.affine).toEqual(read.affine);
    expect(back.xformCode).toBe(0);
  });

  it("emptyVolume (and so resample's output) is in its grid's space", () => {
    expect(emptyVolume({ dims: [2, 2, 2], affine: LAS, xformCode: 4 }).xformCode).toBe(4);
    expect('xformCode' in emptyVolume({ dims: [2, 2, 2], affine: LAS })).toBe(false);
  });
});

describe('checkOneVolume', () => {
  it('refuses a 4-D file with several volumes; one volume along dim 4 is fine', async () => {
    const values = Array.from({ length: 16 }, (_, i) => i);
    const write = async (name: string, dims: number[]) => {
      const path = join(dir, name);
      const n = dims.reduce((a, b) => a * b, 1);
      await writeFile(
        path,
        rawNifti({ dims, datatypeCode: 16, bitpix: 32, data: float32Bytes(values.slice(0, n)) }),
      );
      return readVolume(path);
    };
    const two = await write('two.nii', [2, 2, 2, 2]);
    expect(() => checkOneVolume(two, 'two.nii')).toThrow(NiftiError);
    expect(() => checkOneVolume(two, 'two.nii')).toThrow(
      /^two\.nii: a 4-D file with 2 volumes; .*fslroi in\.nii\.gz out\.nii\.gz 0 1/,
    );
    class Other extends Error {}
    expect(() => checkOneVolume(two, 'two.nii', (m) => new Other(m))).toThrow(Other);
    const one = await write('one.nii', [2, 2, 2, 1]);
    expect(() => checkOneVolume(one, 'one.nii')).not.toThrow();
    expect(() => checkOneVolume(small(), 'memory')).not.toThrow();
  });
});
