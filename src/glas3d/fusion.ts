import type { FuseRow } from './fusion-kernel.js';
import { createFusionKernel } from './fusion-kernel.js';
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
 * exp: S is built row by row (a run along x), each row a sum of x profiles scaled by the product
 * of the point's other factors at that row. Points that share their coordinates on every axis but
 * x share those row weights, so their weighted x profiles are summed once (a 15×15 grid of points
 * makes 15 profiles, not 225). Rows are summed in double precision by a WebAssembly SIMD kernel
 * (fusion-kernel.ts), or in JS where that is missing or `kernel: false`; far voxels whose factors
 * are exactly 0 (see FACTOR_FLUSH_BELOW) are skipped.
 */
export function fuseMap(
  input: FusionInput,
  out?: Float32Array,
  options: { readonly kernel?: boolean } = {},
): Float32Array {
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

  // The 1-D factors, one per distinct coordinate on each axis (a grid of points has few):
  // point i's factor on axis a starts at table[factorAt[i·dims + a]].
  const factorAt = new Int32Array(pointCount * dims);
  const known = new Map<string, number>();
  let tableLength = 0;
  for (let i = 0; i < pointCount; i++) {
    for (let a = 0; a < dims; a++) {
      const key = `${a} ${points[i][a]}`;
      let at = known.get(key);
      if (at === undefined) {
        at = tableLength;
        known.set(key, at);
        tableLength += gridDims[a];
      }
      factorAt[i * dims + a] = at;
    }
  }
  const table = new Float64Array(tableLength);
  const inverseScale = 1 / (sigmaSpatial * sigmaSpatial);
  for (const [key, at] of known) {
    const [a, mu] = key.split(' ').map(Number);
    gaussianFactorInto(table.subarray(at, at + gridDims[a]), mu, spacing[a], inverseScale);
  }

  // Groups of points with the same coordinates on axes 1…: one x profile each.
  const groupOf = new Map<string, number>();
  const groupPoint: number[] = []; // a point of each group, for its row factors
  const pointGroup = new Int32Array(pointCount);
  for (let i = 0; i < pointCount; i++) {
    const key = points[i].slice(1).join(' ');
    let g = groupOf.get(key);
    if (g === undefined) {
      g = groupPoint.push(i) - 1;
      groupOf.set(key, g);
    }
    pointGroup[i] = g;
  }
  const groups = groupPoint.length;

  const scratch = fusionScratch(groups, rowLength, options.kernel !== false);
  const { profiles, entryWeight, entryProfile, rowOut } = scratch;
  profiles.fill(0, 0, groups * rowLength);
  // Per group, the run of x where its profile may be non-zero (factors are exactly 0 outside).
  const groupStart = new Int32Array(groups).fill(rowLength);
  const groupEnd = new Int32Array(groups);
  for (let i = 0; i < pointCount; i++) {
    const g = pointGroup[i];
    const w = weights[i] / pointCount;
    const base = factorAt[i * dims];
    let x0 = 0;
    let x1 = rowLength;
    while (x0 < x1 && table[base + x0] === 0) x0++;
    while (x1 > x0 && table[base + x1 - 1] === 0) x1--;
    for (let x = x0; x < x1; x++) profiles[g * rowLength + x] += w * table[base + x];
    if (x0 < x1) {
      groupStart[g] = Math.min(groupStart[g], x0);
      groupEnd[g] = Math.max(groupEnd[g], x1);
    }
  }

  // Rows come in planes: a run of ny rows (axis 1) at fixed coordinates on axes 2…. Per plane,
  // the live groups and the product of their factors on axes 2…; per row, times the y factor.
  const ny = dims > 1 ? gridDims[1] : 1;
  const planeGroup = new Int32Array(groups);
  const planeWeight = new Float64Array(groups);
  const planeY = new Int32Array(groups); // where each listed group's y factor starts in `table`
  const coord = new Int32Array(dims); // coordinates of the current plane on axes 2..dims-1
  for (let plane = 0; plane < rows / ny; plane++) {
    let live = 0;
    let x0 = rowLength;
    let x1 = 0;
    for (let g = 0; g < groups; g++) {
      if (groupStart[g] >= groupEnd[g]) continue;
      const first = groupPoint[g] * dims;
      let w = 1;
      for (let a = 2; a < dims; a++) w *= table[factorAt[first + a] + coord[a]];
      if (w === 0) continue;
      planeGroup[live] = g;
      planeWeight[live] = w;
      planeY[live] = dims > 1 ? factorAt[first + 1] : -1;
      live++;
      // One x run for the whole plane: the union of the live groups' runs (outside a group's run
      // its profile is exactly 0, so a wider run adds only zeros).
      if (groupStart[g] < x0) x0 = groupStart[g];
      if (groupEnd[g] > x1) x1 = groupEnd[g];
    }
    for (let y = 0; y < ny; y++) {
      let count = 0;
      for (let k = 0; k < live; k++) {
        const c = planeY[k] < 0 ? planeWeight[k] : planeWeight[k] * table[planeY[k] + y];
        if (c === 0) continue;
        entryWeight[2 * count] = c;
        entryProfile[4 * count + 2] = scratch.profilesAddress + planeGroup[k] * rowLength * 8;
        count++;
      }
      scratch.fuseRow(count, count > 0 ? x0 : 0, count > 0 ? x1 : 0);
      map.set(rowOut, (plane * ny + y) * rowLength);
    }
    for (let a = 2; a < dims; a++) {
      if (++coord[a] < gridDims[a]) break;
      coord[a] = 0;
    }
  }
  return map;
}

/** Views on fuseMap's scratch memory, and the row function that reads them. */
interface FusionScratch {
  /** Group g's x profile at [g·rowLength, (g + 1)·rowLength). */
  readonly profiles: Float64Array;
  /** Byte address of profiles[0] in the scratch memory. */
  readonly profilesAddress: number;
  /** Row list entries of 16 bytes: c_k at entryWeight[2k], profile address at entryProfile[4k + 2]. */
  readonly entryWeight: Float64Array;
  readonly entryProfile: Int32Array;
  readonly acc: Float64Array;
  /** The row fuseRow writes, float32. */
  readonly rowOut: Float32Array;
  /** rowOut[x] = Σ_k c_k·profile_k[x] for x in [x0, x1) over the first `count` entries, else 0. */
  fuseRow(count: number, x0: number, x1: number): void;
}

/** One scratch memory, kept for the next map: fresh WebAssembly memory costs page faults. */
let kept: { readonly buffer: ArrayBuffer; readonly fuseRow: FuseRow | null } | undefined;

function fusionScratch(groups: number, rowLength: number, useKernel: boolean): FusionScratch {
  // profiles | list entries | acc | rowOut, each 16-aligned
  const align = (n: number) => Math.ceil(n / 16) * 16;
  const listAt = align(groups * rowLength * 8);
  const accAt = listAt + align(groups * 16);
  const rowAt = accAt + align(rowLength * 8);
  const bytes = rowAt + rowLength * 4;
  if (!kept || (kept.fuseRow !== null) !== useKernel || kept.buffer.byteLength < bytes) {
    const kernel = useKernel ? createFusionKernel(bytes) : null;
    kept = kernel ?? { buffer: new ArrayBuffer(bytes), fuseRow: null };
  }
  const { buffer, fuseRow } = kept;
  const scratch: FusionScratch = {
    profiles: new Float64Array(buffer, 0, groups * rowLength),
    profilesAddress: 0,
    entryWeight: new Float64Array(buffer, listAt, 2 * groups),
    entryProfile: new Int32Array(buffer, listAt, 4 * groups),
    acc: new Float64Array(buffer, accAt, rowLength),
    rowOut: new Float32Array(buffer, rowAt, rowLength),
    fuseRow: fuseRow
      ? (count, x0, x1) => fuseRow(listAt, count, accAt, rowAt, rowLength, x0, x1)
      : (count, x0, x1) => fuseRowJs(scratch, count, x0, x1),
  };
  return scratch;
}

/** fuseRow in plain JS, four entries per pass over the row like the kernel. */
function fuseRowJs(scratch: FusionScratch, count: number, x0: number, x1: number): void {
  const { profiles, entryWeight, entryProfile, acc, rowOut } = scratch;
  acc.fill(0, x0, x1);
  let k = 0;
  const at = (e: number) => (entryProfile[4 * e + 2] - scratch.profilesAddress) / 8;
  for (; k + 4 <= count; k += 4) {
    const [c0, c1, c2, c3] = [0, 1, 2, 3].map((i) => entryWeight[2 * (k + i)]);
    const [b0, b1, b2, b3] = [0, 1, 2, 3].map((i) => at(k + i));
    for (let x = x0; x < x1; x++) {
      acc[x] +=
        c0 * profiles[b0 + x] +
        c1 * profiles[b1 + x] +
        c2 * profiles[b2 + x] +
        c3 * profiles[b3 + x];
    }
  }
  for (; k < count; k++) {
    const c = entryWeight[2 * k];
    const b = at(k);
    for (let x = x0; x < x1; x++) acc[x] += c * profiles[b + x];
  }
  rowOut.fill(0);
  for (let x = x0; x < x1; x++) rowOut[x] = acc[x];
}
