/**
 * Per-label voxel counts and index sums in one pass over a label volume, and the voxel of a
 * label nearest (in mm) to a point, in one more pass for all labels that need it.
 */
import { AtlasError } from '../errors.js';
import type { Vec3 } from '../volume/affine.js';
import type { Volume } from '../volume/volume.js';

/** The labels of a volume with their voxel counts and centres of mass (voxel coordinates). */
export interface LabelCensus {
  /** Distinct non-zero label values, ascending. */
  labels: number[];
  /** label → voxel count. */
  voxels: Map<number, number>;
  /** label → centre of mass in continuous voxel coordinates (i, j, k). */
  centreVoxel: Map<number, Vec3>;
}

/** Largest label value accepted: float32 holds every integer up to 2^24 exactly. */
const MAX_LABEL = 2 ** 24;

/**
 * Count every non-zero label and sum its voxel indices, in one pass. Labels must be
 * non-negative integers; anything else (a label image resampled with linear interpolation,
 * a probability map) is an AtlasError naming `source` and the first bad voxel.
 */
export function labelCensus(labels: Volume, source: string): LabelCensus {
  const [nx, ny, nz] = labels.dims;
  const data = labels.data;
  // Label value → slot in the sum arrays; labels come in runs, so the slot lookup only happens
  // when the value changes.
  const slotOf = new Map<number, number>();
  const values: number[] = [];
  let capacity = 64;
  let count = new Float64Array(capacity);
  let si = new Float64Array(capacity);
  let sj = new Float64Array(capacity);
  let sk = new Float64Array(capacity);
  let prev = 0;
  let slot = -1;
  let p = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, p++) {
        const v = data[p];
        if (v !== prev) {
          prev = v;
          if (v === 0) {
            slot = -1;
          } else {
            let s = slotOf.get(v);
            if (s === undefined) {
              if (!(Number.isInteger(v) && v > 0 && v <= MAX_LABEL)) {
                throw new AtlasError(
                  `${source}: voxel (${i}, ${j}, ${k}) holds ${v}; a label image must hold whole numbers from 0 to ${MAX_LABEL} (was it resampled with linear instead of nearest-neighbour interpolation, or is it a probability map?).`,
                );
              }
              s = values.length;
              slotOf.set(v, s);
              values.push(v);
              if (s >= capacity) {
                capacity *= 2;
                count = grow(count, capacity);
                si = grow(si, capacity);
                sj = grow(sj, capacity);
                sk = grow(sk, capacity);
              }
            }
            slot = s;
          }
        }
        if (slot < 0) continue;
        count[slot]++;
        si[slot] += i;
        sj[slot] += j;
        sk[slot] += k;
      }
    }
  }
  const voxels = new Map<number, number>();
  const centreVoxel = new Map<number, Vec3>();
  for (const [v, s] of slotOf) {
    voxels.set(v, count[s]);
    centreVoxel.set(v, [si[s] / count[s], sj[s] / count[s], sk[s] / count[s]]);
  }
  return { labels: [...values].sort((a, b) => a - b), voxels, centreVoxel };
}

function grow(a: Float64Array, capacity: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(capacity);
  b.set(a);
  return b;
}

/**
 * For each label in `targets` (label → point in continuous voxel coordinates), the voxel
 * carrying that label whose centre is nearest to the point in mm (distances through the
 * affine, so anisotropic and oblique grids are measured correctly). One pass over the volume;
 * ties go to the first voxel in storage order. Labels with no voxels are absent from the result.
 */
export function nearestLabelledVoxels(
  labels: Volume,
  targets: ReadonlyMap<number, Vec3>,
): Map<number, [number, number, number]> {
  const [nx, ny, nz] = labels.dims;
  const a = labels.affine;
  const data = labels.data;
  const best = new Map<number, { d2: number; ijk: [number, number, number] }>();
  if (targets.size === 0) return new Map();
  let prev = 0;
  let c: Vec3 | undefined;
  let p = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, p++) {
        const v = data[p];
        if (v !== prev) {
          prev = v;
          c = v === 0 ? undefined : targets.get(v);
        }
        if (c === undefined) continue;
        const di = i - c[0];
        const dj = j - c[1];
        const dk = k - c[2];
        const dx = a[0][0] * di + a[0][1] * dj + a[0][2] * dk;
        const dy = a[1][0] * di + a[1][1] * dj + a[1][2] * dk;
        const dz = a[2][0] * di + a[2][1] * dj + a[2][2] * dk;
        const d2 = dx * dx + dy * dy + dz * dz;
        const b = best.get(v);
        if (b === undefined) best.set(v, { d2, ijk: [i, j, k] });
        else if (d2 < b.d2) {
          b.d2 = d2;
          b.ijk = [i, j, k];
        }
      }
    }
  }
  return new Map([...best].map(([v, b]) => [v, b.ijk]));
}
