/**
 * Cohort statistics for `glas3d run`: each subject gives one score per atlas region (all subjects in
 * the same region order); these functions summarise regions across subjects and compare groups.
 * Pure functions on arrays: no files, no printing. Randomness comes from the seeded mulberry32, so
 * a seed fixes every bootstrap and permutation result.
 */
import { Glas3dError, OptionError } from '../errors.js';
import { mulberry32 } from '../model/prng.js';

/** One region's summary over a cohort; `index` is the region's position in the score arrays. */
export interface RegionAggregate {
  index: number;
  /** Number of subjects. */
  n: number;
  mean: number;
  /** Sample standard deviation (divisor n − 1); NaN when n = 1. */
  sd: number;
  /**
   * Percentile-bootstrap confidence interval of the mean; NaN when n = 1 (resampling one subject
   * gives it back every time: a zero-width interval would claim a certainty one subject lacks).
   */
  ciLow: number;
  ciHigh: number;
  /** Fraction of subjects in which this region is among their `topK` highest scores. */
  topKFraction: number;
}

export interface AggregateOptions {
  /** Bootstrap replicates (default 2000). */
  bootstrap?: number;
  /** Seed of the resampling (default 1). */
  seed?: number;
  /** How many top regions per subject count for `topKFraction` (default 10). */
  topK?: number;
  /** Confidence level of the interval, in (0, 1) (default 0.95). */
  confidence?: number;
}

export interface PermutationOptions {
  /** Random relabelings (default 5000). */
  permutations?: number;
  /** Seed of the relabelings (default 1). */
  seed?: number;
}

export interface PermutationResult {
  /** meanA − meanB per region. */
  difference: Float64Array;
  /** Two-sided permutation p-value per region, (1 + #{|d*| ≥ |d|}) / (1 + permutations). */
  p: Float64Array;
}

/**
 * A subject's scores divided by that subject's maximum, so the top region is 1 and subjects whose
 * raw scores differ in scale weigh the same in the cohort.
 *
 * A subject whose maximum is ≤ 0 gives all zeros: no region scored above the baseline, so none
 * stands out, and dividing by a negative maximum would reverse the order. A NaN or infinite score
 * throws instead of being zeroed, because a silently zeroed subject would bias the cohort mean
 * with no one told.
 */
export function normalizeToMax(scores: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (!Number.isFinite(s)) {
      throw new Glas3dError(`region score at index ${i} is ${s}: scores must be finite numbers`);
    }
    if (s > max) max = s;
  }
  const out = new Float64Array(scores.length);
  if (!(max > 0)) return out;
  for (let i = 0; i < scores.length; i++) out[i] = scores[i] / max;
  return out;
}

/**
 * A subject's scores divided by their sum: each region's share of the subject's evidence (the
 * shares sum to 1). What the group comparison compares: unlike `normalizeToMax`, it pins no
 * region, so a region that is every subject's strongest can still differ between groups (by the
 * maximum it would be 1 in every subject, its difference 0 and p 1 by construction). A subject
 * whose sum is ≤ 0 gives all zeros; a NaN or infinite score throws, as in normalizeToMax.
 */
export function shareOfTotal(scores: ArrayLike<number>): Float64Array {
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (!Number.isFinite(s)) {
      throw new Glas3dError(`region score at index ${i} is ${s}: scores must be finite numbers`);
    }
    sum += s;
  }
  const out = new Float64Array(scores.length);
  if (!(sum > 0)) return out;
  for (let i = 0; i < scores.length; i++) out[i] = scores[i] / sum;
  return out;
}

/**
 * Ranks of scores, 1 = highest. Equal scores are ranked by region order (the earlier region gets
 * the better rank), so ranks are always a permutation of 1..length. NaN ranks below every number.
 */
export function rankRegions(scores: ArrayLike<number>): Int32Array {
  const order = orderByScoreDescending(scores);
  const ranks = new Int32Array(scores.length);
  for (let position = 0; position < order.length; position++) ranks[order[position]] = position + 1;
  return ranks;
}

/**
 * Per-region mean, sample sd, bootstrap confidence interval of the mean and top-K fraction over a
 * cohort of subjects (normally the output of `normalizeToMax`, one array per subject).
 *
 * The interval is a percentile bootstrap over subjects: each replicate draws n whole subjects with
 * replacement and takes every region's mean from that same draw, so the intervals keep the
 * between-region correlation of the data. Quantiles of the replicate means interpolate linearly
 * between order statistics (R's type 7).
 */
export function aggregateRegions(
  subjects: readonly ArrayLike<number>[],
  options: AggregateOptions = {},
): RegionAggregate[] {
  const bootstrap = options.bootstrap ?? 2000;
  const seed = options.seed ?? 1;
  const topK = options.topK ?? 10;
  const confidence = options.confidence ?? 0.95;
  checkPositiveInteger(bootstrap, 'bootstrap replicate count');
  checkSeed(seed);
  checkPositiveInteger(topK, 'top-K');
  if (!(confidence > 0 && confidence < 1)) {
    throw new OptionError(`confidence ${confidence} must lie strictly between 0 and 1`);
  }
  const regions = checkCohort(subjects, 'cohort');
  const n = subjects.length;

  const mean = new Float64Array(regions);
  for (const subject of subjects) for (let r = 0; r < regions; r++) mean[r] += subject[r];
  for (let r = 0; r < regions; r++) mean[r] /= n;

  const sd = new Float64Array(regions);
  if (n === 1) sd.fill(NaN);
  else {
    for (const subject of subjects) {
      for (let r = 0; r < regions; r++) {
        const deviation = subject[r] - mean[r];
        sd[r] += deviation * deviation;
      }
    }
    for (let r = 0; r < regions; r++) sd[r] = Math.sqrt(sd[r] / (n - 1));
  }

  const inTopK = new Float64Array(regions);
  for (const subject of subjects) {
    const ranks = rankRegions(subject);
    for (let r = 0; r < regions; r++) if (ranks[r] <= topK) inTopK[r]++;
  }

  // Replicate means stored region-major, so each region's replicates are one contiguous run to sort.
  const replicateMeans = new Float64Array(regions * bootstrap);
  const sums = new Float64Array(regions);
  const uniform = mulberry32(seed);
  for (let b = 0; b < bootstrap; b++) {
    sums.fill(0);
    for (let draw = 0; draw < n; draw++) {
      const subject = subjects[Math.floor(uniform() * n)];
      for (let r = 0; r < regions; r++) sums[r] += subject[r];
    }
    for (let r = 0; r < regions; r++) replicateMeans[r * bootstrap + b] = sums[r] / n;
  }

  const tail = (1 - confidence) / 2;
  const result: RegionAggregate[] = [];
  for (let r = 0; r < regions; r++) {
    const replicates = replicateMeans.subarray(r * bootstrap, (r + 1) * bootstrap).sort();
    result.push({
      index: r,
      n,
      mean: mean[r],
      sd: sd[r],
      ciLow: n === 1 ? NaN : quantileOfSorted(replicates, tail),
      ciHigh: n === 1 ? NaN : quantileOfSorted(replicates, 1 - tail),
      topKFraction: inTopK[r] / n,
    });
  }
  return result;
}

/**
 * Two-sided permutation test of meanA − meanB, region by region. Each permutation is one random
 * relabeling of all subjects into groups of the original sizes, applied to every region at once.
 *
 * The relabelings are drawn at random (with replacement), never enumerated, even when the groups
 * are so small that there are fewer distinct relabelings than permutations: the p-value
 * (1 + #{|d*| ≥ |d|}) / (1 + permutations) is valid for random relabelings either way (it is never
 * below 1 / (1 + permutations), and never anti-conservative). Differences equal to the observed one
 * up to rounding count as ≥.
 */
export function permutationTest(
  groupA: readonly ArrayLike<number>[],
  groupB: readonly ArrayLike<number>[],
  options: PermutationOptions = {},
): PermutationResult {
  const permutations = options.permutations ?? 5000;
  const seed = options.seed ?? 1;
  checkPositiveInteger(permutations, 'permutation count');
  checkSeed(seed);
  const regions = checkCohort(groupA, 'group A');
  if (checkCohort(groupB, 'group B') !== regions) {
    throw new OptionError(
      `group A has ${regions} regions per subject but group B has ${groupB[0].length}: both groups need the same atlas`,
    );
  }
  const nA = groupA.length;
  const nB = groupB.length;
  const everyone = [...groupA, ...groupB];
  const total = nA + nB;

  const totalSum = new Float64Array(regions);
  const sumA = new Float64Array(regions);
  for (let i = 0; i < total; i++) {
    const subject = everyone[i];
    for (let r = 0; r < regions; r++) totalSum[r] += subject[r];
    if (i < nA) for (let r = 0; r < regions; r++) sumA[r] += subject[r];
  }

  const difference = new Float64Array(regions);
  const threshold = new Float64Array(regions);
  for (let r = 0; r < regions; r++) {
    difference[r] = sumA[r] / nA - (totalSum[r] - sumA[r]) / nB;
    // Slack for rounding: a relabeling that reproduces the observed split sums in another order.
    const scale = Math.abs(totalSum[r]) / total + Math.abs(difference[r]);
    threshold[r] = Math.abs(difference[r]) - 1e-12 * scale;
  }

  // Only the smaller group is summed per permutation; the other group's sum is total − that.
  const drawnIsA = nA <= nB;
  const drawnCount = drawnIsA ? nA : nB;
  const order = new Int32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  const drawnSum = new Float64Array(regions);
  const extreme = new Float64Array(regions);
  const uniform = mulberry32(seed);
  for (let k = 0; k < permutations; k++) {
    // Partial Fisher–Yates: the first drawnCount entries of `order` become a uniform random subset.
    for (let i = 0; i < drawnCount; i++) {
      const j = i + Math.floor(uniform() * (total - i));
      const swap = order[i];
      order[i] = order[j];
      order[j] = swap;
    }
    drawnSum.fill(0);
    for (let i = 0; i < drawnCount; i++) {
      const subject = everyone[order[i]];
      for (let r = 0; r < regions; r++) drawnSum[r] += subject[r];
    }
    for (let r = 0; r < regions; r++) {
      const a = drawnIsA ? drawnSum[r] : totalSum[r] - drawnSum[r];
      const permuted = a / nA - (totalSum[r] - a) / nB;
      if (Math.abs(permuted) >= threshold[r]) extreme[r]++;
    }
  }

  const p = new Float64Array(regions);
  for (let r = 0; r < regions; r++) p[r] = (1 + extreme[r]) / (1 + permutations);
  return { difference, p };
}

/**
 * Benjamini–Hochberg q-values (step-up false discovery rate): q of the i-th smallest of m p-values
 * is min over j ≥ i of m·p(j)/j, capped at 1, so q is monotone in p. NaN p-values stay NaN and do
 * not count in m.
 */
export function benjaminiHochberg(p: ArrayLike<number>): Float64Array {
  const q = new Float64Array(p.length).fill(NaN);
  const tested: number[] = [];
  for (let i = 0; i < p.length; i++) {
    const value = p[i];
    if (Number.isNaN(value)) continue;
    if (!(value >= 0 && value <= 1)) {
      throw new OptionError(`p-value at index ${i} is ${value}: p-values must lie in [0, 1]`);
    }
    tested.push(i);
  }
  tested.sort((a, b) => p[a] - p[b] || a - b);
  const m = tested.length;
  let running = 1;
  for (let position = m - 1; position >= 0; position--) {
    const i = tested[position];
    running = Math.min(running, (m / (position + 1)) * p[i]);
    q[i] = running;
  }
  return q;
}

/** Region indices from highest to lowest score; ties by region order; NaN last. */
function orderByScoreDescending(scores: ArrayLike<number>): Int32Array {
  const order = new Int32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => {
    const sa = scores[a];
    const sb = scores[b];
    const aMissing = Number.isNaN(sa);
    const bMissing = Number.isNaN(sb);
    if (aMissing || bMissing) return aMissing === bMissing ? a - b : aMissing ? 1 : -1;
    return sb - sa || a - b;
  });
}

/** Linear interpolation between order statistics (R type 7) of an ascending array. */
function quantileOfSorted(sorted: Float64Array, probability: number): number {
  const h = (sorted.length - 1) * probability;
  const below = Math.floor(h);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (h - below) * (sorted[above] - sorted[below]);
}

/** Checks subjects are non-empty, equally long and finite; returns the region count. */
function checkCohort(subjects: readonly ArrayLike<number>[], what: string): number {
  if (subjects.length === 0) throw new OptionError(`${what} has no subjects`);
  const regions = subjects[0].length;
  if (regions === 0) throw new OptionError(`${what}: subjects have no region scores`);
  subjects.forEach((subject, s) => {
    if (subject.length !== regions) {
      throw new OptionError(
        `${what}: subject ${s} has ${subject.length} region scores but subject 0 has ${regions}`,
      );
    }
    for (let r = 0; r < regions; r++) {
      if (!Number.isFinite(subject[r])) {
        throw new Glas3dError(`${what}: subject ${s}, region ${r} has score ${subject[r]}`);
      }
    }
  });
  return regions;
}

function checkPositiveInteger(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new OptionError(`${what} ${value} must be a positive integer`);
  }
}

function checkSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new OptionError(`seed ${seed} must be an integer`);
}
