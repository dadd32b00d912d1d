/**
 * The generator's parts on small hand-built inputs, with answers known without the template:
 * seeds, smooth fields, the contraction map (inverse, Jacobian, no folding), the strength solver
 * on a ball, noise, and region names.
 */
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import {
  addNoise,
  atrophiedVolumes,
  closeNames,
  contract,
  contractJacobian,
  deriveSeed,
  evaluateField,
  MAX_STRENGTH,
  regionShapes,
  resolveRegions,
  Rng,
  solveContractions,
  uncontract,
  warpLabels,
  type Contraction,
} from '../../src/synth/index.js';
import type { Region } from '../../src/atlas/index.js';
import type { Volume } from '../../src/volume/index.js';

/** A 2 mm grid of n³ voxels centred on 0 mm with a ball of label 1 (radius r mm) and a shell of
 *  label 2 around it (to radius r2 mm). */
function ballLabels(n: number, r: number, r2: number): Volume {
  const h = (n - 1) / 2;
  const data = new Float32Array(n * n * n);
  let o = 0;
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++, o++) {
        const d = 2 * Math.hypot(i - h, j - h, k - h);
        data[o] = d <= r ? 1 : d <= r2 ? 2 : 0;
      }
    }
  }
  return {
    dims: [n, n, n],
    affine: [
      [2, 0, 0, -2 * h],
      [0, 2, 0, -2 * h],
      [0, 0, 2, -2 * h],
      [0, 0, 0, 1],
    ],
    data,
  };
}

const BALL = ballLabels(41, 16, 26);
const NAMES = [
  { index: 1, name: 'Ball' },
  { index: 2, name: 'Shell' },
];

/** Voxel count of `index` after a nearest-neighbour warp onto a grid `factor` times finer. */
function fineCount(labels: Volume, contractions: Contraction[], index: number, factor: number) {
  const [n] = labels.dims;
  const step = 2 / factor;
  const m = n * factor;
  const start = labels.affine[0][3] - 1 + step / 2;
  const grid = {
    dims: [m, m, m] as [number, number, number],
    affine: [
      [step, 0, 0, start],
      [0, step, 0, start],
      [0, 0, step, start],
      [0, 0, 0, 1],
    ],
  };
  const warped = warpLabels(labels, { contractions }, 'atrophy', grid);
  let count = 0;
  for (const v of warped.data) if (v === index) count++;
  return count / factor ** 3;
}

describe('seeds and draws', () => {
  it('derives stable, distinct 32-bit seeds', () => {
    expect(deriveSeed(1, 'AD', 1)).toBe(deriveSeed(1, 'AD', 1));
    const seeds = new Set<number>();
    for (let s = 0; s < 50; s++) for (const g of ['AD', 'NC']) seeds.add(deriveSeed(s, g, 1));
    expect(seeds.size).toBe(100);
    for (const s of seeds) expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
  });

  it('samples without replacement and repeats itself for a seed', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const a = new Rng(7).sample(items, 5);
    expect(new Set(a).size).toBe(5);
    expect(new Rng(7).sample(items, 5)).toEqual(a);
    expect(new Rng(8).sample(items, 5)).not.toEqual(a);
    const r = new Rng(3);
    for (let i = 0; i < 1000; i++) {
      const v = r.int(2, 4);
      expect(v >= 2 && v <= 4 && Number.isInteger(v)).toBe(true);
    }
  });
});

describe('smooth fields', () => {
  it('evaluates the separable cosine sum as written', () => {
    const field = {
      terms: [
        {
          amplitude: 2,
          cycles: [1, 0.5, 0] as [number, number, number],
          phase: [0.3, 1, 2] as [number, number, number],
        },
        {
          amplitude: -1,
          cycles: [0, 2, 1] as [number, number, number],
          phase: [0, 0, 0.5] as [number, number, number],
        },
      ],
    };
    const dims = [7, 5, 4];
    const v = evaluateField(field, dims);
    for (const [i, j, k] of [
      [0, 0, 0],
      [6, 4, 3],
      [3, 2, 1],
    ]) {
      let want = 0;
      for (const t of field.terms) {
        want +=
          t.amplitude *
          Math.cos((2 * Math.PI * t.cycles[0] * i) / 7 + t.phase[0]) *
          Math.cos((2 * Math.PI * t.cycles[1] * j) / 5 + t.phase[1]) *
          Math.cos((2 * Math.PI * t.cycles[2] * k) / 4 + t.phase[2]);
      }
      expect(v[i + 7 * (j + 5 * k)]).toBeCloseTo(want, 5);
    }
  });
});

describe('noise', () => {
  it('is seeded, leaves weight-0 voxels alone and never goes negative', () => {
    const data = new Float32Array(10_000).fill(100);
    const weight = new Float32Array(10_000).fill(1);
    weight.fill(0, 0, 100);
    const a = Float32Array.from(data);
    const b = Float32Array.from(data);
    addNoise(a, weight, 10, 5);
    addNoise(b, weight, 10, 5);
    expect(a).toEqual(b);
    expect(a.subarray(0, 100).every((v) => v === 100)).toBe(true);
    const rest = a.subarray(100);
    const mean = rest.reduce((s, v) => s + v, 0) / rest.length;
    const sd = Math.sqrt(rest.reduce((s, v) => s + (v - mean) ** 2, 0) / rest.length);
    expect(mean).toBeCloseTo(100, 0);
    expect(sd).toBeGreaterThan(9.5);
    expect(sd).toBeLessThan(10.5);
    const low = new Float32Array(1000).fill(1);
    addNoise(low, new Float32Array(1000).fill(1), 10, 6);
    expect(low.every((v) => v >= 0)).toBe(true);
  });
});

describe('the contraction map', () => {
  it('measures nothing lost without contractions', () => {
    const volumes = atrophiedVolumes(BALL, { contractions: [] });
    let ball = 0;
    let shell = 0;
    for (const v of BALL.data) {
      if (v === 1) ball++;
      if (v === 2) shell++;
    }
    expect(volumes.get(1)).toBe(ball);
    expect(volumes.get(2)).toBe(shell);
  });

  const [ball] = regionShapes(BALL, [NAMES[0]]);

  it('measures the region: centre, support past its edge, box', () => {
    expect(ball.voxels).toBeGreaterThan(2000);
    for (const c of ball.centreMm) expect(Math.abs(c)).toBeLessThan(1e-9);
    // A uniform ball: Mahalanobis radius √5 at its edge; the support reaches 1.25 × q95.
    expect(ball.support).toBeGreaterThan(2.3);
    expect(ball.support).toBeLessThan(3);
  });

  it('inverts exactly and its Jacobian matches finite differences', () => {
    const cs: Contraction[] = [{ shape: ball, strength: 0.6 }];
    const z = new Float64Array(3);
    const g = new Float64Array(9);
    const y = new Float64Array(3);
    for (const p of [
      [3, -4, 5],
      [10, 2, -1],
      [0.5, 0.5, 0.5],
      [-14, 6, 3],
    ]) {
      const det = contractJacobian(cs, p[0], p[1], p[2], z, g);
      const h = 1e-5;
      for (let c = 0; c < 3; c++) {
        const q = [...p];
        q[c] += h;
        const zp = new Float64Array(3);
        contract(cs, q[0], q[1], q[2], zp);
        for (let r = 0; r < 3; r++) expect((zp[r] - z[r]) / h).toBeCloseTo(g[3 * r + c], 4);
      }
      expect(det).toBeGreaterThan(0);
      const detBack = uncontract(cs, z[0], z[1], z[2], y);
      for (let d = 0; d < 3; d++) expect(y[d]).toBeCloseTo(p[d], 6);
      expect(detBack).toBeCloseTo(det, 6);
    }
  });

  it('never folds: every ray from the centre stays monotone up to the largest strength', () => {
    for (const s of [-0.5, MAX_STRENGTH]) {
      const cs: Contraction[] = [{ shape: ball, strength: s }];
      const z = new Float64Array(3);
      const g = new Float64Array(9);
      for (let r = 0.1; r < 30; r += 0.1) {
        expect(contractJacobian(cs, r * 0.6, r * 0.48, r * 0.64, z, g)).toBeGreaterThan(0);
      }
    }
  });

  it('solves the strength so the ball loses the asked fraction, the nearest-neighbour way', () => {
    const shapes = regionShapes(BALL, NAMES);
    for (const loss of [0.02, 0.15, 0.35]) {
      const [solved] = solveContractions(BALL, [{ shape: shapes[0], loss }]);
      expect(solved.achievedLoss).toBeCloseTo(loss, 3);
      expect(solved.strength).toBeGreaterThan(0);
      // Jittered nearest-neighbour sampling sees any loss, even a 2% one (edge moved 0.1 mm)…
      const jittered = atrophiedVolumes(BALL, { contractions: [solved] }).get(1) ?? 0;
      expect(Math.abs(1 - jittered / shapes[0].voxels - loss)).toBeLessThan(0.01);
      // …a regular grid 4× finer only from ~0.25 mm on.
      if (loss < 0.1) continue;
      // Measured independently: labels warped by nearest neighbour on a 4× finer grid.
      const kept = fineCount(BALL, [solved], 1, 4);
      expect(Math.abs(1 - kept / shapes[0].voxels - loss)).toBeLessThan(0.025);
    }
  });

  it('the ball shrinks from its edge, vacated voxels are 0, the shell keeps its volume', () => {
    const shapes = regionShapes(BALL, NAMES);
    const [solved] = solveContractions(BALL, [{ shape: shapes[0], loss: 0.3 }]);
    const out = warpLabels(BALL, { contractions: [solved] }, 'atrophy');
    const [n] = BALL.dims;
    const h = (n - 1) / 2;
    let vacated = 0;
    for (let o = 0; o < out.data.length; o++) {
      const r = 2 * Math.hypot((o % n) - h, (Math.floor(o / n) % n) - h, Math.floor(o / n / n) - h);
      if (out.data[o] === 1) expect(r).toBeLessThanOrEqual(16);
      // It shrinks from its edge: the core stays.
      if (r <= 10) expect(out.data[o]).toBe(1);
      if (BALL.data[o] === 1 && out.data[o] !== 1) {
        expect(out.data[o]).toBe(0);
        vacated++;
      }
    }
    expect(vacated).toBeGreaterThan(0.2 * shapes[0].voxels);
    // Radially, the shell's tissue pulled into the vacated rim is exactly made up by its stretch
    // within the falloff: its volume does not change.
    const shell = fineCount(BALL, [solved], 2, 4) / shapes[1].voxels;
    expect(Math.abs(shell - 1)).toBeLessThan(0.01);
  });
});

describe('region names', () => {
  const regions = [
    'Hippocampus_L',
    'Hippocampus_R',
    'Amygdala_L',
    'Temporal_Inf_L',
    'Temporal_Inf_R',
    'Temporal_Mid_L',
  ].map((name, i) => ({ index: i + 1, name }) as Region);

  it('accepts names in any case, in the order given', () => {
    expect(resolveRegions(['amygdala_l', 'HIPPOCAMPUS_R'], regions).map((r) => r.index)).toEqual([
      3, 2,
    ]);
  });

  it('refuses unknown and repeated names, naming close ones', () => {
    expect(() => resolveRegions(['Hipocampus_L'], regions)).toThrow(OptionError);
    expect(() => resolveRegions(['Hipocampus_L'], regions)).toThrow(
      /unknown AAL region "Hipocampus_L"; close names: Hippocampus_L, Hippocampus_R/,
    );
    expect(() => resolveRegions(['Amygdala_L', 'amygdala_l'], regions)).toThrow(/listed twice/);
    expect(
      closeNames(
        'temporal_inf',
        regions.map((r) => r.name),
      ),
    ).toEqual(['Temporal_Inf_L', 'Temporal_Inf_R']);
    expect(
      closeNames(
        'xyzzy',
        regions.map((r) => r.name),
      ),
    ).toEqual([]);
  });
});
