/**
 * The ground truth, measured: a subject's deformation applied to label images (nearest
 * neighbour), so region volumes before and after can be counted. Tests use it to check that
 * the planted regions lost what was asked and nothing else did.
 */
import { cloneAffine } from '../volume/affine.js';
import { emptyVolume, spacingMm, type Grid, type Volume } from '../volume/index.js';
import { contract, LabelLookup, type Contraction } from './atrophy.js';
import { Rng } from './rng.js';
import { anatomyPoint, type AnatomyWarp } from './deformation.js';

/**
 * Which part of the deformation to apply:
 * - `atrophy`: the contractions alone, in template space, on `grid` (default: the labels' own
 *   grid) — the volume change the atrophy made;
 * - `anatomy`: the scale and smooth displacement alone, on the subject's grid;
 * - `full`: both, composed as the image was made, on the subject's grid.
 */
export type WarpStage = 'atrophy' | 'anatomy' | 'full';

/** A subject's warp (`SynthSubject.warp`), or only contractions (enough for `atrophy`). */
export interface WarpLike {
  contractions: readonly Contraction[];
  anatomy?: AnatomyWarp;
  grid?: Grid;
}

/**
 * The labels a subject shows: for each voxel, the template's label where its backward map lands
 * (nearest), and 0 (CSF) where an atrophied region's tissue has left.
 */
export function warpLabels(
  labels: Volume,
  warp: WarpLike,
  stage: WarpStage,
  grid: Grid | undefined = stage === 'atrophy' ? labels : warp.grid,
): Volume {
  if (!grid) throw new Error(`the ${stage} stage needs the subject's grid`);
  if (stage !== 'atrophy') {
    const g = warp.grid;
    const same =
      g !== undefined &&
      warp.anatomy !== undefined &&
      grid.dims.every((d, i) => d === g.dims[i]) &&
      grid.affine.every((row, r) => row.every((v, c) => v === g.affine[r][c]));
    if (!same) throw new Error(`the ${stage} warp is defined on the subject's grid only`);
  }
  const anatomy = warp.anatomy;
  const out = emptyVolume({ dims: grid.dims, affine: cloneAffine(grid.affine) });
  const contractions = stage === 'anatomy' ? [] : warp.contractions;
  const lookup = new LabelLookup(
    labels,
    contractions.map((c) => c.shape.index),
  );
  const [nx, ny, nz] = grid.dims;
  const a = grid.affine;
  const y = new Float64Array(3);
  const z = new Float64Array(3);
  let o = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, o++) {
        const x0 = a[0][0] * i + a[0][1] * j + a[0][2] * k + a[0][3];
        const x1 = a[1][0] * i + a[1][1] * j + a[1][2] * k + a[1][3];
        const x2 = a[2][0] * i + a[2][1] * j + a[2][2] * k + a[2][3];
        if (stage === 'atrophy') {
          y[0] = x0;
          y[1] = x1;
          y[2] = x2;
        } else {
          anatomyPoint(anatomy!, o, x0, x1, x2, y);
        }
        contract(contractions, y[0], y[1], y[2], z);
        const atZ = lookup.at(z[0], z[1], z[2]);
        out.data[o] =
          contractions.length > 0 ? lookup.shown(lookup.at(y[0], y[1], y[2]), atZ) : atZ;
      }
    }
  }
  return out;
}

/** Voxel count per label value (label 0 included). */
export function labelCounts(labels: Volume): Map<number, number> {
  const counts = new Map<number, number>();
  for (const v of labels.data) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

/**
 * Region volumes (in voxels of `labels`' grid) after the atrophy, template space, by warping
 * the labels with nearest neighbour at `samplesPerAxis`³ jittered points per voxel: one point at
 * a random place in each sub-cell (seeded), the label shown there counting 1/samples³. Without
 * motion every point falls in its own voxel, so the volumes are exact; with motion the count is
 * an unbiased estimate of the warped label image's volume. Points on a regular sub-grid would
 * not register motion below half their spacing, so a 2% loss would read as 0. Voxels outside
 * every contraction's reach are counted whole without sampling.
 */
export function atrophiedVolumes(
  labels: Volume,
  warp: WarpLike,
  options: { samplesPerAxis?: number; seed?: number } = {},
): Map<number, number> {
  const f = options.samplesPerAxis ?? 2;
  const rng = new Rng(options.seed ?? 1);
  const contractions = warp.contractions;
  const lookup = new LabelLookup(
    labels,
    contractions.map((c) => c.shape.index),
  );
  const [nx, ny, nz] = labels.dims;
  const a = labels.affine;
  const z = new Float64Array(3);
  const volume = new Map<number, number>();
  const add = (label: number, w: number) => volume.set(label, (volume.get(label) ?? 0) + w);
  const w = 1 / (f * f * f);
  const margin = Math.max(...spacingMm(labels));
  let o = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, o++) {
        const own = labels.data[o];
        const c0 = a[0][0] * i + a[0][1] * j + a[0][2] * k + a[0][3];
        const c1 = a[1][0] * i + a[1][1] * j + a[1][2] * k + a[1][3];
        const c2 = a[2][0] * i + a[2][1] * j + a[2][2] * k + a[2][3];
        if (!reached(contractions, c0, c1, c2, margin)) {
          if (own !== 0) add(own, 1);
          continue;
        }
        for (let s = 0; s < f * f * f; s++) {
          const di = (s % f) + rng.uniform();
          const dj = (Math.floor(s / f) % f) + rng.uniform();
          const dk = Math.floor(s / (f * f)) + rng.uniform();
          const ii = i - 0.5 + di / f;
          const jj = j - 0.5 + dj / f;
          const kk = k - 0.5 + dk / f;
          const y0 = a[0][0] * ii + a[0][1] * jj + a[0][2] * kk + a[0][3];
          const y1 = a[1][0] * ii + a[1][1] * jj + a[1][2] * kk + a[1][3];
          const y2 = a[2][0] * ii + a[2][1] * jj + a[2][2] * kk + a[2][3];
          contract(contractions, y0, y1, y2, z);
          const shown = lookup.shown(own, lookup.at(z[0], z[1], z[2]));
          if (shown !== 0) add(shown, w);
        }
      }
    }
  }
  return volume;
}

/** Whether a point (mm) lies within `m` mm of any contraction's support box. */
function reached(
  contractions: readonly Pick<Contraction, 'shape'>[],
  p0: number,
  p1: number,
  p2: number,
  m: number,
): boolean {
  for (const { shape } of contractions) {
    const lo = shape.supportMin;
    const hi = shape.supportMax;
    if (p0 < lo[0] - m || p0 > hi[0] + m) continue;
    if (p1 < lo[1] - m || p1 > hi[1] + m) continue;
    if (p2 < lo[2] - m || p2 > hi[2] + m) continue;
    return true;
  }
  return false;
}
