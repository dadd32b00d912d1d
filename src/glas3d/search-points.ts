import { OptionError } from '../errors.js';

/** A search point μ in continuous grid coordinates (voxel index units), one value per grid axis. */
export type SearchPoint = readonly number[];

/**
 * Centres of a k × k (× k) grid of equal cells laid over the grid, as in the paper's Ω.
 * Voxel i covers [i − ½, i + ½], so cell c of an axis of n voxels is centred at
 * (c + ½)·n/k − ½. Points come with grid axis 0 fastest, like maps. `k` may be one count for
 * every axis or one per axis.
 */
export function gridSearchPoints(
  gridDims: readonly number[],
  k: number | readonly number[],
): SearchPoint[] {
  const counts = typeof k === 'number' ? gridDims.map(() => k) : [...k];
  if (counts.length !== gridDims.length) {
    throw new OptionError(
      `Grid search needs one cell count per grid axis (${gridDims.length}), got ${counts.length}.`,
    );
  }
  for (const c of counts) {
    if (!Number.isInteger(c) || c < 1) {
      throw new OptionError(`Grid search cell count ${c} must be a positive whole number.`);
    }
  }
  const axisCentres = gridDims.map((n, a) =>
    Array.from({ length: counts[a] }, (_, c) => ((c + 0.5) * n) / counts[a] - 0.5),
  );
  const total = counts.reduce((p, c) => p * c, 1);
  const points: SearchPoint[] = [];
  const index = new Array<number>(gridDims.length).fill(0);
  for (let p = 0; p < total; p++) {
    points.push(index.map((c, a) => axisCentres[a][c]));
    for (let a = 0; a < index.length; a++) {
      if (++index[a] < counts[a]) break;
      index[a] = 0;
    }
  }
  return points;
}

/**
 * Search points given as a list (e.g. atlas region centroids), checked and copied as they are:
 * each must have one finite coordinate per grid axis.
 */
export function searchPointsFromList(
  points: readonly (readonly number[])[],
  gridDims: readonly number[],
): SearchPoint[] {
  return points.map((p, i) => {
    if (p.length !== gridDims.length || p.some((v) => !Number.isFinite(v))) {
      throw new OptionError(
        `Search point ${i} [${p.join(', ')}] needs ${gridDims.length} finite grid coordinates.`,
      );
    }
    return [...p];
  });
}
