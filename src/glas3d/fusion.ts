import { gaussianFactorInto, outerProductInto } from './masks.js';

/** What eq. 3 needs: the grid, its physical spacing, the search points and their weights. */
export interface FusionInput {
  /** Extent of each grid axis (x, y[, z]). */
  readonly gridDims: readonly number[];
  /** Physical size of one grid step per axis. */
  readonly spacing: readonly number[];
  /** Search points μ_i in grid (voxel index) coordinates. */
  readonly points: readonly (readonly number[])[];
  /** w_i per point: f_l·f_s (fusion), f_l (light) or f_s (shadow). */
  readonly weights: ArrayLike<number>;
  /** σ_spatial in physical units. */
  readonly sigmaSpatial: number;
}

/**
 * Eq. 3: S(x) = (1/|Ω|) Σ_i exp(−D(x, μ_i) / σ_spatial²) · w_i, D the squared physical distance.
 * The paper divides by σ², not 2σ², and so do we. Returned in grid order (axis 0 fastest:
 * x + nx·(y + ny·z)). Each point adds a product of 1-D factors, so the cost is one
 * multiply-add per voxel and point, with no per-voxel exp. Accumulates in double precision.
 */
export function fuseMap(input: FusionInput, out?: Float32Array): Float32Array {
  const { gridDims, spacing, points, weights, sigmaSpatial } = input;
  const dims = gridDims.length;
  let gridSize = 1;
  for (const d of gridDims) gridSize *= d;
  const map = out ?? new Float32Array(gridSize);
  if (map.length !== gridSize) {
    throw new RangeError(`fuseMap: out has ${map.length} values, the grid has ${gridSize}`);
  }
  const accumulator = new Float64Array(gridSize);
  const rowLength = gridDims[0];
  const rows = gridSize / rowLength;
  // Outer axes slowest first (z, y), so that their outer product indexes rows in grid order.
  const outerFactors: Float64Array[] = [];
  for (let a = dims - 1; a >= 1; a--) outerFactors.push(new Float64Array(gridDims[a]));
  const rowFactor = new Float64Array(gridDims[0]);
  const rowWeights = new Float64Array(rows);
  const inverseScale = 1 / (sigmaSpatial * sigmaSpatial);
  const norm = points.length > 0 ? 1 / points.length : 0;

  for (let i = 0; i < points.length; i++) {
    const w = weights[i] * norm;
    if (w === 0) continue;
    const mu = points[i];
    gaussianFactorInto(rowFactor, mu[0], spacing[0], inverseScale);
    for (let a = dims - 1, k = 0; a >= 1; a--, k++) {
      gaussianFactorInto(outerFactors[k], mu[a], spacing[a], inverseScale);
    }
    outerProductInto(outerFactors, rowWeights);
    for (let r = 0; r < rows; r++) {
      const c = rowWeights[r] * w;
      if (c === 0) continue; // far rows underflow to exactly 0: skipping them changes nothing
      const base = r * rowLength;
      for (let x = 0; x < rowLength; x++) accumulator[base + x] += c * rowFactor[x];
    }
  }
  for (let j = 0; j < gridSize; j++) map[j] = accumulator[j];
  return map;
}
