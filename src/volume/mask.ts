import type { Volume } from './volume.js';

/**
 * Voxels that are brain rather than background: those that differ from the background value
 * (the median of the 8 corner voxels) by more than 5% of the intensity range. Works for
 * skull-stripped scans with 0 background and for z-scored ones with a negative background.
 */
export function foregroundMask(volume: Volume): Uint8Array {
  const [nx, ny, nz] = volume.dims;
  const d = volume.data;
  const corners: number[] = [];
  for (const k of [0, nz - 1])
    for (const j of [0, ny - 1])
      for (const i of [0, nx - 1]) corners.push(d[i + nx * (j + ny * k)]);
  corners.sort((a, b) => a - b);
  const background = (corners[3] + corners[4]) / 2;
  let min = Infinity;
  let max = -Infinity;
  for (let o = 0; o < d.length; o++) {
    if (d[o] < min) min = d[o];
    if (d[o] > max) max = d[o];
  }
  const threshold = 0.05 * (max - min);
  const mask = new Uint8Array(d.length);
  for (let o = 0; o < d.length; o++) mask[o] = Math.abs(d[o] - background) > threshold ? 1 : 0;
  return mask;
}
