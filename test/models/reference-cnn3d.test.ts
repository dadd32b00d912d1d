import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOnnxClassifier, toModelTensor } from '../../src/model/index.js';
import { synthesizeCohort } from '../../src/synth/index.js';
import { normalizeIntensity, readVolume } from '../../src/volume/index.js';

const MODEL = join(__dirname, '../../models/reference-cnn3d.onnx');

describe('models/reference-cnn3d.onnx (the model card)', () => {
  it('classifies a freshly synthesized held-out cohort with ≥ 85% accuracy', async () => {
    // Seed 4242: used neither for training (1001–1016) nor for the card's test (2026).
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-heldout-'));
    await synthesizeCohort({ outDir: dir, nAd: 4, nNc: 4, seed: 4242 });
    // Input spec from the model card: NCDHW, axes xyz, z-score over non-zero voxels.
    const model = await loadOnnxClassifier(MODEL, { axes: 'xyz' });
    expect(model.inputShape).toEqual([1, 91, 109, 91]);
    expect(model.classes).toBe(2);
    let right = 0;
    let total = 0;
    for (const [group, label] of [
      ['ad', 1],
      ['nc', 0],
    ] as const) {
      for (const file of (await readdir(join(dir, group))).sort()) {
        const v = normalizeIntensity(await readVolume(join(dir, group, file)), 'zscore');
        const p = await model.predict(toModelTensor(v.data, v.dims, 1, model.gridAxes!), 1);
        if ((p[1] > 0.5 ? 1 : 0) === label) right++;
        total++;
      }
    }
    await model.dispose();
    expect(total).toBe(8);
    expect(right / total).toBeGreaterThanOrEqual(0.85);
  });
});
