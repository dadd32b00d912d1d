/** NIfTI datatype codes (nifti1.h) and the typed arrays that hold them. */
export type NiftiDatatype =
  'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

export type VoxelArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

interface DatatypeInfo {
  code: number;
  bytes: number;
  create: (n: number) => VoxelArray;
  /** DataView getter/setter names for this type. */
  get: (v: DataView, offset: number, little: boolean) => number;
  set: (v: DataView, offset: number, value: number, little: boolean) => void;
}

export const DATATYPES: Record<NiftiDatatype, DatatypeInfo> = {
  uint8: {
    code: 2,
    bytes: 1,
    create: (n) => new Uint8Array(n),
    get: (v, o) => v.getUint8(o),
    set: (v, o, x) => v.setUint8(o, x),
  },
  int8: {
    code: 256,
    bytes: 1,
    create: (n) => new Int8Array(n),
    get: (v, o) => v.getInt8(o),
    set: (v, o, x) => v.setInt8(o, x),
  },
  int16: {
    code: 4,
    bytes: 2,
    create: (n) => new Int16Array(n),
    get: (v, o, l) => v.getInt16(o, l),
    set: (v, o, x, l) => v.setInt16(o, x, l),
  },
  uint16: {
    code: 512,
    bytes: 2,
    create: (n) => new Uint16Array(n),
    get: (v, o, l) => v.getUint16(o, l),
    set: (v, o, x, l) => v.setUint16(o, x, l),
  },
  int32: {
    code: 8,
    bytes: 4,
    create: (n) => new Int32Array(n),
    get: (v, o, l) => v.getInt32(o, l),
    set: (v, o, x, l) => v.setInt32(o, x, l),
  },
  uint32: {
    code: 768,
    bytes: 4,
    create: (n) => new Uint32Array(n),
    get: (v, o, l) => v.getUint32(o, l),
    set: (v, o, x, l) => v.setUint32(o, x, l),
  },
  float32: {
    code: 16,
    bytes: 4,
    create: (n) => new Float32Array(n),
    get: (v, o, l) => v.getFloat32(o, l),
    set: (v, o, x, l) => v.setFloat32(o, x, l),
  },
  float64: {
    code: 64,
    bytes: 8,
    create: (n) => new Float64Array(n),
    get: (v, o, l) => v.getFloat64(o, l),
    set: (v, o, x, l) => v.setFloat64(o, x, l),
  },
};

/** Names of codes we recognise but do not read, for a clear refusal. */
export const UNSUPPORTED_DATATYPES: Record<number, string> = {
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'RGB24 (colour)',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32 (colour)',
};

export function datatypeFromCode(code: number): NiftiDatatype | undefined {
  return (Object.keys(DATATYPES) as NiftiDatatype[]).find((k) => DATATYPES[k].code === code);
}
