/**
 * RISE and the all-classes GLAS passes on small oracle classifiers written here in JS, whose
 * answers are known: RISE masks have the statistics the paper defines, RISE points at the region
 * an oracle reads, and classResponses + fuseClass give exactly what runGlas gives, class by class.
 */
import { describe, expect, it } from 'vitest';
import {
  gridSearchPoints,
  runGlas,
  type Classifier,
  type GlasInput,
} from '../../src/glas3d/index.js';
import { classResponses, fuseClass, RiseMasks, runRise } from '../../src/image/index.js';

const W = 32;
const H = 24;

/**
 * NCHW [3, H, W] oracle with `classes` outputs: logits z_c = Σ_ch Σ_pixels w_c(x, y)·v, softmax.
 * Class c reads the rectangle regions[c] (weight `gain` per pixel and channel, mean-normalised).
 */
function regionOracle(
  regions: { x0: number; x1: number; y0: number; y1: number }[],
  gain = 8,
): Classifier {
  const plane = W * H;
  return {
    inputShape: [3, H, W],
    classes: regions.length,
    batchSize: 7,
    async predict(batch, n) {
      const out = new Float32Array(n * regions.length);
      for (let s = 0; s < n; s++) {
        const z = regions.map((r) => {
          let sum = 0;
          let count = 0;
          for (let c = 0; c < 3; c++) {
            for (let y = r.y0; y < r.y1; y++) {
              for (let x = r.x0; x < r.x1; x++) {
                sum += batch[s * 3 * plane + c * plane + y * W + x];
                count++;
              }
            }
          }
          return (gain * sum) / count;
        });
        const m = Math.max(...z);
        const e = z.map((v) => Math.exp(v - m));
        const t = e.reduce((a, b) => a + b, 0);
        e.forEach((v, c) => (out[s * regions.length + c] = v / t));
      }
      return out;
    },
  };
}

const ones = new Float32Array(3 * W * H).fill(1);
// NCHW: x is tensor axis 2, y tensor axis 1.
const gridAxes = [2, 1];

describe('RISE masks', () => {
  it('values in [0, 1], mean p over many masks, smooth, and the same for the same seed', () => {
    const gen = new RiseMasks(W, H, 4, 0.5, 42);
    const m = new Float32Array(W * H);
    let sum = 0;
    let count = 0;
    let maxStep = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < 400; i++) {
      gen.next(m);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const v = m[x + W * y];
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
          sum += v;
          count++;
          if (x > 0) maxStep = Math.max(maxStep, Math.abs(v - m[x - 1 + W * y]));
        }
      }
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(sum / count).toBeGreaterThan(0.47);
    expect(sum / count).toBeLessThan(0.53);
    // Bilinear over cells of ⌈32/4⌉ = 8 px upsampled to (4 + 1)·8 = 40 px: a step ≤ 1/10 per px.
    expect(maxStep).toBeLessThanOrEqual(0.1 + 1e-6);
    const a = new Float32Array(W * H);
    const b = new Float32Array(W * H);
    new RiseMasks(W, H, 4, 0.5, 7).next(a);
    new RiseMasks(W, H, 4, 0.5, 7).next(b);
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});

describe('RISE on an oracle', () => {
  it('points at the region the class reads, for each of two classes from one set of passes', async () => {
    const left = { x0: 2, x1: 10, y0: 4, y1: 12 };
    const right = { x0: 22, x1: 30, y0: 12, y1: 20 };
    const oracle = regionOracle([left, right, { x0: 0, x1: 1, y0: 0, y1: 1 }]);
    const r = await runRise(
      oracle,
      { sample: ones, baseline: 0, gridAxes },
      {
        masks: 600,
        cells: 4,
        targets: [0, 1],
        seed: 3,
      },
    );
    expect(r.forwardPasses).toBe(601);
    expect([r.width, r.height]).toEqual([W, H]);
    const inside = (map: Float32Array, b: typeof left) => {
      let i = 0;
      let a = 0;
      for (let k = 0; k < map.length; k++) if (map[k] > map[i]) i = k;
      for (let k = 0; k < map.length; k++) a += map[k];
      const [x, y] = [i % W, Math.floor(i / W)];
      return {
        hit: x >= b.x0 - 2 && x < b.x1 + 2 && y >= b.y0 - 2 && y < b.y1 + 2,
        mean: a / map.length,
      };
    };
    expect(inside(r.maps[0], left).hit).toBe(true);
    expect(inside(r.maps[1], right).hit).toBe(true);
    // S = Σ P·M / (N·p): with Σ_c P = 1 over all classes, the maps of all classes sum to
    // Σ M / (N·p) ≈ 1 per pixel; the two classes here hold most of it.
    const total = new Float32Array(W * H);
    const all = await runRise(
      oracle,
      { sample: ones, baseline: 0, gridAxes },
      {
        masks: 600,
        cells: 4,
        targets: [0, 1, 2],
        seed: 3,
      },
    );
    for (const m of all.maps) m.forEach((v, i) => (total[i] += v));
    const meanTotal = total.reduce((a, b) => a + b, 0) / total.length;
    expect(meanTotal).toBeGreaterThan(0.93);
    expect(meanTotal).toBeLessThan(1.07);
  });

  it('bad options are refused', async () => {
    const oracle = regionOracle([
      { x0: 0, x1: 4, y0: 0, y1: 4 },
      { x0: 4, x1: 8, y0: 0, y1: 4 },
    ]);
    const input = { sample: ones, baseline: 0, gridAxes };
    await expect(runRise(oracle, input, { masks: 0 })).rejects.toThrow(/masks/);
    await expect(runRise(oracle, input, { cells: 1 })).rejects.toThrow(/cells/);
    await expect(runRise(oracle, input, { targets: [2] })).rejects.toThrow(
      /class 2 is out of range/,
    );
  });
});

describe('all-classes GLAS passes', () => {
  it('classResponses + fuseClass equal runGlas for every class and mode', async () => {
    const oracle = regionOracle(
      [
        { x0: 2, x1: 10, y0: 4, y1: 12 },
        { x0: 22, x1: 30, y0: 12, y1: 20 },
        { x0: 12, x1: 20, y0: 0, y1: 24 },
      ],
      3,
    );
    const sample = Float32Array.from({ length: 3 * W * H }, (_, i) => ((i * 7919) % 101) / 100);
    const input: GlasInput = { sample, baseline: 0.25, gridAxes, spacing: [1 / 4, 1 / 4] };
    const points = gridSearchPoints([W, H], 5);
    const sigma = { light: 1.5, shadow: 1, spatial: 2 };
    const responses = await classResponses(oracle, input, points, {
      lightSigmas: [sigma.light, 3],
      shadowSigmas: [sigma.shadow],
    });
    expect(responses.forwardPasses).toBe(1 + 3 * 25);
    for (const targetClass of [0, 1, 2]) {
      for (const mode of ['fusion', 'light', 'shadow'] as const) {
        const want = await runGlas(oracle, input, { points, sigmas: [sigma], mode, targetClass });
        const got = fuseClass(responses, targetClass, {
          mode,
          lightSigma: sigma.light,
          shadowSigma: sigma.shadow,
          spatialSigma: sigma.spatial,
        });
        const w = want.perSigma[0];
        for (let i = 0; i < points.length; i++) {
          if (mode !== 'shadow') expect(got.light[i]).toBeCloseTo(w.light[i], 6);
          if (mode !== 'light') expect(got.shadow[i]).toBeCloseTo(w.shadow[i], 6);
        }
        let diff = 0;
        let scale = 0;
        for (let i = 0; i < w.map.length; i++) {
          diff = Math.max(diff, Math.abs(got.map[i] - w.map[i]));
          scale = Math.max(scale, Math.abs(w.map[i]));
        }
        expect(diff).toBeLessThanOrEqual(1e-6 * scale);
      }
    }
    expect(() =>
      fuseClass(responses, 0, { mode: 'fusion', lightSigma: 9, shadowSigma: 1, spatialSigma: 2 }),
    ).toThrow(/no light passes at σ 9/);
  });
});
