import { describe, expect, it } from 'vitest';
import {
  aggregateRegions,
  benjaminiHochberg,
  normalizeToMax,
  permutationTest,
  rankRegions,
  shareOfTotal,
} from '../../src/cohort/stats.js';
import { Glas3dError, OptionError } from '../../src/errors.js';
import { mulberry32, normalSampler } from '../../src/model/prng.js';

/** `count` subjects × `regions` scores of independent normal noise (mean `shift`, sd `sd`). */
function normalCohort(
  next: () => number,
  count: number,
  regions: number,
  shift = 0,
  sd = 1,
): Float64Array[] {
  return Array.from({ length: count }, () => {
    const s = new Float64Array(regions);
    for (let r = 0; r < regions; r++) s[r] = shift + sd * next();
    return s;
  });
}

/** Kolmogorov–Smirnov distance between a sample and Uniform(0, 1). */
function ksDistanceToUniform(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  let d = 0;
  sorted.forEach((v, i) => {
    d = Math.max(d, (i + 1) / n - v, v - i / n);
  });
  return d;
}

describe('normalizeToMax', () => {
  it('divides by the subject maximum', () => {
    const input = [2, 4, 1];
    expect([...normalizeToMax(input)]).toEqual([0.5, 1, 0.25]);
    expect(input).toEqual([2, 4, 1]); // input untouched
    expect([...normalizeToMax(new Float32Array([-1, 2, 0]))]).toEqual([-0.5, 1, 0]);
    expect(normalizeToMax([])).toEqual(new Float64Array(0));
  });

  it('gives all zeros when the maximum is not positive', () => {
    expect([...normalizeToMax([-3, -1, -2])]).toEqual([0, 0, 0]);
    expect([...normalizeToMax([0, 0])]).toEqual([0, 0]);
  });

  it('throws on a NaN or infinite score instead of hiding it', () => {
    expect(() => normalizeToMax([1, NaN, 2])).toThrow(Glas3dError);
    expect(() => normalizeToMax([1, Infinity])).toThrow(/index 1 is Infinity/);
    expect(() => normalizeToMax([-Infinity, 1])).toThrow(Glas3dError);
  });
});

describe('shareOfTotal', () => {
  it('divides by the sum; zeros for a sum ≤ 0; throws on NaN', () => {
    expect([...shareOfTotal([2, 4, 2])]).toEqual([0.25, 0.5, 0.25]);
    expect([...shareOfTotal([0, 0])]).toEqual([0, 0]);
    expect(() => shareOfTotal([1, NaN])).toThrow(/index 1 is NaN/);
  });

  it('a region that is every subject’s strongest still differs between groups (by max it cannot)', () => {
    // Region 0 is the top region of all 16 subjects; in the first group it holds 10 of 12 units of
    // evidence (83%), in the second 3 of 5 (60%).
    const next = normalSampler(4);
    const subject = (top: number) => [top + 0.1 * next(), 1 + 0.1 * next(), 1 + 0.1 * next()];
    const a = Array.from({ length: 8 }, () => subject(10));
    const b = Array.from({ length: 8 }, () => subject(3));
    const byMax = permutationTest(a.map(normalizeToMax), b.map(normalizeToMax));
    expect(byMax.difference[0]).toBe(0);
    expect(byMax.p[0]).toBe(1);
    const byShare = permutationTest(a.map(shareOfTotal), b.map(shareOfTotal));
    expect(byShare.difference[0]).toBeCloseTo(10 / 12 - 3 / 5, 1);
    expect(byShare.p[0]).toBeLessThan(0.001);
  });
});

describe('rankRegions', () => {
  it('ranks 1 = highest, ties by region order, NaN last', () => {
    expect([...rankRegions([0.2, 0.9, 0.2, NaN, 1])]).toEqual([3, 2, 4, 5, 1]);
    expect([...rankRegions([5, 5, 5])]).toEqual([1, 2, 3]);
  });
});

describe('aggregateRegions', () => {
  // Raw [2,4,1], [3,3,6], [0,5,5] normalize to [.5,1,.25], [.5,.5,1], [0,1,1].
  const tiny = [
    [2, 4, 1],
    [3, 3, 6],
    [0, 5, 5],
  ].map(normalizeToMax);

  it('gives hand-computed means and sample sds', () => {
    const agg = aggregateRegions(tiny, { bootstrap: 200 });
    expect(agg.map((a) => a.index)).toEqual([0, 1, 2]);
    expect(agg.every((a) => a.n === 3)).toBe(true);
    // Means: (.5+.5+0)/3, (1+.5+1)/3, (.25+1+1)/3.
    expect(agg[0].mean).toBeCloseTo(1 / 3, 14);
    expect(agg[1].mean).toBeCloseTo(5 / 6, 14);
    expect(agg[2].mean).toBeCloseTo(0.75, 14);
    // Region 0: deviations 1/6, 1/6, −1/3 → Σd² = 1/6, /(n−1) = 1/12. Region 1 likewise.
    // Region 2: deviations −.5, .25, .25 → Σd² = .375, /2 = .1875.
    expect(agg[0].sd).toBeCloseTo(Math.sqrt(1 / 12), 14);
    expect(agg[1].sd).toBeCloseTo(Math.sqrt(1 / 12), 14);
    expect(agg[2].sd).toBeCloseTo(Math.sqrt(0.1875), 14);
    for (const a of agg) {
      expect(a.ciLow).toBeLessThanOrEqual(a.mean);
      expect(a.ciHigh).toBeGreaterThanOrEqual(a.mean);
    }
    // Region 0's values are {.5, .5, 0}: any resample mean lies in [0, .5].
    expect(agg[0].ciLow).toBeGreaterThanOrEqual(0);
    expect(agg[0].ciHigh).toBeLessThanOrEqual(0.5);
  });

  it('handles a single subject: sd and CI NaN (one subject gives no spread, not a certain mean)', () => {
    const [a, b] = aggregateRegions([new Float64Array([0.3, 1])], { topK: 1 });
    expect(a).toEqual({
      index: 0,
      n: 1,
      mean: 0.3,
      sd: NaN,
      ciLow: NaN,
      ciHigh: NaN,
      topKFraction: 0,
    });
    expect(b).toMatchObject({ mean: 1, ciLow: NaN, ciHigh: NaN, topKFraction: 1 });
  });

  it('counts top-K membership with ties broken by region order', () => {
    const subjects = [
      [0.5, 1, 0.5, 0.2, 0], // top 2: region 1, then region 0 (ties with 2, comes first)
      [0, 0.3, 1, 0.3, 0.3], // top 2: region 2, then region 1 (ties with 3 and 4)
      [1, 1, 1, 1, 1], // all tied: regions 0 and 1
    ].map((s) => Float64Array.from(s));
    const fractions = aggregateRegions(subjects, { topK: 2, bootstrap: 10 }).map(
      (a) => a.topKFraction,
    );
    expect(fractions).toEqual([2 / 3, 1, 1 / 3, 0, 0]);
    const all = aggregateRegions(subjects, { topK: 9, bootstrap: 10 }).map((a) => a.topKFraction);
    expect(all).toEqual([1, 1, 1, 1, 1]);
  });

  it('gives a bootstrap CI of width ≈ 2·1.96·sd/√n for a large normal sample', () => {
    const n = 400;
    const sds = [1, 0.5, 2];
    const next = normalSampler(11);
    const subjects = Array.from({ length: n }, () =>
      Float64Array.from(sds, (sd) => 3 + sd * next()),
    );
    const agg = aggregateRegions(subjects, { seed: 5 });
    agg.forEach((a) => {
      const expected = (2 * 1.96 * a.sd) / Math.sqrt(n);
      const width = a.ciHigh - a.ciLow;
      expect(Math.abs(width / expected - 1)).toBeLessThan(0.15);
      expect(a.ciLow).toBeLessThan(a.mean);
      expect(a.ciHigh).toBeGreaterThan(a.mean);
    });
  });

  it('covers the true mean about 95% of the time (200 independent regions, n = 30)', () => {
    const regions = 200;
    const subjects = normalCohort(normalSampler(21), 30, regions);
    const agg = aggregateRegions(subjects, { seed: 3 });
    const covered = agg.filter((a) => a.ciLow <= 0 && 0 <= a.ciHigh).length / regions;
    // Percentile bootstrap runs slightly narrow at n = 30 (~93%); sd of the fraction ≈ 0.018.
    expect(covered).toBeGreaterThan(0.87);
    expect(covered).toBeLessThan(0.995);
  });

  it('narrows the interval for a lower confidence level', () => {
    const subjects = normalCohort(normalSampler(4), 50, 4);
    const wide = aggregateRegions(subjects, { confidence: 0.95 });
    const narrow = aggregateRegions(subjects, { confidence: 0.5 });
    wide.forEach((w, r) => {
      expect(narrow[r].ciHigh - narrow[r].ciLow).toBeLessThan(w.ciHigh - w.ciLow);
    });
  });

  it('is deterministic for a seed and differs for another', () => {
    const subjects = normalCohort(normalSampler(9), 25, 6);
    const a = aggregateRegions(subjects, { seed: 42 });
    const b = aggregateRegions(subjects, { seed: 42 });
    const c = aggregateRegions(subjects, { seed: 43 });
    expect(b).toEqual(a);
    expect(c.map((x) => x.ciLow)).not.toEqual(a.map((x) => x.ciLow));
    expect(c.map((x) => x.mean)).toEqual(a.map((x) => x.mean));
  });

  it('rejects bad input and options', () => {
    const one = [new Float64Array([1, 2])];
    expect(() => aggregateRegions([])).toThrow(OptionError);
    expect(() => aggregateRegions([new Float64Array([1, 2]), new Float64Array([1])])).toThrow(
      /subject 1 has 1 region scores/,
    );
    expect(() => aggregateRegions([new Float64Array([1, NaN])])).toThrow(Glas3dError);
    expect(() => aggregateRegions(one, { bootstrap: 0 })).toThrow(OptionError);
    expect(() => aggregateRegions(one, { topK: 1.5 })).toThrow(OptionError);
    expect(() => aggregateRegions(one, { confidence: 1 })).toThrow(OptionError);
    expect(() => aggregateRegions(one, { seed: 0.5 })).toThrow(OptionError);
  });
});

describe('permutationTest', () => {
  it('reports meanA − meanB per region', () => {
    const a = [new Float64Array([1, 0]), new Float64Array([3, 0])];
    const b = [new Float64Array([0, 1]), new Float64Array([1, 2]), new Float64Array([2, 3])];
    const { difference, p } = permutationTest(a, b, { permutations: 100 });
    expect(difference[0]).toBeCloseTo(2 - 1, 14);
    expect(difference[1]).toBeCloseTo(0 - 2, 14);
    expect(p.length).toBe(2);
  });

  it('uses 5000 relabelings by default (smallest p = 1/5001)', () => {
    const a = normalCohort(normalSampler(1), 10, 2, 100);
    const b = normalCohort(normalSampler(2), 10, 2, 0);
    const { p } = permutationTest(a, b);
    expect([...p]).toEqual([1 / 5001, 1 / 5001]);
    // Identical groups: every relabeling ties the observed difference of 0.
    const same = normalCohort(normalSampler(3), 4, 2);
    expect([...permutationTest(same, same, { permutations: 50 }).p]).toEqual([1, 1]);
  });

  it('agrees with the exact p-value from enumerating all 70 relabelings of 4 vs 4', () => {
    const a = [
      [0.9, 2.0],
      [1.4, 2.5],
      [0.2, 1.7],
      [1.1, 2.2],
    ].map((s) => Float64Array.from(s));
    const b = [
      [0.1, 1.9],
      [0.5, 1.2],
      [-0.3, 1.6],
      [0.8, 2.4],
    ].map((s) => Float64Array.from(s));
    const all = [...a, ...b];
    const observed = permutationTest(a, b, { permutations: 20000, seed: 8 });
    for (let r = 0; r < 2; r++) {
      const mean = (xs: Float64Array[]) => xs.reduce((s, x) => s + x[r], 0) / xs.length;
      const d = Math.abs(mean(a) - mean(b));
      let extreme = 0;
      let total = 0;
      for (let mask = 0; mask < 256; mask++) {
        if (mask.toString(2).replace(/0/g, '').length !== 4) continue;
        const inA = all.filter((_, i) => mask & (1 << i));
        const inB = all.filter((_, i) => !(mask & (1 << i)));
        total++;
        if (Math.abs(mean(inA) - mean(inB)) >= d - 1e-12) extreme++;
      }
      expect(total).toBe(70);
      // sd of the Monte Carlo estimate ≤ 0.0036 at 20000 relabelings.
      expect(Math.abs(observed.p[r] - extreme / total)).toBeLessThan(0.015);
    }
  });

  it('gives roughly uniform p-values under the null (200 repetitions × 20 regions, 12 vs 12)', () => {
    const next = normalSampler(2024);
    const ps: number[] = [];
    for (let rep = 0; rep < 200; rep++) {
      const a = normalCohort(next, 12, 20);
      const b = normalCohort(next, 12, 20);
      ps.push(...permutationTest(a, b, { permutations: 999, seed: rep + 1 }).p);
    }
    const below = (t: number) => ps.filter((p) => p < t).length / ps.length;
    expect(below(0.05)).toBeGreaterThanOrEqual(0.02);
    expect(below(0.05)).toBeLessThanOrEqual(0.09);
    expect(below(0.5)).toBeGreaterThanOrEqual(0.42);
    expect(below(0.5)).toBeLessThanOrEqual(0.58);
    // 1.63/√N is the 1% KS critical value for N independent draws (0.026 for N = 4000); allow
    // a little more for the p-value grid (steps of 0.001) and relabelings shared within a repetition.
    expect(ksDistanceToUniform(ps)).toBeLessThan(0.03);
  });

  it('detects a planted 1.5 sd difference in that region only (12 vs 12)', () => {
    const next = normalSampler(77);
    const a = normalCohort(next, 12, 20);
    const b = normalCohort(next, 12, 20);
    // Region 0: standardize each group to mean 0, sd 1, then shift A by 1.5, so the sample effect
    // is exactly 1.5 pooled sd (t = 1.5·√6 ≈ 3.67 on 22 df, two-sided p ≈ 0.0013).
    for (const [group, shift] of [
      [a, 1.5],
      [b, 0],
    ] as const) {
      const values = group.map((s) => s[0]);
      const m = values.reduce((s, x) => s + x, 0) / values.length;
      const sd = Math.sqrt(values.reduce((s, x) => s + (x - m) ** 2, 0) / (values.length - 1));
      group.forEach((s) => (s[0] = shift + (s[0] - m) / sd));
    }
    const { difference, p } = permutationTest(a, b, { seed: 5 });
    expect(difference[0]).toBeCloseTo(1.5, 12);
    expect(p[0]).toBeLessThan(0.01);
    const nullAbove = [...p.subarray(1)].filter((x) => x > 0.05).length;
    expect(nullAbove).toBeGreaterThanOrEqual(16); // 19 null regions, ~18 expected above 0.05
  });

  it('has the power a 1.5 sd shift should give, across 40 random cohorts', () => {
    const next = normalSampler(99);
    let planted = 0;
    let falseAlarms = 0;
    const reps = 40;
    for (let rep = 0; rep < reps; rep++) {
      const a = normalCohort(next, 12, 10);
      const b = normalCohort(next, 12, 10);
      a.forEach((s) => (s[0] += 1.5));
      const { p } = permutationTest(a, b, { permutations: 2000, seed: rep + 1 });
      if (p[0] < 0.01) planted++;
      falseAlarms += [...p.subarray(1)].filter((x) => x < 0.05).length;
    }
    // t-test power at α = 0.01 for δ = 1.5, 12 vs 12 is ≈ 0.8; the permutation test is close.
    expect(planted / reps).toBeGreaterThan(0.6);
    expect(falseAlarms / (reps * 9)).toBeLessThan(0.1);
  });

  it('is deterministic for a seed', () => {
    const a = normalCohort(normalSampler(5), 8, 5);
    const b = normalCohort(normalSampler(6), 9, 5);
    const x = permutationTest(a, b, { permutations: 500, seed: 3 });
    expect(permutationTest(a, b, { permutations: 500, seed: 3 })).toEqual(x);
    expect(permutationTest(a, b, { permutations: 500, seed: 4 }).p).not.toEqual(x.p);
  });

  it('rejects bad input and options', () => {
    const g = [new Float64Array([1, 2])];
    expect(() => permutationTest([], g)).toThrow(/group A has no subjects/);
    expect(() => permutationTest(g, [new Float64Array([1])])).toThrow(OptionError);
    expect(() => permutationTest(g, g, { permutations: 0 })).toThrow(OptionError);
  });
});

describe('benjaminiHochberg', () => {
  it('matches a hand-computed example', () => {
    // Sorted: 0.005 (rank 1), 0.01 (2), 0.03 (3), 0.04 (4); m = 4.
    // m·p/rank: 0.02, 0.02, 0.04, 0.04; running minimum from the top: 0.02, 0.02, 0.04, 0.04.
    const q = benjaminiHochberg([0.01, 0.04, 0.03, 0.005]);
    const expected = [0.02, 0.04, 0.04, 0.02];
    expected.forEach((e, i) => expect(q[i]).toBeCloseTo(e, 15));
  });

  it('keeps NaN, leaves it out of m, and caps at 1', () => {
    const q = benjaminiHochberg([NaN, 0.5, 0.9, NaN]);
    expect(q[0]).toBeNaN();
    expect(q[3]).toBeNaN();
    // m = 2: 0.5·2/1 = 1 and 0.9·2/2 = 0.9 → running minimum 0.9, 0.9.
    expect(q[1]).toBeCloseTo(0.9, 15);
    expect(q[2]).toBeCloseTo(0.9, 15);
    expect([...benjaminiHochberg([1, 1])]).toEqual([1, 1]);
    expect(benjaminiHochberg([])).toEqual(new Float64Array(0));
    expect(() => benjaminiHochberg([0.2, 1.2])).toThrow(OptionError);
    expect(() => benjaminiHochberg([-0.1])).toThrow(OptionError);
  });

  it('agrees with a brute-force implementation on random p-values with ties and NaN', () => {
    const uniform = mulberry32(31);
    for (let trial = 0; trial < 50; trial++) {
      const size = 1 + Math.floor(uniform() * 40);
      const p = Array.from({ length: size }, () => {
        const u = uniform();
        if (u < 0.1) return NaN;
        return u < 0.3 ? Math.round(uniform() * 20) / 20 : uniform() ** 3; // ties; small p
      });
      const tested = p.filter((x) => !Number.isNaN(x));
      const m = tested.length;
      // q_i = min over p_j ≥ p_i of m·p_j / #{p_k ≤ p_j}, capped at 1.
      const brute = p.map((pi) => {
        if (Number.isNaN(pi)) return NaN;
        let best = 1;
        for (const pj of tested) {
          if (pj < pi) continue;
          const rank = tested.filter((pk) => pk <= pj).length;
          best = Math.min(best, (m * pj) / rank);
        }
        return best;
      });
      const q = benjaminiHochberg(p);
      brute.forEach((b, i) => {
        if (Number.isNaN(b)) expect(q[i]).toBeNaN();
        else expect(q[i]).toBeCloseTo(b, 14);
      });
      // The step-up procedure at level α rejects exactly the p with q ≤ α.
      for (const alpha of [0.01, 0.05, 0.2]) {
        const sorted = [...tested].sort((x, y) => x - y);
        let k = 0;
        sorted.forEach((x, i) => {
          if (x <= ((i + 1) * alpha) / m) k = i + 1;
        });
        const cutoff = k > 0 ? sorted[k - 1] : -1;
        p.forEach((x, i) => {
          if (Number.isNaN(x)) return;
          expect(q[i] <= alpha + 1e-15).toBe(x <= cutoff);
        });
      }
    }
  });
});
