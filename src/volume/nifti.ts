/**
 * NIfTI-1 and NIfTI-2 reading and NIfTI-1 writing (nibabel's `nifti1` module, in small).
 * Header fields are parsed by nifti-reader-js; validation, the choice of affine, scaling and
 * the data itself are ours, so that every malformed file gives a NiftiError naming the file.
 */
import { lstat, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip, gunzipSync, gzip } from 'node:zlib';
import * as niftiReader from 'nifti-reader-js';
import { NiftiError } from '../errors.js';
import {
  affineFromQuaternion,
  quaternionFromAffine,
  voxelSizes,
  type Affine,
  type Vec3,
} from './affine.js';
import {
  DATATYPES,
  UNSUPPORTED_DATATYPES,
  datatypeFromCode,
  type NiftiDatatype,
  type VoxelArray,
} from './datatypes.js';
import { writeFileAtomic } from './atomic.js';

/** Where the voxel → world affine came from, in the order the NIfTI standard prefers. */
export type AffineSource = 'sform' | 'qform' | 'pixdim';

export interface NiftiHeader {
  version: 1 | 2;
  /** dim[1..dim[0]]: the size of each axis present. */
  dims: number[];
  datatype: NiftiDatatype;
  /** pixdim[0..7]; pixdim[0] is qfac. */
  pixdim: number[];
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  /** srow_x, srow_y, srow_z. */
  srow: number[][];
  quaternion: { b: number; c: number; d: number; offset: Vec3 };
  xyztUnits: number;
  description: string;
  littleEndian: boolean;
  voxOffset: number;
}

export interface NiftiImage {
  header: NiftiHeader;
  /** One 3-D volume in the stored datatype, unscaled, x fastest (file order). */
  raw: VoxelArray;
  /** Spatial dims of that volume (missing axes are 1). */
  dims: Vec3;
  /** Number of 3-D volumes in the file (product of dims 4..7). */
  volumes: number;
  affine: Affine;
  affineSource: AffineSource;
}

export interface ReadNiftiOptions {
  /** Which 3-D volume of a 4-D file (default 0). */
  volumeIndex?: number;
  /** Refuse files whose one volume would need more bytes than this (default 2 GiB). */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
const GIB = 1024 ** 3;

// Files are (de)compressed on libuv's thread pool, off the JS thread: a cohort run's reads and
// writes then overlap with onnxruntime's runs (which block the JS thread), and several maps of
// one subject compress in parallel.
const gunzipAsync = promisify(gunzip);
const gzipAsync = promisify(gzip);

/** errno codes of a failed read, in words. */
const READ_FAILURES: Record<string, string> = {
  ENOENT: 'no such file: moved or deleted?',
  EACCES: 'permission denied',
  EISDIR: 'it is a folder, not a file',
  EIO: 'an input/output error of the disk or network file system',
};

/** A failed read of `path` as a NiftiError that says why in words (a missing symlink target too). */
export async function readFailure(path: string, e: unknown): Promise<NiftiError> {
  const code = (e as NodeJS.ErrnoException).code;
  const dangling = code === 'ENOENT' && (await lstat(path).catch(() => undefined));
  return new NiftiError(
    dangling && dangling.isSymbolicLink()
      ? `${path}: a symbolic link whose target is missing (a datalad or git-annex file not fetched yet? \`datalad get\` it).`
      : `${path}: cannot read the file (${READ_FAILURES[code ?? ''] ?? code ?? e}).`,
  );
}

/** Read and validate a `.nii` or `.nii.gz` file. */
export async function readNifti(path: string, options: ReadNiftiOptions = {}): Promise<NiftiImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw await readFailure(path, e);
  }
  if (isGzip(bytes)) {
    try {
      bytes = await gunzipAsync(bytes, gunzipOptions(options));
    } catch (e) {
      throw gzipError(e, path);
    }
  }
  return parseNifti(bytes, path, options);
}

/** Parse NIfTI bytes (gzip or not). `name` is used in error messages. */
export function parseNifti(
  input: Uint8Array,
  name: string,
  options: ReadNiftiOptions = {},
): NiftiImage {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const bytes = decompressIfGzip(input, name, options);
  if (bytes.byteLength === 0) throw new NiftiError(`${name}: the file is empty.`);
  if (bytes.byteLength < 348) {
    throw new NiftiError(
      `${name}: ${bytes.byteLength} bytes is too short for a NIfTI file (the header alone is 348 bytes); the file is truncated or not NIfTI.`,
    );
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const version = detectVersion(bytes, name);

  let hdr: niftiReader.NIFTI1 | niftiReader.NIFTI2;
  try {
    hdr = niftiReader.readHeader(buffer as ArrayBuffer);
  } catch (e) {
    throw new NiftiError(`${name}: the NIfTI header cannot be parsed (${(e as Error).message}).`);
  }
  const header = toHeader(hdr, version, name, readSrow(bytes, version, hdr.littleEndian));

  const spatial: Vec3 = [header.dims[0] ?? 1, header.dims[1] ?? 1, header.dims[2] ?? 1];
  const volumes = header.dims.slice(3).reduce((a, b) => a * b, 1);
  const voxels = spatial[0] * spatial[1] * spatial[2];
  const bytesPerVoxel = DATATYPES[header.datatype].bytes;
  const volumeBytes = voxels * bytesPerVoxel;
  if (volumeBytes > maxBytes) {
    throw new NiftiError(
      `${name}: the header claims ${spatial.join('×')} voxels of ${header.datatype} (${(volumeBytes / GIB).toFixed(1)} GiB per volume), more than the ${(maxBytes / GIB).toFixed(1)} GiB allowed; the header is corrupt or the image is far larger than a brain MRI.`,
    );
  }
  const volumeIndex = options.volumeIndex ?? 0;
  if (!Number.isInteger(volumeIndex) || volumeIndex < 0 || volumeIndex >= volumes) {
    throw new NiftiError(
      `${name}: volume index ${volumeIndex} is out of range; the file has ${volumes} volume(s) (0–${volumes - 1}).`,
    );
  }
  const minOffset = version === 1 ? 348 : 540;
  if (!(header.voxOffset >= minOffset)) {
    throw new NiftiError(
      `${name}: vox_offset ${header.voxOffset} points inside the header (must be ≥ ${minOffset}); the header is corrupt.`,
    );
  }
  const needed = header.voxOffset + volumes * volumeBytes;
  if (bytes.byteLength < needed) {
    throw new NiftiError(
      `${name}: the data is shorter than the header says: ${spatial.join('×')}×${volumes} ${header.datatype} voxels need ${needed} bytes, the file has ${bytes.byteLength}. The file is truncated (an interrupted copy or download?).`,
    );
  }

  const start = header.voxOffset + volumeIndex * volumeBytes;
  const raw = readVoxels(bytes, start, voxels, header.datatype, header.littleEndian);
  const { affine, source } = chooseAffine(header, name);
  return { header, raw, dims: spatial, volumes, affine, affineSource: source };
}

const isGzip = (bytes: Uint8Array) =>
  bytes.byteLength >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/** The cap stops a corrupt or hostile header from exhausting memory while inflating. */
const gunzipOptions = (options: ReadNiftiOptions) => ({
  maxOutputLength: Math.min((options.maxBytes ?? DEFAULT_MAX_BYTES) * 8 + 65536, 2 ** 32 - 1),
});

function gzipError(e: unknown, name: string): NiftiError {
  const msg = (e as Error).message;
  const hint = /unexpected end/i.test(msg)
    ? 'the gzip stream is truncated (an interrupted copy or download?)'
    : /maxOutputLength|buffer/i.test(msg)
      ? 'it decompresses to more data than allowed'
      : `the gzip data is corrupt (${msg})`;
  return new NiftiError(`${name}: cannot decompress: ${hint}.`);
}

function decompressIfGzip(bytes: Uint8Array, name: string, options: ReadNiftiOptions): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes, gunzipOptions(options));
  } catch (e) {
    throw gzipError(e, name);
  }
}

function detectVersion(bytes: Uint8Array, name: string): 1 | 2 {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sizeLe = view.getInt32(0, true);
  const sizeBe = view.getInt32(0, false);
  const magicAt = (offset: number) =>
    String.fromCharCode(bytes[offset], bytes[offset + 1], bytes[offset + 2]);
  if (sizeLe === 348 || sizeBe === 348) {
    const magic = magicAt(344);
    if (magic === 'n+1') return 1;
    if (magic === 'ni1') {
      throw new NiftiError(
        `${name}: this is the header of a .hdr/.img pair; convert it to a single .nii file (e.g. fslchfiletype NIFTI_GZ or nibabel).`,
      );
    }
    throw new NiftiError(
      `${name}: the NIfTI-1 magic is missing (expected "n+1" at byte 344); the header is corrupt or the file is ANALYZE 7.5, which has no reliable orientation.`,
    );
  }
  if (sizeLe === 540 || sizeBe === 540) {
    if (bytes.byteLength < 540) {
      throw new NiftiError(`${name}: the file is truncated inside its NIfTI-2 header.`);
    }
    const magic = magicAt(4);
    if (magic === 'n+2') return 2;
    throw new NiftiError(`${name}: the NIfTI-2 magic is missing (expected "n+2" at byte 4).`);
  }
  throw new NiftiError(
    `${name}: not a NIfTI file (the first 4 bytes give header size ${sizeLe}, not 348 or 540).`,
  );
}

function toHeader(
  h: niftiReader.NIFTI1 | niftiReader.NIFTI2,
  version: 1 | 2,
  name: string,
  srow: number[][],
): NiftiHeader {
  const ndim = h.dims[0];
  if (!Number.isInteger(ndim) || ndim < 1 || ndim > 7) {
    throw new NiftiError(
      `${name}: dim[0] = ${ndim} is invalid (must be 1–7); the header is corrupt.`,
    );
  }
  const dims = h.dims.slice(1, ndim + 1);
  if (dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new NiftiError(
      `${name}: invalid dimensions ${dims.join('×')}: every axis must have at least 1 voxel.`,
    );
  }
  const datatype = datatypeFromCode(h.datatypeCode);
  if (!datatype) {
    const known = UNSUPPORTED_DATATYPES[h.datatypeCode];
    throw new NiftiError(
      known
        ? `${name}: datatype ${known} (code ${h.datatypeCode}) is not supported; convert the image to a scalar type such as float32 or int16.`
        : `${name}: unknown datatype code ${h.datatypeCode}; the header is corrupt.`,
    );
  }
  const f = (v: number) => (Number.isFinite(v) ? v : 0);
  return {
    version,
    dims,
    datatype,
    pixdim: h.pixDims.map(f),
    sclSlope: h.scl_slope,
    sclInter: h.scl_inter,
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    srow,
    quaternion: {
      b: f(h.quatern_b),
      c: f(h.quatern_c),
      d: f(h.quatern_d),
      offset: [f(h.qoffset_x), f(h.qoffset_y), f(h.qoffset_z)],
    },
    xyztUnits: h.xyzt_units,
    description: (h.description ?? '').replace(/\0.*$/s, ''),
    littleEndian: h.littleEndian,
    voxOffset: Number(h.vox_offset),
  };
}

/**
 * The srow_* rows exactly as stored. Read here rather than from nifti-reader-js, whose
 * `affine` holds the qform instead when both codes are set.
 */
function readSrow(bytes: Uint8Array, version: 1 | 2, littleEndian: boolean): number[][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rows: number[][] = [];
  for (let r = 0; r < 3; r++) {
    const row: number[] = [];
    for (let c = 0; c < 4; c++) {
      row.push(
        version === 1
          ? view.getFloat32(280 + 16 * r + 4 * c, littleEndian)
          : view.getFloat64(400 + 32 * r + 8 * c, littleEndian),
      );
    }
    rows.push(row);
  }
  return rows;
}

/** The NIfTI rule: sform when sform_code > 0, else qform when qform_code > 0, else pixdim. */
function chooseAffine(h: NiftiHeader, name: string): { affine: Affine; source: AffineSource } {
  const pd = h.pixdim;
  if (h.sformCode > 0) {
    const affine = [...h.srow.map((r) => r.slice(0, 4)), [0, 0, 0, 1]];
    if (isUsable(affine)) return { affine, source: 'sform' };
  }
  if (h.qformCode > 0) {
    const affine = affineFromQuaternion({
      ...h.quaternion,
      pixdim: [pd[1], pd[2], pd[3]],
      qfac: pd[0] < 0 ? -1 : 1,
    });
    if (isUsable(affine)) return { affine, source: 'qform' };
  }
  const size = (v: number | undefined) => (v && v > 0 && Number.isFinite(v) ? v : 1);
  const affine = [
    [size(pd[1]), 0, 0, 0],
    [0, size(pd[2]), 0, 0],
    [0, 0, size(pd[3]), 0],
    [0, 0, 0, 1],
  ];
  if (h.sformCode > 0 || h.qformCode > 0) {
    throw new NiftiError(
      `${name}: the header's ${h.sformCode > 0 ? 'sform' : 'qform'} is degenerate (zero or non-finite voxel size); the geometry cannot be trusted.`,
    );
  }
  return { affine, source: 'pixdim' };
}

function isUsable(a: Affine): boolean {
  return a.every((r) => r.every(Number.isFinite)) && voxelSizes(a).every((s) => s > 0);
}

function readVoxels(
  bytes: Uint8Array,
  start: number,
  count: number,
  datatype: NiftiDatatype,
  littleEndian: boolean,
): VoxelArray {
  const info = DATATYPES[datatype];
  const out = info.create(count);
  const nbytes = count * info.bytes;
  if (littleEndian === isHostLittleEndian()) {
    // Same byte order: one copy into an aligned buffer.
    new Uint8Array(out.buffer).set(bytes.subarray(start, start + nbytes));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, nbytes);
  for (let i = 0; i < count; i++) out[i] = info.get(view, i * info.bytes, littleEndian);
  return out;
}

function isHostLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

/* ------------------------------------------------------------------------------------------ */

export interface NiftiWriteInput {
  dims: Vec3;
  affine: Affine;
  data: VoxelArray;
  /** Stored datatype; defaults to the array's own type. */
  datatype?: NiftiDatatype;
  description?: string;
  /** NIFTI_XFORM_* code for both sform and qform (default 2: aligned anatomical; 4: MNI). */
  xformCode?: number;
  /** Write only the sform or only the qform (for tests of readers); default both. */
  only?: 'sform' | 'qform';
  /** intent_code (e.g. 1002 NIFTI_INTENT_LABEL for label maps). */
  intentCode?: number;
}

/** Encode one 3-D volume as NIfTI-1 (single file, little-endian), sform and qform both set. */
export function encodeNifti1(input: NiftiWriteInput): Uint8Array {
  const datatype = input.datatype ?? datatypeOfArray(input.data);
  const info = DATATYPES[datatype];
  const [nx, ny, nz] = input.dims;
  const count = nx * ny * nz;
  if (input.data.length !== count) {
    throw new NiftiError(
      `cannot write: data has ${input.data.length} values, dims ${input.dims.join('×')} need ${count}.`,
    );
  }
  const voxOffset = 352;
  const buffer = new ArrayBuffer(voxOffset + count * info.bytes);
  const v = new DataView(buffer);
  const le = true;
  v.setInt32(0, 348, le);
  v.setUint8(38, 'r'.charCodeAt(0)); // "regular", as nibabel writes it
  const dim = [3, nx, ny, nz, 1, 1, 1, 1];
  dim.forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
  v.setInt16(68, input.intentCode ?? 0, le);
  v.setInt16(70, info.code, le);
  v.setInt16(72, info.bytes * 8, le);
  const q = quaternionFromAffine(input.affine);
  const pixdim = [q.qfac, ...q.pixdim, 1, 1, 1, 1];
  pixdim.forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
  v.setFloat32(108, voxOffset, le);
  v.setFloat32(112, 1, le); // scl_slope: data stored as is
  v.setFloat32(116, 0, le);
  v.setUint8(123, 2 | 8); // xyzt_units: mm, s
  const { min, max } = finiteRange(input.data);
  v.setFloat32(124, max, le); // cal_max / cal_min: the display range viewers start from
  v.setFloat32(128, min, le);
  const desc = (input.description ?? 'glas3d').slice(0, 79);
  for (let i = 0; i < desc.length; i++) v.setUint8(148 + i, desc.charCodeAt(i) & 0x7f);
  const code = input.xformCode ?? 2;
  v.setInt16(252, input.only === 'sform' ? 0 : code, le);
  v.setInt16(254, input.only === 'qform' ? 0 : code, le);
  v.setFloat32(256, q.b, le);
  v.setFloat32(260, q.c, le);
  v.setFloat32(264, q.d, le);
  q.offset.forEach((o, i) => v.setFloat32(268 + 4 * i, o, le));
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) v.setFloat32(280 + 16 * r + 4 * c, input.affine[r][c], le);
  }
  [0x6e, 0x2b, 0x31, 0].forEach((b, i) => v.setUint8(344 + i, b)); // "n+1\0"
  // bytes 348..351: no extensions.
  const target = info.create(count);
  if (datatype === datatypeOfArray(input.data)) target.set(input.data);
  else writeConverted(target, input.data, datatype);
  new Uint8Array(buffer, voxOffset).set(new Uint8Array(target.buffer));
  return new Uint8Array(buffer);
}

function writeConverted(target: VoxelArray, source: VoxelArray, datatype: NiftiDatatype): void {
  const isInt = datatype !== 'float32' && datatype !== 'float64';
  for (let i = 0; i < source.length; i++) {
    const x = source[i];
    if (isInt && !Number.isFinite(x)) {
      throw new NiftiError(`cannot write ${datatype}: voxel ${i} is ${x}.`);
    }
    target[i] = isInt ? Math.round(x) : x;
  }
}

/** Write a volume as `.nii` or `.nii.gz` (by the name), atomically: temp file, then rename. */
export async function writeNifti(path: string, input: NiftiWriteInput): Promise<void> {
  const encoded = encodeNifti1(input);
  const payload = path.endsWith('.gz') ? await gzipAsync(encoded, { level: 6 }) : encoded;
  await writeFileAtomic(path, payload);
}

export function datatypeOfArray(a: VoxelArray): NiftiDatatype {
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Uint16Array) return 'uint16';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof Float64Array) return 'float64';
  return 'float32';
}

function finiteRange(a: VoxelArray): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return Number.isFinite(min) && Number.isFinite(max) ? { min, max } : { min: 0, max: 0 };
}
