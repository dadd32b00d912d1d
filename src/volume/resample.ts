/**
 * Resampling through world coordinates: each target voxel is mapped to the source's voxel
 * space by source⁻¹ · target, so any two grids (flips, permutations, obliques, other voxel
 * sizes) line up by where they are in mm, never by index.
 */
import { invertAffine, multiplyAffines } from './affine.js';
import { emptyVolume, type Grid, type Volume } from './volume.js';

export type Interpolation = 'linear' | 'nearest';

/**
 * Sample `source` on `target`: trilinear for intensities, nearest for labels.
 * Points outside the source get 0. Returns a new volume on the target grid.
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
  const eps = 1e-4;
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
        const cx = Math.min(Math.max(x, 0), nx - 1);
        const cy = Math.min(Math.max(y, 0), ny - 1);
        const cz = Math.min(Math.max(z, 0), nz - 1);
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
