/**
 * A NIfTI writer written independently of src/volume (field offsets straight from nifti1.h and
 * nifti2.h), so the reader is tested against bytes it did not make.
 */
export interface RawNiftiSpec {
  version?: 1 | 2;
  littleEndian?: boolean;
  dims: number[]; // dim[1..]
  datatypeCode: number;
  bitpix: number;
  pixdim?: number[]; // pixdim[0..7]
  voxOffset?: number;
  sclSlope?: number;
  sclInter?: number;
  qformCode?: number;
  sformCode?: number;
  quatern?: [number, number, number];
  qoffset?: [number, number, number];
  srow?: number[][];
  magic?: string;
  /** Raw voxel bytes, already in the file's byte order. */
  data: Uint8Array;
}

export function rawNifti(spec: RawNiftiSpec): Uint8Array {
  const version = spec.version ?? 1;
  const le = spec.littleEndian ?? true;
  const headerSize = version === 1 ? 348 : 540;
  const voxOffset = spec.voxOffset ?? (version === 1 ? 352 : 544);
  const buf = new ArrayBuffer(Math.max(voxOffset, headerSize + 4) + spec.data.byteLength);
  const v = new DataView(buf);
  const dim = [spec.dims.length, ...spec.dims];
  while (dim.length < 8) dim.push(1);
  const pixdim = spec.pixdim ?? [1, 1, 1, 1, 1, 1, 1, 1];
  const magic = spec.magic ?? (version === 1 ? 'n+1\0' : 'n+2\0\r\n\x1a\n');
  if (version === 1) {
    v.setInt32(0, 348, le);
    dim.forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
    v.setInt16(70, spec.datatypeCode, le);
    v.setInt16(72, spec.bitpix, le);
    pixdim.forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
    v.setFloat32(108, voxOffset, le);
    v.setFloat32(112, spec.sclSlope ?? 1, le);
    v.setFloat32(116, spec.sclInter ?? 0, le);
    v.setInt16(252, spec.qformCode ?? 0, le);
    v.setInt16(254, spec.sformCode ?? 0, le);
    (spec.quatern ?? [0, 0, 0]).forEach((q, i) => v.setFloat32(256 + 4 * i, q, le));
    (spec.qoffset ?? [0, 0, 0]).forEach((q, i) => v.setFloat32(268 + 4 * i, q, le));
    (
      spec.srow ?? [
        [0, 0, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
      ]
    ).forEach((row, r) => row.forEach((x, c) => v.setFloat32(280 + 16 * r + 4 * c, x, le)));
    for (let i = 0; i < 4; i++) v.setUint8(344 + i, magic.charCodeAt(i) || 0);
  } else {
    v.setInt32(0, 540, le);
    for (let i = 0; i < 8; i++) v.setUint8(4 + i, magic.charCodeAt(i) || 0);
    v.setInt16(12, spec.datatypeCode, le);
    v.setInt16(14, spec.bitpix, le);
    dim.forEach((d, i) => v.setBigInt64(16 + 8 * i, BigInt(d), le));
    pixdim.forEach((p, i) => v.setFloat64(104 + 8 * i, p, le));
    v.setBigInt64(168, BigInt(voxOffset), le);
    v.setFloat64(176, spec.sclSlope ?? 1, le);
    v.setFloat64(184, spec.sclInter ?? 0, le);
    v.setInt32(344, spec.qformCode ?? 0, le);
    v.setInt32(348, spec.sformCode ?? 0, le);
    (spec.quatern ?? [0, 0, 0]).forEach((q, i) => v.setFloat64(352 + 8 * i, q, le));
    (spec.qoffset ?? [0, 0, 0]).forEach((q, i) => v.setFloat64(376 + 8 * i, q, le));
    (
      spec.srow ?? [
        [0, 0, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
      ]
    ).forEach((row, r) => row.forEach((x, c) => v.setFloat64(400 + 32 * r + 8 * c, x, le)));
  }
  const out = new Uint8Array(buf);
  out.set(spec.data, voxOffset);
  return out;
}

/** Bytes of int16 values in the given byte order. */
export function int16Bytes(values: number[], littleEndian = true): Uint8Array {
  const v = new DataView(new ArrayBuffer(values.length * 2));
  values.forEach((x, i) => v.setInt16(i * 2, x, littleEndian));
  return new Uint8Array(v.buffer);
}

export function float32Bytes(values: number[], littleEndian = true): Uint8Array {
  const v = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((x, i) => v.setFloat32(i * 4, x, littleEndian));
  return new Uint8Array(v.buffer);
}

/** Deterministic PRNG for tests (the project's seeded mulberry32). */
export { mulberry32 as prng } from '../../src/model/prng.js';
