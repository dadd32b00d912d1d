/**
 * Intensity normalization as models are trained: each method maps a volume's intensities the
 * way common pipelines do, so the explained input matches the training input.
 * - none: as stored;
 * - zscore: (x − mean) / sd, mean and sd over the non-zero voxels, which alone are changed
 *   (MONAI's NormalizeIntensity with nonzero=True): a skull-stripped background becomes 0;
 * - minmax: (x − min) / (max − min) over the whole volume, into [0, 1];
 * - percentile: the 1st–99th percentiles of the non-zero voxels mapped to [0, 1], clipped;
 *   the background becomes 0.
 *
 * "Non-zero" means |x| > BACKGROUND_TOLERANCE · max|x| (see `brainMask`), not x ≠ 0: a background
 * that is zero up to rounding (scaled integer storage reads a stored 0 as raw·scl_slope +
 * scl_inter, e.g. 2.98e-7; interpolation leftovers) is background, as it is in the same brain
 * stored as float. Training pipelines see their own files' exact zeros; the tolerance makes
 * glas3d's mask the same for every lossless storage of that brain.
 *
 * A transform is fitted on the subject and can then be applied to another volume on the same
 * grid — the GLAS baseline — so that light and shadow blend toward the baseline in the units the
 * model sees (a zero baseline becomes "black tissue" inside the subject's brain).
 */
import { OptionError } from '../errors.js';
import type { Volume } from './volume.js';

export type IntensityNormalization = 'none' | 'zscore' | 'minmax' | 'percentile';
export const INTENSITY_NORMALIZATIONS: readonly IntensityNormalization[] = [
  'none',
  'zscore',
  'minmax',
  'percentile',
];

/** x → (x − offset) · scale, clipped to [0, 1] when `clip`, on the voxels it applies to. */
export interface IntensityTransform {
  method: IntensityNormalization;
  offset: number;
  scale: number;
  clip: boolean;
  /** Voxels the transform applies to (the subject's brain, `brainMask`); undefined: all. */
  inside?: Uint8Array;
}

export function fitIntensityNormalization(
  volume: Volume,
  method: IntensityNormalization,
): IntensityTransform {
  const d = volume.data;
  switch (method) {
    case 'none':
      return { method, offset: 0, scale: 1, clip: false };
    case 'zscore': {
      const inside = brainMask(d);
      let n = 0;
      let sum = 0;
      for (let o = 0; o < d.length; o++) {
        if (inside[o]) {
          n++;
          sum += d[o];
        }
      }
      const mean = n > 0 ? sum / n : 0;
      let ss = 0;
      for (let o = 0; o < d.length; o++) if (inside[o]) ss += (d[o] - mean) ** 2;
      const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
      return { method, offset: mean, scale: sd > 0 ? 1 / sd : 1, clip: false, inside };
    }
    case 'minmax': {
      let min = Infinity;
      let max = -Infinity;
      for (let o = 0; o < d.length; o++) {
        if (d[o] < min) min = d[o];
        if (d[o] > max) max = d[o];
      }
      return { method, offset: min, scale: max > min ? 1 / (max - min) : 0, clip: false };
    }
    case 'percentile': {
      const inside = brainMask(d);
      const values = maskedValues(d, inside).sort();
      const at = (q: number) =>
        values.length ? values[Math.min(values.length - 1, Math.floor(q * values.length))] : 0;
      const lo = at(0.01);
      const hi = at(0.99);
      return {
        method,
        offset: lo,
        scale: hi > lo ? 1 / (hi - lo) : 0,
        clip: true,
        inside,
      };
    }
    default:
      throw new OptionError(
        `unknown intensity normalization '${String(method)}': use one of ${INTENSITY_NORMALIZATIONS.join(', ')}.`,
      );
  }
}

// Plain loops: TypedArray.from with a map function and TypedArray.filter call back per voxel and
// took over a second for one 2 mm MNI volume (Node 20), longer than the rest of a subject's
// non-model work.

/**
 * Background tolerance of `brainMask`, relative to the volume's largest |x|. Why 1e-6:
 * - above rounding: scaled integer storage turns a stored 0 into raw·slope + inter with slope
 *   and inter rounded to float32 (2⁻²⁴ ≈ 6e-8 each), so a true 0 reads as up to ~1.2e-7·|inter|
 *   (2.98e-7 for slope 0.05, inter −20: 2.6e-10 of a brain whose max is 1127), covered while
 *   |inter| ≤ ~8·max|x|; interpolation leftovers are ~1e-16·max|x|;
 * - below tissue: integer storage cannot hold a non-zero value under max/32767 ≈ 3e-5·max (16
 *   bit) or max/255 (8 bit), and no MR image resolves intensities a millionth of its maximum, so
 *   no voxel that is brain in any storage becomes background.
 */
export const BACKGROUND_TOLERANCE = 1e-6;

/**
 * 1 for brain, 0 for background: brain is |x| > BACKGROUND_TOLERANCE · max|x| over the finite
 * voxels ("non-zero" up to rounding, so the same brain stored as float, as scaled int16 or
 * resampled gets the same mask). All-zero data: no brain.
 */
export function brainMask(d: Float32Array): Uint8Array {
  let max = 0;
  for (let o = 0; o < d.length; o++) {
    const a = Math.abs(d[o]);
    if (a > max && a !== Infinity) max = a;
  }
  const threshold = BACKGROUND_TOLERANCE * max;
  const mask = new Uint8Array(d.length);
  // Written as "not ≤" so a NaN voxel stays inside, as with the exact non-zero rule.
  for (let o = 0; o < d.length; o++) if (!(Math.abs(d[o]) <= threshold)) mask[o] = 1;
  return mask;
}

/** The values of `d` where `mask` is set, in order. */
function maskedValues(d: Float32Array, mask: Uint8Array): Float32Array {
  let n = 0;
  for (let o = 0; o < d.length; o++) if (mask[o]) n++;
  const values = new Float32Array(n);
  n = 0;
  for (let o = 0; o < d.length; o++) if (mask[o]) values[n++] = d[o];
  return values;
}

/** Apply a fitted transform to data on the same grid; voxels outside `inside` become 0. */
export function applyIntensityTransform(t: IntensityTransform, data: Float32Array): Float32Array {
  const out = new Float32Array(data.length);
  for (let o = 0; o < data.length; o++) {
    if (t.inside && !t.inside[o]) continue;
    const v = (data[o] - t.offset) * t.scale;
    out[o] = t.clip ? Math.min(1, Math.max(0, v)) : v;
  }
  return out;
}

export function normalizeIntensity(volume: Volume, method: IntensityNormalization): Volume {
  const t = fitIntensityNormalization(volume, method);
  const data =
    method === 'none' ? Float32Array.from(volume.data) : applyIntensityTransform(t, volume.data);
  return { dims: [...volume.dims], affine: volume.affine.map((r) => r.slice()), data };
}
