/**
 * Models whose outputs are not a softmax over logits, explained end to end on the MNI 2 mm grid:
 * a regression (a "predicted age", activation 'identity') whose shadow responses are known in
 * closed form, a Keras-style Sigmoid head, and a saturated output, which must be reported as a
 * flat explanation rather than ranked.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import { explain } from '../../src/explain/explain-volume.js';
import { applyAffine } from '../../src/volume/index.js';
import {
  AMYGDALA_R,
  HIPPOCAMPUS_L,
  linearOracle,
  oracleWorld,
  regionWeights,
  weightedSum,
  type OracleWorld,
} from './oracle-fixtures.js';

const SIGMA_MM = 10;

let w: OracleWorld;
let W: Float32Array;
/** Σ W·x over the volume. */
let dot: number;
beforeAll(async () => {
  w = await oracleWorld();
  W = regionWeights(w, { [HIPPOCAMPUS_L]: 1, [AMYGDALA_R]: 1 });
  dot = weightedSum(w, W);
});

/** y = a·Σ W·x − b with y(volume) = `valueAtVolume` and ∂y/∂(Σ W·x) = a = gain / dot. */
const regression = (output: 'one-logit' | 'one-probability', valueAtVolume: number, gain = 10) =>
  linearOracle(w, W, { output, zAtVolume: valueAtVolume, gain });

describe("a regression read with activation 'identity'", () => {
  it('shadow Δ at every region is −a·Σ W·x·G, computed voxel by voxel', async () => {
    const gain = 10;
    const e = await explain(w.volume, {
      model: regression('one-logit', 70, gain),
      modelOptions: { activation: 'identity' },
      atlas: w.atlas,
      sigmaMm: [SIGMA_MM],
      mode: 'shadow',
      baseline: 'zero',
    });
    expect(e.targetClass).toBe(0);
    expect(e.probability).toBeCloseTo(70, 3);
    expect(e.model.activation).toBe('identity');
    expect(e.warnings).toBeUndefined();
    const [nx, ny] = w.volume.dims;
    const voxels = [...W.keys()].filter((o) => W[o] !== 0);
    const world = voxels.map((o) =>
      applyAffine(w.volume.affine, [o % nx, Math.floor(o / nx) % ny, Math.floor(o / (nx * ny))]),
    );
    const regions = e.maps[0].regions;
    let largest = 0;
    for (const r of regions) {
      let expected = 0;
      voxels.forEach((o, k) => {
        const d2 = world[k].reduce((s, v, i) => s + (v - r.searchPointMm[i]) ** 2, 0);
        expected -= (gain / dot) * W[o] * w.volume.data[o] * Math.exp(-d2 / (2 * SIGMA_MM ** 2));
      });
      expect(r.shadowDelta).toBeCloseTo(expected, 3);
      largest = Math.max(largest, Math.abs(expected));
    }
    expect(largest).toBeGreaterThan(1); // the test would be empty if no shadow moved the value
    expect(
      regions
        .slice(0, 2)
        .map((r) => r.index)
        .sort(),
    ).toEqual([HIPPOCAMPUS_L, AMYGDALA_R]);
  });

  it('fusion ranks the regions the value depends on first; a negative value needs shadow', async () => {
    const e = await explain(w.volume, {
      model: regression('one-logit', 70),
      modelOptions: { activation: 'identity' },
      atlas: w.atlas,
      sigmaMm: [SIGMA_MM],
      baseline: 'zero',
    });
    expect(
      e.maps[0].regions
        .slice(0, 2)
        .map((r) => r.index)
        .sort(),
    ).toEqual([HIPPOCAMPUS_L, AMYGDALA_R]);
    const negative = explain(w.volume, {
      model: regression('one-logit', -3),
      modelOptions: { activation: 'identity' },
      atlas: w.atlas,
      sigmaMm: [SIGMA_MM],
      baseline: 'zero',
    });
    await expect(negative).rejects.toThrow(OptionError);
    await expect(negative).rejects.toThrow(/must not be negative.*mode 'shadow'/);
  });
});

describe('flat explanations are reported, not ranked', () => {
  it('a value read as a logit saturates: every shadow Δ is 0 and the warning names --activation identity', async () => {
    const e = await explain(w.volume, {
      model: regression('one-logit', 70),
      atlas: w.atlas,
      sigmaMm: [SIGMA_MM, 5],
      baseline: 'zero',
    });
    expect(e.model.activation).toBe('sigmoid');
    expect(e.probability).toBe(1);
    for (const r of e.maps[0].regions) expect(r.shadowDelta).toBe(0);
    expect(e.warnings).toHaveLength(2);
    expect(e.warnings![0]).toMatch(/^σ 10 mm: the explanation is flat/);
    expect(e.warnings![1]).toMatch(/^σ 5 mm: .*--activation identity/);
  });

  it('the same model explained as a value is not flat', async () => {
    const e = await explain(w.volume, {
      model: regression('one-logit', 70),
      modelOptions: { activation: 'identity' },
      atlas: w.atlas,
      sigmaMm: [SIGMA_MM],
      mode: 'shadow',
      baseline: 'zero',
    });
    expect(e.warnings).toBeUndefined();
  });
});

describe('a Keras-style Sigmoid head', () => {
  it('is read as P(class 1): a negative decision value explains class 0, not class 1', async () => {
    const z = -1.5;
    const e = await explain(w.volume, {
      model: regression('one-probability', z),
      atlas: w.atlas,
      sigmaMm: [SIGMA_MM],
      baseline: 'zero',
    });
    expect(e.model.activation).toBe('none');
    expect(e.targetClass).toBe(0);
    expect(e.probability).toBeCloseTo(1 - 1 / (1 + Math.exp(-z)), 5);
    expect(e.warnings).toBeUndefined();
  });
});
