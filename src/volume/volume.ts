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
  /**
   * The NIFTI_XFORM_* code saying what space `affine` maps to, as nibabel's `get_sform(coded=True)`
   * gives it: 1 scanner, 2 aligned anatomical, 3 Talairach, 4 MNI-152, 5 another template; 0
   * when the file had neither an sform nor a qform (both codes 0), its affine then the voxel size
   * alone: where it lies in space is unknown (see `positionUnknown`). readVolume sets it (the
   * code of the sform or qform it used); writeVolume writes it as sform_code and qform_code.
   * Absent in grids made in memory: writeVolume then writes 2 (aligned anatomical).
   */
  xformCode?: number;
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
  const { sformCode, qformCode } = header;
  const xformCode =
    image.affineSource === 'sform' ? sformCode : image.affineSource === 'qform' ? qformCode : 0;
  return {
    dims: image.dims,
    affine: image.affine,
    xformCode,
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
  /**
   * NIFTI_XFORM_* code for sform and qform (2 aligned anatomical, 4 MNI-152); default the
   * volume's own `xformCode`, else 2.
   */
  xformCode?: number;
  intentCode?: number;
}

/**
 * Write a volume as NIfTI-1 (`.nii` or `.nii.gz`), atomically, sform and qform both set to its
 * affine, with its `xformCode` (a map of an MNI-space input stays MNI: AFNI shows code 2 as
 * +orig, 4 as +tlrc).
 */
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
    xformCode: options.xformCode ?? volume.xformCode,
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

/** A zero-filled volume on a grid (in the grid's space: its `xformCode` too, when it has one). */
export function emptyVolume(grid: Grid): Volume {
  return {
    dims: [...grid.dims] as Vec3,
    affine: grid.affine.map((r) => r.slice()),
    ...(grid.xformCode !== undefined && { xformCode: grid.xformCode }),
    data: new Float32Array(voxelCount(grid)),
  };
}

/**
 * True for a volume read from a file whose header has neither an sform nor a qform (both codes
 * 0): its affine is the voxel size alone, with voxel (0, 0, 0) at the origin, as the NIfTI
 * standard says, so it says nothing of where the image lies. A volume made in memory (no
 * `xformCode`) is taken as placed.
 */
export function positionUnknown(grid: Grid): boolean {
  return grid.xformCode === 0;
}

/** What `positionUnknown` means for the file `name`, and how to fix it. */
export function positionUnknownText(name: string): string {
  return (
    `${name}: the header has neither an sform nor a qform (sform_code = qform_code = 0), so where the image lies in space is unknown; ` +
    `glas3d can only place it by its voxel size, with voxel (0, 0, 0) at the origin (the NIfTI standard's fallback), which puts it elsewhere than the template and atlas. ` +
    `A registered scan whose header lost its geometry: restore it from the image it was registered to (e.g. \`fslcpgeom REFERENCE.nii.gz FILE.nii.gz\`, or nibabel: save the data with the reference's affine and header).`
  );
}

/**
 * readVolume gives the first volume of a 4-D file; glas3d explains one 3-D scan, so a file with
 * several volumes is refused (one with a single volume along dims 4–7 is fine). The one check
 * `explain` and `glas3d run` share; `error` makes the error (run's is a SubjectError).
 */
export function checkOneVolume(
  volume: Volume & { source?: { volumes: number } },
  name: string,
  error: (message: string) => Error = (message) => new NiftiError(message),
): void {
  const volumes = volume.source?.volumes ?? 1;
  if (volumes > 1)
    throw error(
      `${name}: a 4-D file with ${volumes} volumes; glas3d explains one 3-D scan. Extract the volume to explain (e.g. fslroi in.nii.gz out.nii.gz 0 1) and give that file.`,
    );
}

/** True when two grids have the same dims and (within `tolMm`) the same affine. */
export function sameGrid(a: Grid, b: Grid, tolMm = 1e-3): boolean {
  if (a.dims.some((d, i) => d !== b.dims[i])) return false;
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) if (Math.abs(a.affine[r][c] - b.affine[r][c]) > tolMm) return false;
  }
  return true;
}
