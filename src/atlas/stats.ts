/**
 * Atlases meet maps: summary statistics of a map over each region, and atlases moved onto
 * another grid. Labels are always resampled nearest-neighbour, through world coordinates.
 */
import { AtlasError } from '../errors.js';
import { resample } from '../volume/resample.js';
import { sameGrid, type Grid, type Volume } from '../volume/volume.js';
import { atlasFromVolume, type Atlas, type Region } from './atlas.js';
import type { Hemisphere } from './hemisphere.js';

export interface RegionStats {
  index: number;
  name: string;
  hemisphere: Hemisphere;
  /** Voxels of the map's grid inside the region (after resampling the labels onto it). */
  voxels: number;
  /** Mean, max, min, sum and median of the map over those voxels; NaN (sum 0) when the
   *  region has no voxel on the map's grid. The median of an even count is the mean of the
   *  two middle values (numpy's rule). */
  mean: number;
  max: number;
  min: number;
  sum: number;
  median: number;
}

/**
 * Statistics of `map` over every region of `atlas`, in the atlas's region order. When the
 * map is on another grid than the atlas, the labels are resampled (nearest) onto the map's
 * grid first, so every map voxel counts once. The map should be finite (readVolume refuses
 * NaN/Inf by default); a NaN in a region makes that region's mean and sum NaN.
 */
export function regionStats(atlas: Atlas, map: Volume): RegionStats[] {
  const labels = sameGrid(atlas.labels, map)
    ? atlas.labels.data
    : resample(atlas.labels, map, 'nearest').data;
  const values = map.data;
  const n = atlas.regions.length;
  const slotOf = new Map(atlas.regions.map((r, s) => [r.index, s]));
  const count = new Float64Array(n);
  const sum = new Float64Array(n);
  const max = new Float64Array(n).fill(-Infinity);
  const min = new Float64Array(n).fill(Infinity);
  // Pass 1: counts and running sums (labels come in runs: look the slot up on change only).
  const slots = new Int32Array(labels.length).fill(-1);
  let prev = 0;
  let slot = -1;
  for (let p = 0; p < labels.length; p++) {
    const l = labels[p];
    if (l !== prev) {
      prev = l;
      slot = l === 0 ? -1 : (slotOf.get(l) ?? -1);
    }
    if (slot < 0) continue;
    slots[p] = slot;
    const v = values[p];
    count[slot]++;
    sum[slot] += v;
    if (v > max[slot]) max[slot] = v;
    if (v < min[slot]) min[slot] = v;
  }
  // Pass 2: gather each region's values into its own contiguous run; the median is then a
  // selection in that run (linear time; a full sort of every region was 10× slower on AAL).
  const start = new Float64Array(n + 1);
  for (let s = 0; s < n; s++) start[s + 1] = start[s] + count[s];
  const fill = start.slice(0, n);
  const gathered = new Float32Array(start[n]);
  for (let p = 0; p < slots.length; p++) {
    const s = slots[p];
    if (s >= 0) gathered[fill[s]++] = values[p];
  }
  return atlas.regions.map((r, s) => {
    const c = count[s];
    let median = NaN;
    if (c > 0 && Number.isFinite(sum[s])) {
      median = medianInPlace(gathered.subarray(start[s], start[s + 1]));
    }
    return {
      index: r.index,
      name: r.name,
      hemisphere: r.hemisphere,
      voxels: c,
      mean: c > 0 ? sum[s] / c : NaN,
      max: c > 0 ? max[s] : NaN,
      min: c > 0 ? min[s] : NaN,
      sum: sum[s],
      median,
    };
  });
}

/**
 * The atlas with its labels resampled (nearest) onto `grid`, regions recomputed there.
 * Regions too small to keep a voxel on the new grid are left out, each named in `notes`.
 * The same atlas is returned when it is already on that grid.
 */
export function atlasOnGrid(atlas: Atlas, grid: Grid): Atlas {
  if (sameGrid(atlas.labels, grid)) return atlas;
  const labels = resample(atlas.labels, grid, 'nearest');
  const moved = atlasFromVolume(
    labels,
    atlas.regions.map((r) => ({ index: r.index, name: r.name })),
    { name: atlas.name, source: atlas.source, template: atlas.template },
  );
  if (moved.regions.length === 0)
    throw new AtlasError(
      `atlas ${atlas.name} (${atlas.source.labels}) has no region on the ${grid.dims.join('×')} grid of the data: they do not overlap in world space. Check that the data and the atlas are in the same space (their affines: glas3d info FILE).`,
    );
  const kept = new Set(moved.regions.map((r) => r.index));
  const vanished = atlas.regions.filter((r) => !kept.has(r.index));
  const notes = [
    ...atlas.notes,
    `labels resampled (nearest) from ${atlas.labels.dims.join('×')} onto ${grid.dims.join('×')}.`,
  ];
  if (vanished.length > 0) {
    notes.push(
      `${vanished.length} region(s) have no voxel on the ${grid.dims.join('×')} grid and were left out: ${vanished.map((r) => `${r.name} (${r.index})`).join(', ')}.`,
    );
  }
  return { ...moved, notes };
}

/** The regions of `atlas` that `onGrid` (atlasOnGrid of it) lost: no voxel on that grid. */
export function regionsLost(atlas: Atlas, onGrid: Atlas): Region[] {
  const kept = new Set(onGrid.regions.map((r) => r.index));
  return atlas.regions.filter((r) => !kept.has(r.index));
}

/** The median of `a` (reordering it): quickselect for the upper middle; for an even length,
 *  the lower middle is then the largest value before it. */
export function medianInPlace(a: Float32Array | Float64Array): number {
  const n = a.length;
  if (n === 0) return NaN;
  const k = n >> 1;
  const upper = selectInPlace(a, k);
  if (n % 2 === 1) return upper;
  let lower = -Infinity;
  for (let i = 0; i < k; i++) if (a[i] > lower) lower = a[i];
  return (lower + upper) / 2;
}

/**
 * Hoare quickselect: reorders `a` so that a[k] is the k-th smallest, everything before it
 * ≤ a[k] and everything after ≥ a[k]; returns a[k]. Values must not be NaN.
 */
function selectInPlace(a: Float32Array | Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three as pivot: sorted inputs (common: constant or smooth regions) stay linear.
    const x = a[lo];
    const y = a[mid];
    const z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    // Now a[lo..j] ≤ pivot, a[j+1..i-1] = pivot, a[i..hi] ≥ pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}
