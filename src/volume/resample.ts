/**
 * Resampling through world coordinates: each target voxel is mapped to the source's voxel
 * space by source⁻¹ · target, so any two grids (flips, permutations, obliques, other voxel
 * sizes) line up by where they are in mm, never by index.
 */
import { invertAffine, multiplyAffines } from './affine.js';
import { emptyVolume, type Grid, type Volume } from './volume.js';

export type Interpolation = 'linear' | 'nearest';

/**
 * A linear sample this close (in source voxels) to a whole voxel coordinate is taken at that
 * coordinate, so grids whose voxel centres coincide resample exactly: values are copied and a
 * zero background stays exactly 0 (not 1e-12 leftovers that a non-zero brain mask would count).
 *
 * Why 1e-4 voxel: coinciding grids miss whole coordinates only by the rounding of their headers.
 * NIfTI stores the qform quaternion and the sform in float32 (relative error up to 2⁻²⁴ ≈ 6e-8),
 * so an affine element can be off by ~1e-7 and a position by that times the voxel index: a
 * qform-only volume rotated 90° about one axis (b = 1/√2 in float32) reads back with 3.4e-8 off
 * the diagonal, 8.8e-6 voxel at index 256 (1e-6 voxel would miss it), and ≤ 1e-4 up to ~1000
 * voxels per axis. The double arithmetic here adds ~1e-13. Snapping moves a sample by at most
 * 1e-4 voxel (0.1 µm at 1 mm), so it changes a value by at most 1e-4 of the difference between
 * two neighbouring voxels (below one step of 12-bit data), and only for samples that lie within
 * 1e-4 of a voxel plane. It is also the tolerance already used for the source's edges.
 */
const RESAMPLE_SNAP_VOXELS = 1e-4;

/** `x` rounded to the whole coordinate when it lies within RESAMPLE_SNAP_VOXELS of it. */
function snap(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - r) <= RESAMPLE_SNAP_VOXELS ? r : x;
}

/**
 * Sample `source` on `target`: trilinear for intensities, nearest for labels.
 * Points outside the source get 0. Returns a new volume on the target grid. A linear sample
 * within RESAMPLE_SNAP_VOXELS of a source voxel centre copies that voxel's value (per axis: a
 * coordinate that close to a whole one uses it), so coinciding grids resample exactly.
 */
export function resample(source: Volume, target: Grid, method: Interpolation = 'linear'): Volume {
  const out = emptyVolume(target);
  const m = multiplyAffines(invertAffine(source.affine), target.affine);
  const [nx, ny, nz] = source.dims;
  const [tx, ty, tz] = target.dims;
  const src = source.data;
  const dst = out.data;
  const sxy = nx * ny;
  // Tolerance so a target voxel that lands exactly on the source's edge (up to rounding)
  // still counts as inside.
  const eps = RESAMPLE_SNAP_VOXELS;
  let o = 0;
  for (let k = 0; k < tz; k++) {
    for (let j = 0; j < ty; j++) {
      // Source coordinates of (0, j, k); each step in i adds the first column of m.
      let x = m[0][1] * j + m[0][2] * k + m[0][3];
      let y = m[1][1] * j + m[1][2] * k + m[1][3];
      let z = m[2][1] * j + m[2][2] * k + m[2][3];
      const dx = m[0][0];
      const dy = m[1][0];
      const dz = m[2][0];
      if (method === 'nearest') {
        for (let i = 0; i < tx; i++, o++, x += dx, y += dy, z += dz) {
          const xi = Math.round(x);
          const yi = Math.round(y);
          const zi = Math.round(z);
          if (xi < 0 || yi < 0 || zi < 0 || xi >= nx || yi >= ny || zi >= nz) continue;
          dst[o] = src[xi + nx * yi + sxy * zi];
        }
        continue;
      }
      for (let i = 0; i < tx; i++, o++, x += dx, y += dy, z += dz) {
        if (
          x < -eps ||
          y < -eps ||
          z < -eps ||
          x > nx - 1 + eps ||
          y > ny - 1 + eps ||
          z > nz - 1 + eps
        ) {
          continue;
        }
        // Clamp so the 2×2×2 neighbourhood stays inside (a size-1 axis uses one slice).
        const cx = Math.min(Math.max(snap(x), 0), nx - 1);
        const cy = Math.min(Math.max(snap(y), 0), ny - 1);
        const cz = Math.min(Math.max(snap(z), 0), nz - 1);
        if (Number.isInteger(cx) && Number.isInteger(cy) && Number.isInteger(cz)) {
          // On a source voxel centre: its value, copied (no arithmetic, so 0 stays 0).
          dst[o] = src[cx + nx * cy + sxy * cz];
          continue;
        }
        const x0 = Math.min(Math.floor(cx), Math.max(nx - 2, 0));
        const y0 = Math.min(Math.floor(cy), Math.max(ny - 2, 0));
        const z0 = Math.min(Math.floor(cz), Math.max(nz - 2, 0));
        const fx = cx - x0;
        const fy = cy - y0;
        const fz = cz - z0;
        const x1 = nx > 1 ? 1 : 0;
        const y1 = ny > 1 ? nx : 0;
        const z1 = nz > 1 ? sxy : 0;
        const p = x0 + nx * y0 + sxy * z0;
        const c00 = src[p] + fx * (src[p + x1] - src[p]);
        const c10 = src[p + y1] + fx * (src[p + y1 + x1] - src[p + y1]);
        const c01 = src[p + z1] + fx * (src[p + z1 + x1] - src[p + z1]);
        const c11 = src[p + y1 + z1] + fx * (src[p + y1 + z1 + x1] - src[p + y1 + z1]);
        const c0 = c00 + fy * (c10 - c00);
        const c1 = c01 + fy * (c11 - c01);
        dst[o] = c0 + fz * (c1 - c0);
      }
    }
  }
  return out;
}
