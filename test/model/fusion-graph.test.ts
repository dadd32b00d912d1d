/**
 * Eq. 3 as an ONNX graph (what a GPU runs) against the host's exact double-precision fuseMap,
 * on the CPU provider: the same map to within the float32 bound (points · 2^-24 relative per
 * voxel, since the weights are never negative), on 3-D and 2-D grids with anisotropic spacing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fuseMap, type FusionInput } from '../../src/glas3d/index.js';
import { DEVICE_FUSION_MIN_TERMS, DeviceFusion } from '../../src/model/index.js';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function randomInput(
  gridDims: number[],
  spacing: number[],
  count: number,
  seed: number,
): FusionInput {
  const random = seeded(seed);
  const points = Array.from({ length: count }, () => gridDims.map((n) => random() * (n - 1)));
  // Weights over several decades, as f_l·f_s are; one exactly 0.
  const weights = Float64Array.from({ length: count }, (_, i) =>
    i === 0 ? 0 : 10 ** (-4 * random()),
  );
  return { gridDims, spacing, points, weights, sigmaSpatial: 4 };
}

describe('DeviceFusion (eq. 3 in an ONNX graph)', () => {
  const fusion = new DeviceFusion('cpu', 2, 0); // every map through the graph
  afterAll(() => fusion.dispose());

  for (const [label, dims, spacing, count] of [
    ['3-D', [23, 19, 17], [2, 1.5, 3], 40],
    ['2-D', [31, 24], [1, 0.75], 25],
  ] as const) {
    it(`${label}: equals fuseMap to within points·2^-24 per voxel`, async () => {
      const input = randomInput([...dims], [...spacing], count, 7);
      const want = fuseMap(input);
      const got = await fusion.fuse(input);
      expect(got.length).toBe(want.length);
      let worst = 0;
      for (let i = 0; i < want.length; i++) {
        const r = Math.abs(got[i] - want[i]) / Math.max(want[i], 1e-300);
        if (want[i] > 1e-30 && r > worst) worst = r;
      }
      expect(worst).toBeLessThan(count * 2 ** -24);
      // The map is not flat: its maximum is well above its mean (the test can fail).
      const max = Math.max(...want);
      const mean = want.reduce((a, b) => a + b, 0) / want.length;
      expect(max).toBeGreaterThan(1.5 * mean);
    });
  }

  it('keeps maps below DEVICE_FUSION_MIN_TERMS on the host, exactly', async () => {
    const input = randomInput([23, 19, 17], [2, 1.5, 3], 40, 9);
    const terms = 40 * 23 * 19 * 17;
    const want = fuseMap(input);
    const small = new DeviceFusion('cpu', 2, terms + 1);
    const large = new DeviceFusion('cpu', 2, terms);
    try {
      expect(await small.fuse(input)).toEqual(want);
      // At the threshold the graph runs: float32 sums, so some voxel differs from the double sum.
      const viaGraph = await large.fuse(input);
      expect(viaGraph.some((v, i) => v !== want[i])).toBe(true);
    } finally {
      await small.dispose();
      await large.dispose();
    }
    // A 224² photo with a 15×15 grid stays on the host; a 2 mm MNI volume with 116 points does not.
    expect(224 * 224 * 225).toBeLessThan(DEVICE_FUSION_MIN_TERMS);
    expect(91 * 109 * 91 * 116).toBeGreaterThanOrEqual(DEVICE_FUSION_MIN_TERMS);
  });
});
