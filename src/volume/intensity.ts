/**
 * Intensity normalization as models are trained: each method maps a volume's intensities the
 * way common pipelines do, so the explained input matches the training input.
 * - none: as stored;
 * - zscore: (x − mean) / sd over the non-zero voxels, which alone are changed (MONAI's
 *   NormalizeIntensity with nonzero=True): a skull-stripped background stays 0;
 * - minmax: (x − min) / (max − min) over the whole volume, into [0, 1];
 * - percentile: the 1st–99th percentiles of the non-zero voxels mapped to [0, 1], clipped.
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

export function normalizeIntensity(volume: Volume, method: IntensityNormalization): Volume {
  const d = volume.data;
  const out = new Float32Array(d.length);
  switch (method) {
    case 'none':
      out.set(d);
      break;
    case 'zscore': {
      let n = 0;
      let sum = 0;
      for (let o = 0; o < d.length; o++) if (d[o] !== 0) (n++, (sum += d[o]));
      const mean = n > 0 ? sum / n : 0;
      let ss = 0;
      for (let o = 0; o < d.length; o++) if (d[o] !== 0) ss += (d[o] - mean) ** 2;
      const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 1;
      const scale = sd > 0 ? 1 / sd : 1;
      for (let o = 0; o < d.length; o++) out[o] = d[o] !== 0 ? (d[o] - mean) * scale : 0;
      break;
    }
    case 'minmax': {
      let min = Infinity;
      let max = -Infinity;
      for (let o = 0; o < d.length; o++) {
        if (d[o] < min) min = d[o];
        if (d[o] > max) max = d[o];
      }
      const scale = max > min ? 1 / (max - min) : 0;
      for (let o = 0; o < d.length; o++) out[o] = (d[o] - min) * scale;
      break;
    }
    case 'percentile': {
      const nonzero = d.filter((v) => v !== 0).sort();
      const at = (q: number) =>
        nonzero.length ? nonzero[Math.min(nonzero.length - 1, Math.floor(q * nonzero.length))] : 0;
      const lo = at(0.01);
      const hi = at(0.99);
      const scale = hi > lo ? 1 / (hi - lo) : 0;
      for (let o = 0; o < d.length; o++) {
        out[o] = d[o] === 0 ? 0 : Math.min(1, Math.max(0, (d[o] - lo) * scale));
      }
      break;
    }
    default:
      throw new OptionError(
        `unknown intensity normalization '${String(method)}': use one of ${INTENSITY_NORMALIZATIONS.join(', ')}.`,
      );
  }
  return { dims: [...volume.dims], affine: volume.affine.map((r) => r.slice()), data: out };
}
