/**
 * explainImage with the perturbation made inside the model's graph (what a GPU runs) against the
 * host path, on the CPU provider, with MobileNetV2's float twin (whose own one-ulp sensitivity is
 * ~6e-6, so two float paths can agree closely; the int8 model moves by up to 1.2 under one ulp).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainImage, preprocessImage } from '../../src/image/index.js';
import {
  dequantizeModel,
  loadInGraphClassifier,
  loadOnnxClassifier,
} from '../../src/model/index.js';

const DATA = path.resolve('../shared/data/imagenet');
const MODEL = path.join(DATA, 'mobilenetv2-12-int8.onnx');
const FINCH = path.join(DATA, 'finch.jpeg');
const ready = existsSync(MODEL) && existsSync(FINCH);

describe('explainImage, perturbation in the graph', () => {
  it.skipIf(!ready)('equals the host path on the finch (float twin, 8×8 grid)', async () => {
    const twin = dequantizeModel(new Uint8Array(readFileSync(MODEL)));
    const classifier = await loadOnnxClassifier(twin, { batchSize: 16 });
    const inGraph = await loadInGraphClassifier(twin, {
      batchSize: 16,
      gridAxes: classifier.gridAxes!.tensorAxis,
    });
    try {
      const pre = await preprocessImage(FINCH);
      const common = { model: classifier, grid: 8 };
      const host = await explainImage(pre, common);
      const device = await explainImage(pre, { ...common, inGraph });
      expect(host.targetClass).toBe(12); // house finch (data README)
      expect(device.targetClass).toBe(12);
      // The bar: every perturbed copy's probability within 1e-5 relative of the host's
      // (measured here: 7.5e-6 worst, on P(y | shadow) = P(y | I) + shadowDelta; P(y | light) is 1).
      const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);
      let worst = 0;
      for (let i = 0; i < host.points.length; i++) {
        const [d, h] = [device.points[i], host.points[i]];
        worst = Math.max(
          worst,
          relative(d.light, h.light),
          relative(device.probability + d.shadowDelta, host.probability + h.shadowDelta),
        );
      }
      console.log(`in-graph vs host, worst relative difference ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-5);
      const argmax = (m: Float32Array) => m.reduce((b, v, i) => (v > m[b] ? i : b), 0);
      expect(argmax(device.map)).toBe(argmax(host.map));
    } finally {
      await inGraph.dispose();
      await classifier.dispose();
    }
  });
});
