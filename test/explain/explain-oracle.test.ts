import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Glas3dError, ModelError } from '../../src/errors.js';
import { explain, storageWarnings } from '../../src/explain/explain-volume.js';
import { writeExplanation } from '../../src/report/explanation-files.js';
import { buildLinearOracle, buildNanModel, loadOnnxClassifier } from '../../src/model/index.js';
import { readVolume } from '../../src/volume/index.js';
import {
  labelAtMax,
  AMYGDALA_R,
  HIPPOCAMPUS_L,
  linearOracle,
  oracleWorld,
  parseCsv,
  regionWeights,
  weightsInLayout,
  type OracleWorld,
} from './oracle-fixtures.js';

const TEMPORAL_INF_R = 90;

let w: OracleWorld;
beforeAll(async () => {
  w = await oracleWorld();
});

describe('a linear oracle over two regions is found first (zero baseline, as the paper)', () => {
  for (const mode of ['light', 'shadow', 'fusion'] as const) {
    it(`${mode} mode ranks both target regions 1 and 2 at σ 5, 10 and 15 mm (regions.csv)`, async () => {
      const model = linearOracle(w, regionWeights(w, { [HIPPOCAMPUS_L]: 1, [AMYGDALA_R]: 1 }));
      const e = await explain(w.volume, {
        model,
        atlas: w.atlas,
        sigmaMm: [5, 10, 15],
        mode,
        baseline: 'zero',
      });
      expect(e.targetClass).toBe(1);
      expect(e.probability).toBeGreaterThan(0.6);
      expect(e.probability).toBeLessThan(0.75);
      const dir = await mkdtemp(join(tmpdir(), 'glas3d-explain-'));
      const files = await writeExplanation(dir, e);
      expect(files.saliency).toHaveLength(3);
      const rows = parseCsv(await readFile(join(dir, 'regions.csv'), 'utf8'));
      expect(rows).toHaveLength(3 * 116);
      for (const sigma of ['5', '10', '15']) {
        const top = rows
          .filter((r) => r.sigma_mm === sigma)
          .sort((a, b) => Number(a.rank) - Number(b.rank))
          .slice(0, 2)
          .map((r) => Number(r.index));
        expect(top.sort()).toEqual([HIPPOCAMPUS_L, AMYGDALA_R]);
      }
      // The saliency map is on the volume's grid and affine.
      const map = await readVolume(files.saliency[0]);
      expect(map.dims).toEqual(w.volume.dims);
      expect(map.affine).toEqual(w.volume.affine);
    });
  }

  it('with weights inside one region the fused map peaks inside it', async () => {
    for (const target of [AMYGDALA_R, TEMPORAL_INF_R]) {
      const model = linearOracle(w, regionWeights(w, { [target]: 1 }));
      const e = await explain(w.volume, {
        model,
        atlas: w.atlas,
        sigmaMm: [5, 15],
        baseline: 'zero',
      });
      for (const m of e.maps) expect(labelAtMax(w, m.saliency.data)).toBe(target);
    }
  });
});

describe('layout and axis order', () => {
  const W = () => regionWeights(w, { [HIPPOCAMPUS_L]: 1, [AMYGDALA_R]: 1 });

  it('NCDHW and NDHWC, xyz and zyx: the same ranking when the options match the model', async () => {
    const rankings: number[][] = [];
    const scores: Map<number, number>[] = [];
    for (const layout of ['NCDHW', 'NDHWC'] as const) {
      for (const axes of ['xyz', 'zyx'] as const) {
        const model = linearOracle(w, W(), { layout, axes });
        const e = await explain(w.volume, {
          model,
          modelOptions: { layout, axes },
          atlas: w.atlas,
          sigmaMm: [10],
          baseline: 'zero',
        });
        rankings.push(e.maps[0].regions.map((r) => r.index));
        scores.push(new Map(e.maps[0].regions.map((r) => [r.index, r.score])));
      }
    }
    expect(rankings[0].slice(0, 2).sort()).toEqual([HIPPOCAMPUS_L, AMYGDALA_R]);
    // The top of the table is identical; far down, scores differ only at float rounding level
    // (the models sum in different orders), which may swap near-ties.
    const top = rankings[0][0];
    for (const r of rankings.slice(1)) expect(r.slice(0, 10)).toEqual(rankings[0].slice(0, 10));
    for (const s of scores.slice(1)) {
      for (const [index, score] of s) {
        expect(Math.abs(score - scores[0].get(index)!)).toBeLessThan(1e-4 * scores[0].get(top)!);
      }
    }
  });

  it("a model with symbolic spatial dims takes the volume's grid: the same answer as a fixed one", async () => {
    const fixed = await explain(w.volume, {
      model: linearOracle(w, W()),
      atlas: w.atlas,
      sigmaMm: [10],
      baseline: 'zero',
    });
    for (const layout of ['NCDHW', 'NDHWC'] as const) {
      for (const axes of ['xyz', 'zyx'] as const) {
        const e = await explain(w.volume, {
          model: linearOracle(w, W(), { layout, axes, symbolic: true }),
          // The layout comes from the fixed channel axis; only the order must be said.
          modelOptions: { axes },
          atlas: w.atlas,
          sigmaMm: [10],
          baseline: 'zero',
        });
        expect(e.model.layout).toBe(layout);
        expect(e.probability).toBeCloseTo(fixed.probability, 5);
        expect(e.maps[0].regions.slice(0, 10).map((r) => r.index)).toEqual(
          fixed.maps[0].regions.slice(0, 10).map((r) => r.index),
        );
      }
    }
  });

  it('a volume model without a channel axis ([N,D,H,W], fixed or symbolic) is fed the same voxels', async () => {
    const common = { atlas: w.atlas, sigmaMm: [10], baseline: 'zero' as const };
    for (const axes of ['xyz', 'zyx'] as const) {
      const withChannel = await explain(w.volume, {
        ...common,
        model: linearOracle(w, W(), { axes }),
        modelOptions: { axes },
      });
      for (const symbolic of [false, true]) {
        const e = await explain(w.volume, {
          ...common,
          model: linearOracle(w, W(), { layout: 'NDHW', axes, symbolic }),
          modelOptions: { axes },
        });
        const spatial = axes === 'xyz' ? w.volume.dims : [...w.volume.dims].reverse();
        expect(e.model.inputShape).toEqual(spatial);
        expect(e.model.layout).toBe('NDHW');
        // One memory order, one sum: the same numbers to the bit.
        expect(e.probability).toBe(withChannel.probability);
        expect(e.maps[0].saliency.data).toEqual(withChannel.maps[0].saliency.data);
      }
    }
    // In the graph: the perturbed batch is reshaped to the model's rank.
    const host = await explain(w.volume, { ...common, model: linearOracle(w, W()) });
    const device = await explain(w.volume, {
      ...common,
      model: linearOracle(w, W(), { layout: 'NDHW' }),
      perturbation: 'device',
    });
    expect(device.perturbation).toBe('device');
    const byIndex = new Map(host.maps[0].regions.map((r) => [r.index, r]));
    for (const r of device.maps[0].regions)
      expect(Math.abs(r.shadowDelta - byIndex.get(r.index)!.shadowDelta)).toBeLessThan(1e-6);
  });

  it('a volume of the MNI 2 mm size stored RAS (not LAS) is explained as stored, with a warning', async () => {
    const [nx, ny, nz] = w.volume.dims;
    const data = new Float32Array(w.volume.data.length);
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++)
          data[i + nx * (j + ny * k)] = w.volume.data[nx - 1 - i + nx * (j + ny * k)];
    // The same brain in world space: voxel i holds the old voxel nx − 1 − i, so the affine's x
    // column flips sign and its origin moves to the old last voxel.
    const [row0, ...rest] = w.volume.affine;
    const affine = [[-row0[0], 0, 0, row0[3] + row0[0] * (nx - 1)], ...rest];
    const flipped = { dims: w.volume.dims, affine, data };
    expect(storageWarnings(w.volume)).toEqual([]);
    const e = await explain(flipped, {
      model: linearOracle(w, W()),
      atlas: w.atlas,
      sigmaMm: [10],
      baseline: 'zero',
    });
    expect(e.warnings?.[0]).toMatch(/stored RAS, the standard mni2mm grid of this size LAS/);
  });

  it('a volume of the MNI 2 mm size placed elsewhere (shifted origin, SPM grid) gets a warning', () => {
    const moved = (dx: number, dy: number, dz: number) => ({
      ...w.volume,
      affine: w.volume.affine.map((row, r) =>
        row.map((v, c) => (c === 3 ? v + [dx, dy, dz, 0][r] : v)),
      ),
    });
    // SPM's 91×109×91 grid: origin (−92, −128, −74) vs FSL's (−90, −126, −72) in RAS terms.
    const spm = storageWarnings(moved(2, -2, -2));
    expect(spm[0]).toMatch(/size of the standard mni2mm grid but not its placement.* 3\.5 mm off/);
    expect(storageWarnings(moved(0, 20, 0))[0]).toMatch(/20\.0 mm off/);
    // Float noise in a header is not a different placement.
    expect(storageWarnings(moved(1e-4, 0, 0))).toEqual([]);
    const coarse = {
      ...w.volume,
      affine: w.volume.affine.map((row) => row.map((v, c) => (c < 3 ? 1.01 * v : v))),
    };
    expect(storageWarnings(coarse)[0]).toMatch(/voxel axes differ/);
  });

  it('a wrong --axes moves the answer (91×109×91 fits both orders, so only the option tells)', async () => {
    const model = linearOracle(w, W(), { axes: 'zyx' });
    const wrong = await explain(w.volume, {
      model,
      modelOptions: { axes: 'xyz' },
      atlas: w.atlas,
      sigmaMm: [10],
      baseline: 'zero',
    });
    const top = wrong.maps[0].regions.slice(0, 2).map((r) => r.index);
    expect(top.sort()).not.toEqual([HIPPOCAMPUS_L, AMYGDALA_R]);
  });
});

describe('the baseline matters for an atrophy detector', () => {
  // Logit rises as Hippocampus_L gets darker; the subject has it darkened by 40%.
  it('zero misranks the atrophied region, template ranks it first in every mode', async () => {
    const W = regionWeights(w, { [HIPPOCAMPUS_L]: 1 });
    let m0 = 0;
    for (let o = 0; o < W.length; o++) m0 += W[o] * w.volume.data[o];
    const subject = { ...w.volume, data: Float32Array.from(w.volume.data) };
    for (let o = 0; o < W.length; o++) if (W[o] > 0) subject.data[o] *= 0.6;
    // z = c·(1 − mean/m0) − b' with b' = 0.4c − 0.85, so z = 0.85 at 40% atrophy.
    const c = 5;
    const { weights, inputShape } = weightsInLayout(W, w.volume.dims, 'NCDHW', 'xyz');
    const model = await loadOnnxClassifier(
      // As a linear oracle: scale −c/m0 and bias (0.4c − 0.85) − c.
      buildLinearOracle({
        inputShape,
        weights,
        scale: -c / m0,
        bias: 0.4 * c - 0.85 - c,
        output: 'two-logits',
      }),
    );
    const run = (baseline: 'zero' | 'template', mode: 'light' | 'shadow' | 'fusion') =>
      explain(subject, { model, atlas: w.atlas, sigmaMm: [10], mode, baseline });
    const rankOf = (e: Awaited<ReturnType<typeof run>>) =>
      e.maps[0].regions.find((r) => r.index === HIPPOCAMPUS_L)!;

    const zeroLight = await run('zero', 'light');
    expect(zeroLight.probability).toBeGreaterThan(0.6);
    expect(rankOf(zeroLight).rank).toBeGreaterThan(100); // a zero-lit volume looks atrophied everywhere
    const zeroShadow = await run('zero', 'shadow');
    expect(rankOf(zeroShadow).shadowDelta).toBeGreaterThan(0); // a zero shadow adds "atrophy"
    for (const mode of ['light', 'shadow', 'fusion'] as const) {
      const t = await run('template', mode);
      expect(rankOf(t).rank).toBe(1);
    }
    const templateShadow = await run('template', 'shadow');
    expect(rankOf(templateShadow).shadowDelta).toBeLessThan(0); // restoring the region lowers P(y)
    await model.dispose();
  });
});

describe('recursive GLAS', () => {
  it('pass 1 finds the stronger region, pass 2 the other', async () => {
    const model = linearOracle(w, regionWeights(w, { [AMYGDALA_R]: 2, [HIPPOCAMPUS_L]: 1 }));
    const e = await explain(w.volume, {
      model,
      atlas: w.atlas,
      sigmaMm: [10],
      baseline: 'zero',
      recursivePasses: 3,
    });
    const passes = e.recursive!.passes;
    expect(passes.length).toBeGreaterThanOrEqual(2);
    expect(labelAtMax(w, passes[0].data)).toBe(AMYGDALA_R);
    expect(labelAtMax(w, passes[1].data)).toBe(HIPPOCAMPUS_L);
  });
});

describe('bad input is a clear error', () => {
  async function failure(p: Promise<unknown>): Promise<Error> {
    return p.then(
      () => {
        throw new Error('expected a failure');
      },
      (e: Error) => e,
    );
  }

  it('class out of range', async () => {
    const model = linearOracle(w, regionWeights(w, { [AMYGDALA_R]: 1 }));
    const e = await failure(explain(w.volume, { model, atlas: w.atlas, targetClass: 5 }));
    expect(e).toBeInstanceOf(Glas3dError);
    expect(e.message).toMatch(/class 5 is out of range.*2 classes/);
  });

  it('a blur baseline of σ ≤ 0 (the volume itself, every shadow a no-op)', async () => {
    const model = linearOracle(w, regionWeights(w, { [AMYGDALA_R]: 1 }));
    for (const blurSigmaMm of [0, -3, NaN]) {
      const e = await failure(
        explain(w.volume, { model, atlas: w.atlas, baseline: 'blur', blurSigmaMm }),
      );
      expect(e.message).toMatch(/blur σ .* mm must be a positive number/);
    }
  });

  it('a model whose input does not fit the volume names both shapes', async () => {
    const model = linearOracle(w, regionWeights(w, { [AMYGDALA_R]: 1 }));
    const small = {
      ...w.volume,
      dims: [45, 54, 45] as [number, number, number],
      data: new Float32Array(45 * 54 * 45),
    };
    const e = await failure(explain(small, { model, atlas: w.atlas }));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toContain('91');
    expect(e.message).toContain('45');
  });

  it('a non-ONNX model file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-bad-model-'));
    const path = join(dir, 'not-a-model.onnx');
    await writeFile(path, 'this is not a model');
    const e = await failure(explain(w.volume, { model: path, atlas: w.atlas }));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toContain(path);
  });

  it('a model that outputs NaN', async () => {
    const model = buildNanModel({ inputShape: [1, 91, 109, 91] });
    const negative = { ...w.volume, data: w.volume.data.map((v) => -v - 1) };
    const e = await failure(explain(negative, { model, atlas: w.atlas, baseline: 'zero' }));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toMatch(/produced NaN for sample 0, on the input itself/);
  });
});

describe('perturbation on the device (in the graph) gives the host result', () => {
  it('same ranking, scores and maps on the CPU provider, template baseline', async () => {
    const model = linearOracle(w, regionWeights(w, { [HIPPOCAMPUS_L]: 1, [AMYGDALA_R]: 1 }));
    const common = { model, atlas: w.atlas, sigmaMm: [10], baseline: 'template' as const };
    const host = await explain(w.volume, common);
    const device = await explain(w.volume, { ...common, perturbation: 'device' });
    expect(host.perturbation).toBe('host'); // the CPU default
    expect(device.perturbation).toBe('device');
    const [h, d] = [host.maps[0], device.maps[0]];
    expect(d.regions.slice(0, 2).map((r) => r.index)).toEqual(
      h.regions.slice(0, 2).map((r) => r.index),
    );
    const byIndex = new Map(h.regions.map((r) => [r.index, r]));
    for (const r of d.regions) {
      const want = byIndex.get(r.index)!;
      expect(Math.abs(r.light - want.light)).toBeLessThan(1e-5);
      expect(Math.abs(r.shadowDelta - want.shadowDelta)).toBeLessThan(1e-5);
    }
    let max = 0;
    let worst = 0;
    for (let i = 0; i < h.saliency.data.length; i++) {
      max = Math.max(max, h.saliency.data[i]);
      worst = Math.max(worst, Math.abs(h.saliency.data[i] - d.saliency.data[i]));
    }
    expect(worst).toBeLessThan(1e-4 * max);
  });
});
