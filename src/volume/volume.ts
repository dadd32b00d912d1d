/**
 * A `Volume` is a 3-D scalar image with its place in space: dims, the voxel → world (mm)
 * affine and float32 data stored x fastest (NIfTI order: index = i + nx·(j + ny·k)).
 */
import { NiftiError } from '../errors.js';
import { applyAffine, invertAffine, voxelSizes, type Affine, type Vec3 } from './affine.js';
import type { NiftiDatatype } from './datatypes.js';
import { orientationCode } from './orientation.js';
import {
  readNifti,
  writeNifti,
  type AffineSource,
  type NiftiHeader,
  type ReadNiftiOptions,
} from './nifti.js';

/** A voxel grid in world space: what a volume is sampled on. */
export interface Grid {
  dims: Vec3;
  affine: Affine;
}

export interface Volume extends Grid {
  data: Float32Array;
}

/** Where a volume read from disk came from. */
export interface VolumeSource {
  path: string;
  header: NiftiHeader;
  affineSource: AffineSource;
  volumes: number;
  /** Voxels that were NaN/±Inf in the file (replaced by 0 when `nonFinite: 'zero'`). */
  nonFiniteVoxels: number;
}

export interface LoadedVolume extends Volume {
  source: VolumeSource;
}

export interface ReadVolumeOptions extends ReadNiftiOptions {
  /**
   * What to do with NaN/Inf voxels: 'error' (default) refuses the file and says how many;
   * 'zero' replaces them by 0 and records the count in `source.nonFiniteVoxels`.
   */
  nonFinite?: 'error' | 'zero';
}

/** Read a NIfTI file as a float32 volume with scl_slope/scl_inter applied. */
export async function readVolume(
  path: string,
  options: ReadVolumeOptions = {},
): Promise<LoadedVolume> {
  const image = await readNifti(path, options);
  const { header } = image;
  // NIfTI: a slope of 0 (or non-finite) means "no scaling".
  const scaled = Number.isFinite(header.sclSlope) && header.sclSlope !== 0;
  const slope = scaled ? header.sclSlope : 1;
  const inter = scaled ? finiteOr0(header.sclInter) : 0;
  const data = new Float32Array(image.raw.length);
  let nonFinite = 0;
  const replace = options.nonFinite === 'zero';
  for (let i = 0; i < data.length; i++) {
    const v = image.raw[i] * slope + inter;
    if (Number.isFinite(v)) {
      data[i] = v;
    } else {
      nonFinite++;
      data[i] = replace ? 0 : v;
    }
  }
  if (nonFinite > 0 && !replace) {
    throw new NiftiError(
      `${path}: ${nonFinite} of ${data.length} voxels are NaN or Inf. Fix the image (e.g. \`fslmaths in.nii.gz -nan -uthr 1e30 -thr -1e30 out.nii.gz\` sets NaN and ±Inf to 0) and give the fixed file; library users can pass nonFinite: 'zero'.`,
    );
  }
  return {
    dims: image.dims,
    affine: image.affine,
    data,
    source: {
      path,
      header,
      affineSource: image.affineSource,
      volumes: image.volumes,
      nonFiniteVoxels: nonFinite,
    },
  };
}

function finiteOr0(v: number): number {
  return Number.isFinite(v) ? v : 0;
}

export interface WriteVolumeOptions {
  /** Stored datatype (default float32); integer types round. */
  datatype?: NiftiDatatype;
  description?: string;
  /** NIFTI_XFORM_* code for sform and qform: 2 aligned anatomical (default), 4 MNI-152. */
  xformCode?: number;
  intentCode?: number;
}

/** Write a volume as NIfTI-1 (`.nii` or `.nii.gz`), atomically, sform and qform both set. */
export async function writeVolume(
  path: string,
  volume: Volume,
  options: WriteVolumeOptions = {},
): Promise<void> {
  await writeNifti(path, {
    dims: volume.dims,
    affine: volume.affine,
    data: volume.data,
    datatype: options.datatype ?? 'float32',
    description: options.description,
    xformCode: options.xformCode,
    intentCode: options.intentCode,
  });
}

/** World (mm) coordinates of a (possibly fractional) voxel index. */
export function voxelToMm(grid: Grid, ijk: readonly number[]): Vec3 {
  return applyAffine(grid.affine, ijk);
}

/** Continuous voxel index of a world (mm) point. */
export function mmToVoxel(grid: Grid, xyz: readonly number[]): Vec3 {
  return applyAffine(invertAffine(grid.affine), xyz);
}

/** Voxel size in mm along each voxel axis. */
export function spacingMm(grid: Grid): Vec3 {
  return voxelSizes(grid.affine);
}

export function voxelCount(grid: Grid): number {
  return grid.dims[0] * grid.dims[1] * grid.dims[2];
}

/** Orientation code of the grid, e.g. "RAS" or "LIA". */
export function orientationOf(grid: Grid): string {
  return orientationCode(grid.affine);
}

/** A zero-filled volume on a grid. */
export function emptyVolume(grid: Grid): Volume {
  return {
    dims: [...grid.dims] as Vec3,
    affine: grid.affine.map((r) => r.slice()),
    data: new Float32Array(voxelCount(grid)),
  };
}

/** True when two grids have the same dims and (within `tolMm`) the same affine. */
export function sameGrid(a: Grid, b: Grid, tolMm = 1e-3): boolean {
  if (a.dims.some((d, i) => d !== b.dims[i])) return false;
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) if (Math.abs(a.affine[r][c] - b.affine[r][c]) > tolMm) return false;
  }
  return true;
}
