import { gaussianFactorInto } from './masks.js';

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
 * x + nx·(y + ny·z)). Each point's weight is a product of 1-D factors, so there is no per-voxel
 * exp: one multiply-add per voxel and point at most, as far voxels (exactly-0 factors) are skipped.
 * The map is built row by row (a run along x) with all points summed into a small double-precision
 * row, so the working set stays in cache instead of streaming the whole map once per point.
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
  const pointCount = points.length;
  const rowLength = gridDims[0];
  const rows = gridSize / rowLength;

  // All 1-D factors of all points side by side: point i, axis a starts at i·stride + axisStart[a].
  const axisStart = new Int32Array(dims);
  let stride = 0;
  for (let a = 0; a < dims; a++) {
    axisStart[a] = stride;
    stride += gridDims[a];
  }
  const factors = new Float64Array(pointCount * stride);
  const scaledWeight = new Float64Array(pointCount);
  const spanStart = new Int32Array(pointCount);
  const spanEnd = new Int32Array(pointCount);
  const inverseScale = 1 / (sigmaSpatial * sigmaSpatial);
  for (let i = 0; i < pointCount; i++) {
    scaledWeight[i] = weights[i] / pointCount;
    for (let a = 0; a < dims; a++) {
      const start = i * stride + axisStart[a];
      const factor = factors.subarray(start, start + gridDims[a]);
      gaussianFactorInto(factor, points[i][a], spacing[a], inverseScale);
    }
    // Non-zero span along x; factors far from μ are exactly 0 (see FACTOR_FLUSH_BELOW).
    let x0 = 0;
    let x1 = rowLength;
    while (x0 < x1 && factors[i * stride + x0] === 0) x0++;
    while (x1 > x0 && factors[i * stride + x1 - 1] === 0) x1--;
    spanStart[i] = x0;
    spanEnd[i] = x1;
  }

  // Per row, the points whose row weight is not 0, summed four at a time: one pass over the row
  // per four points instead of one per point. Factors are exactly 0 outside each point's span,
  // so running a group over the union of its spans adds only exact zeros.
  const row = new Float64Array(rowLength);
  const activeWeight = new Float64Array(pointCount);
  const activeBase = new Int32Array(pointCount);
  const activeStart = new Int32Array(pointCount);
  const activeEnd = new Int32Array(pointCount);
  const coord = new Int32Array(dims); // coordinates of the current row on axes 1..dims-1
  for (let r = 0; r < rows; r++) {
    let active = 0;
    for (let i = 0; i < pointCount; i++) {
      const base = i * stride;
      let c = scaledWeight[i];
      for (let a = 1; a < dims; a++) c *= factors[base + axisStart[a] + coord[a]];
      if (c === 0) continue;
      activeWeight[active] = c;
      activeBase[active] = base;
      activeStart[active] = spanStart[i];
      activeEnd[active] = spanEnd[i];
      active++;
    }
    row.fill(0);
    let k = 0;
    for (; k + 4 <= active; k += 4) {
      const c0 = activeWeight[k];
      const c1 = activeWeight[k + 1];
      const c2 = activeWeight[k + 2];
      const c3 = activeWeight[k + 3];
      const b0 = activeBase[k];
      const b1 = activeBase[k + 1];
      const b2 = activeBase[k + 2];
      const b3 = activeBase[k + 3];
      const x0 = Math.min(
        activeStart[k],
        activeStart[k + 1],
        activeStart[k + 2],
        activeStart[k + 3],
      );
      const x1 = Math.max(activeEnd[k], activeEnd[k + 1], activeEnd[k + 2], activeEnd[k + 3]);
      for (let x = x0; x < x1; x++) {
        row[x] +=
          c0 * factors[b0 + x] + c1 * factors[b1 + x] + c2 * factors[b2 + x] + c3 * factors[b3 + x];
      }
    }
    for (; k < active; k++) {
      const c = activeWeight[k];
      const base = activeBase[k];
      const x1 = activeEnd[k];
      for (let x = activeStart[k]; x < x1; x++) row[x] += c * factors[base + x];
    }
    const offset = r * rowLength;
    for (let x = 0; x < rowLength; x++) map[offset + x] = row[x];
    for (let a = 1; a < dims; a++) {
      if (++coord[a] < gridDims[a]) break;
      coord[a] = 0;
    }
  }
  return map;
}
