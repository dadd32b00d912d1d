import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { NiftiError } from '../../src/errors.js';
import {
  DATATYPES,
  encodeNifti1,
  parseNifti,
  readNifti,
  readVolume,
  voxelToMm,
  writeNifti,
  writeVolume,
  type Affine,
  type NiftiDatatype,
} from '../../src/volume/index.js';
import { float32Bytes, int16Bytes, prng, rawNifti } from './fixtures.js';

const DATA = join(__dirname, '../../../shared/data/mri');
const AAL = join(__dirname, '../../atlases/aal');
const hasData = existsSync(join(DATA, 't1_crop.nii.gz'));

function expectAffine(actual: Affine, rows: number[][], tol = 1e-4) {
  for (let r = 0; r < rows.length; r++) {
    for (let c = 0; c < 4; c++) expect(actual[r][c]).toBeCloseTo(rows[r][c], -Math.log10(tol));
  }
}

describe('real scans keep their geometry', () => {
  it.skipIf(!hasData)('t1_crop.nii.gz is LIA, 256³, sform code 2', async () => {
    const v = await readVolume(join(DATA, 't1_crop.nii.gz'));
    expect(v.dims).toEqual([256, 256, 256]);
    expect(v.source.header.sformCode).toBe(2);
    expect(v.source.affineSource).toBe('sform');
    expectAffine(v.affine, [
      [-1, 0, 0, 127.6],
      [0, 0, 1, -133.48],
      [0, -1, 0, 134.48],
    ]);
    const corner = voxelToMm(v, [255, 255, 255]);
    expect(corner[0]).toBeCloseTo(-127.4, 3);
    expect(corner[1]).toBeCloseTo(121.52, 3);
    expect(corner[2]).toBeCloseTo(-120.52, 3);
  });

  it.skipIf(!hasData)('chris_t1.nii.gz is RAS, 188×256×190 at 0.88 mm', async () => {
    const v = await readVolume(join(DATA, 'chris_t1.nii.gz'));
    expect(v.dims).toEqual([188, 256, 190]);
    expect(v.source.header.sformCode).toBe(2);
    expect(v.source.header.qformCode).toBe(2);
    const corner = voxelToMm(v, [187, 255, 189]);
    expect(corner[0]).toBeCloseTo(81.44, 3);
    expect(corner[1]).toBeCloseTo(106.28, 3);
    expect(corner[2]).toBeCloseTo(89.2, 3);
  });

  it('AAL and ch2bet share the 181×217×181 1 mm grid, sform code 4', async () => {
    for (const f of ['aal.nii.gz', 'ch2bet.nii.gz']) {
      const v = await readVolume(join(AAL, f));
      expect(v.dims).toEqual([181, 217, 181]);
      expect(v.source.header.sformCode).toBe(4);
      expectAffine(v.affine, [
        [1, 0, 0, -90],
        [0, 1, 0, -125],
        [0, 0, 1, -71],
      ]);
    }
  });
});

/** Values that exercise each type's full range (and, for float64, precision float32 lacks). */
function sampleValues(type: NiftiDatatype, n: number): number[] {
  const r = prng(7);
  const ranges: Record<NiftiDatatype, [number, number]> = {
    uint8: [0, 255],
    int8: [-128, 127],
    int16: [-32768, 32767],
    uint16: [0, 65535],
    int32: [-2147483648, 2147483647],
    uint32: [0, 4294967295],
    float32: [-1e6, 1e6],
    float64: [-1e6, 1e6],
  };
  const [lo, hi] = ranges[type];
  const values = [lo, hi];
  while (values.length < n) {
    const x = lo + r() * (hi - lo);
    values.push(type.startsWith('float') ? x : Math.round(x));
  }
  return values;
}

describe('write → read round trips', () => {
  const affine: Affine = [
    [-2, 0, 0, 90],
    [0, 2, 0, -126],
    [0, 0, 2.5, -72],
    [0, 0, 0, 1],
  ];
  for (const type of Object.keys(DATATYPES) as NiftiDatatype[]) {
    it(`keeps ${type} data and the affine exactly`, async () => {
      const dims: [number, number, number] = [5, 4, 3];
      const data = DATATYPES[type].create(60);
      data.set(sampleValues(type, 60));
      const dir = await mkdtemp(join(tmpdir(), 'glas3d-nifti-'));
      const path = join(dir, `v-${type}.nii.gz`);
      await writeNifti(path, { dims, affine, data });
      const back = await readNifti(path);
      expect(back.header.datatype).toBe(type);
      expect(Array.from(back.raw)).toEqual(Array.from(data));
      expect(back.affine).toEqual(affine);
      expect(back.header.sformCode).toBeGreaterThan(0);
      expect(back.header.qformCode).toBeGreaterThan(0);
    });
  }

  it('writes float32 volumes that read back identical (uncompressed too)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-nifti-'));
    const data = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 100);
    const vol = { dims: [2, 3, 4] as [number, number, number], affine, data };
    await writeVolume(join(dir, 'a.nii'), vol);
    const back = await readVolume(join(dir, 'a.nii'));
    expect(back.data).toEqual(data);
    expect(back.affine).toEqual(affine);
  });

  it('an oblique, flipped affine survives in both the sform and the qform', () => {
    const t = (30 * Math.PI) / 180;
    const oblique: Affine = [
      [-1.2 * Math.cos(t), 0, 1.5 * Math.sin(t), 10],
      [0, 1.1, 0, -20],
      [1.2 * Math.sin(t), 0, 1.5 * Math.cos(t), 30],
      [0, 0, 0, 1],
    ];
    const data = new Uint8Array(8);
    const sformOnly = parseNifti(
      encodeNifti1({ dims: [2, 2, 2], affine: oblique, data, only: 'sform' }),
      's',
    );
    const qformOnly = parseNifti(
      encodeNifti1({ dims: [2, 2, 2], affine: oblique, data, only: 'qform' }),
      'q',
    );
    expect(sformOnly.affineSource).toBe('sform');
    expect(qformOnly.affineSource).toBe('qform');
    expectAffine(sformOnly.affine, oblique, 1e-6);
    expectAffine(qformOnly.affine, oblique, 1e-5);
  });
});

describe('header conventions, from hand-built files', () => {
  const data = int16Bytes([1, 2, 3, 4, 5, 6, 7, 8]);
  const base = { dims: [2, 2, 2], datatypeCode: 4, bitpix: 16, data };

  it('qform: a 90° rotation about z with voxel sizes (2, 3, 4) and qfac ±1', () => {
    const s = Math.SQRT1_2; // quaternion (a, 0, 0, d) with a = d = cos 45°
    for (const qfac of [1, -1]) {
      const img = parseNifti(
        rawNifti({
          ...base,
          qformCode: 1,
          quatern: [0, 0, s],
          qoffset: [10, 20, 30],
          pixdim: [qfac, 2, 3, 4, 1, 1, 1, 1],
        }),
        'q.nii',
      );
      expect(img.affineSource).toBe('qform');
      expectAffine(img.affine, [
        [0, -3, 0, 10],
        [2, 0, 0, 20],
        [0, 0, 4 * qfac, 30],
      ]);
    }
  });

  it('sform wins over qform when both codes are set', () => {
    const img = parseNifti(
      rawNifti({
        ...base,
        qformCode: 1,
        sformCode: 4,
        quatern: [0, 0, 1],
        srow: [
          [3, 0, 0, -1],
          [0, 3, 0, -2],
          [0, 0, 3, -3],
        ],
      }),
      'both.nii',
    );
    expect(img.affineSource).toBe('sform');
    expectAffine(img.affine, [
      [3, 0, 0, -1],
      [0, 3, 0, -2],
      [0, 0, 3, -3],
    ]);
  });

  it('no codes: pixdim scaling only', () => {
    const img = parseNifti(rawNifti({ ...base, pixdim: [1, 1.5, 2, 2.5, 1, 1, 1, 1] }), 'p.nii');
    expect(img.affineSource).toBe('pixdim');
    expectAffine(img.affine, [
      [1.5, 0, 0, 0],
      [0, 2, 0, 0],
      [0, 0, 2.5, 0],
    ]);
  });

  it('big-endian NIfTI-1 and NIfTI-2 read the same values and geometry', () => {
    const srow = [
      [-2, 0, 0, 90],
      [0, 2, 0, -126],
      [0, 0, 2, -72],
    ];
    const values = [0.5, -1, 2, 1e3, 7, 8, -9, 10];
    for (const spec of [
      { version: 1 as const, littleEndian: false },
      { version: 2 as const, littleEndian: true },
      { version: 2 as const, littleEndian: false },
    ]) {
      const img = parseNifti(
        rawNifti({
          ...spec,
          dims: [2, 2, 2],
          datatypeCode: 16,
          bitpix: 32,
          sformCode: 4,
          srow,
          data: float32Bytes(values, spec.littleEndian),
        }),
        'v.nii',
      );
      expect(img.header.version).toBe(spec.version);
      expect(Array.from(img.raw)).toEqual(values);
      expectAffine(img.affine, srow);
    }
  });

  it('applies scl_slope and scl_inter (and ignores them when the slope is 0)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-nifti-'));
    await writeFile(join(dir, 's.nii'), rawNifti({ ...base, sclSlope: 0.5, sclInter: 10 }));
    await writeFile(join(dir, 'z.nii'), rawNifti({ ...base, sclSlope: 0, sclInter: 10 }));
    expect(Array.from((await readVolume(join(dir, 's.nii'))).data)).toEqual([
      10.5, 11, 11.5, 12, 12.5, 13, 13.5, 14,
    ]);
    expect(Array.from((await readVolume(join(dir, 'z.nii'))).data)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8,
    ]);
  });

  it('4-D files: the first volume, or the one asked for', () => {
    const bytes = rawNifti({
      dims: [2, 1, 1, 3],
      datatypeCode: 4,
      bitpix: 16,
      data: int16Bytes([1, 2, 3, 4, 5, 6]),
    });
    expect(Array.from(parseNifti(bytes, '4d.nii').raw)).toEqual([1, 2]);
    const third = parseNifti(bytes, '4d.nii', { volumeIndex: 2 });
    expect(Array.from(third.raw)).toEqual([5, 6]);
    expect(third.volumes).toBe(3);
    expect(() => parseNifti(bytes, '4d.nii', { volumeIndex: 3 })).toThrow(/3 volume/);
  });
});

describe('bad input gives a NiftiError that names the file', () => {
  const good = () =>
    rawNifti({ dims: [4, 4, 4], datatypeCode: 16, bitpix: 32, data: new Uint8Array(256) });

  async function expectRefused(bytes: Uint8Array, pattern: RegExp, file = 'bad.nii') {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-bad-'));
    const path = join(dir, file);
    await writeFile(path, bytes);
    const err = await readVolume(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NiftiError);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toMatch(pattern);
  }

  it('empty file', () => expectRefused(new Uint8Array(0), /empty/));
  it('random bytes', () => {
    const r = prng(1);
    return expectRefused(
      Uint8Array.from({ length: 4096 }, () => Math.floor(r() * 256)),
      /not a NIfTI file/,
    );
  });
  it('truncated gzip', () => {
    const gz = gzipSync(good());
    return expectRefused(gz.subarray(0, gz.length - 40), /truncated/, 'bad.nii.gz');
  });
  it('corrupt gzip', () => {
    const gz = Uint8Array.from(gzipSync(good()));
    for (let i = 20; i < 60; i++) gz[i] ^= 0x5a;
    return expectRefused(gz, /cannot decompress/, 'bad.nii.gz');
  });
  it('data shorter than the header says', () =>
    expectRefused(good().subarray(0, 352 + 100), /shorter than the header says/));
  it('wrong magic', () => {
    const b = good();
    b[344] = 0x41;
    return expectRefused(b, /magic/);
  });
  it('dims ≤ 0', () => {
    const b = good();
    new DataView(b.buffer).setInt16(42, 0, true);
    return expectRefused(b, /invalid dimensions/);
  });
  it('more voxels than memory allows', () => {
    const b = good();
    const v = new DataView(b.buffer);
    [1, 2, 3].forEach((i) => v.setInt16(40 + 2 * i, 30000, true));
    return expectRefused(b, /more than the .* GiB allowed/);
  });
  it('unsupported datatype (RGB24)', () => {
    const b = good();
    new DataView(b.buffer).setInt16(70, 128, true);
    return expectRefused(b, /RGB24/);
  });
  it('NaN and Inf voxels are reported, or zeroed when asked', async () => {
    const bytes = rawNifti({
      dims: [2, 2, 1],
      datatypeCode: 16,
      bitpix: 32,
      data: float32Bytes([1, NaN, Infinity, 4]),
    });
    await expectRefused(bytes, /2 of 4 voxels are NaN or Inf/);
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-nan-'));
    await writeFile(join(dir, 'n.nii'), bytes);
    const v = await readVolume(join(dir, 'n.nii'), { nonFinite: 'zero' });
    expect(Array.from(v.data)).toEqual([1, 0, 0, 4]);
    expect(v.source.nonFiniteVoxels).toBe(2);
  });
  it('a missing file, a folder: said in words, not an errno code', async () => {
    await expect(readVolume('/nonexistent/x.nii')).rejects.toThrow(
      /^\/nonexistent\/x\.nii: cannot read the file \(no such file: moved or deleted\?\)\.$/,
    );
    await expect(readVolume(tmpdir())).rejects.toThrow(/it is a folder, not a file/);
  });
});

describe('fuzz: mutated real headers and bytes give a clean error or a valid volume', () => {
  it('3000 seeded cases', async () => {
    const real = await readFile(join(AAL, 'aal.nii.gz'));
    // The real header (first 352 bytes, unzipped), shrunk to a small grid so cases are cheap.
    const realHeader = parseNiftiHeaderBytes(real);
    const bases = [
      realHeader,
      encodeNifti1({
        dims: [6, 5, 4],
        affine: [
          [-2, 0, 0, 90],
          [0, 2, 0, -126],
          [0, 0, 2, -72],
          [0, 0, 0, 1],
        ],
        data: new Float32Array(120).fill(1.5),
      }),
    ];
    const r = prng(2024);
    let valid = 0;
    for (let n = 0; n < 3000; n++) {
      let bytes = Uint8Array.from(bases[n % 2]);
      const mutations = 1 + Math.floor(r() * 4);
      for (let m = 0; m < mutations; m++) {
        const kind = r();
        if (kind < 0.7)
          bytes[Math.floor(r() * Math.min(bytes.length, 360))] = Math.floor(r() * 256);
        else if (kind < 0.85) bytes = bytes.subarray(0, Math.floor(r() * bytes.length));
        else bytes[Math.floor(r() * bytes.length)] ^= 1 << Math.floor(r() * 8);
      }
      if (r() < 0.2) {
        const gz = gzipSync(bytes);
        bytes = r() < 0.5 ? gz.subarray(0, Math.floor(r() * gz.length)) : gz;
      }
      try {
        const img = parseNifti(bytes, `case-${n}.nii`, { maxBytes: 64 * 1024 ** 2 });
        expect(img.raw.length).toBe(img.dims[0] * img.dims[1] * img.dims[2]);
        expect(img.affine.flat().every(Number.isFinite)).toBe(true);
        valid++;
      } catch (e) {
        if (!(e instanceof NiftiError)) throw new Error(`case ${n}: unclean error ${String(e)}`);
        expect(e.message).toContain(`case-${n}.nii`);
      }
    }
    expect(valid).toBeGreaterThan(100); // the fuzz also exercises the success path
  });
});

/** The real AAL header with its grid cut to 8×8×8 voxels of its own datatype. */
function parseNiftiHeaderBytes(gz: Uint8Array): Uint8Array {
  const img = parseNifti(gz, 'aal.nii.gz');
  const unzipped = new Uint8Array(352 + 512);
  const raw = gunzipSync(gz);
  unzipped.set(raw.subarray(0, 352));
  const v = new DataView(unzipped.buffer);
  [1, 2, 3].forEach((i) => v.setInt16(40 + 2 * i, 8, true));
  expect(img.header.datatype).toBe('uint8');
  return unzipped;
}
