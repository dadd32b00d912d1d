import { describe, expect, it } from 'vitest';
import { gridSearchPoints, runGlas } from '../../src/glas3d/index.js';
import { buildLinearOracle, loadOnnxClassifier, toModelTensor } from '../../src/model/index.js';

// A 2-D ONNX oracle: 3×48×64 NCHW, logit = a·(mean brightness inside a patch) − b. The fused map's
// maximum must fall inside the patch, whatever the image around it looks like.
describe('2-D oracle over ONNX', () => {
  it('the fused map peaks inside the bright patch the model responds to', async () => {
    const [c, h, w] = [3, 48, 64];
    const patch = { x0: 40, x1: 52, y0: 8, y1: 18 };
    const inPatch = (x: number, y: number) =>
      x >= patch.x0 && x < patch.x1 && y >= patch.y0 && y < patch.y1;
    // Our image order: planar [C][H][W], x fastest — the same as NCHW memory here.
    const weights = new Float32Array(c * h * w);
    const image = new Float32Array(c * h * w);
    const area = (patch.x1 - patch.x0) * (patch.y1 - patch.y0);
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const o = x + w * (y + h * ch);
          weights[o] = inPatch(x, y) ? 1 / (c * area) : 0;
          // A textured background, and a bright patch.
          image[o] = inPatch(x, y) ? 0.9 : 0.3 + 0.2 * Math.sin(x / 3) * Math.cos(y / 5);
        }
    const model = await loadOnnxClassifier(
      buildLinearOracle({
        inputShape: [c, h, w],
        weights,
        scale: 6,
        bias: 4.5,
        output: 'two-logits',
      }),
    );
    const axes = model.gridAxes!;
    const sample = toModelTensor(image, [w, h], c, axes);
    const k = 8;
    const cell = [w / k, h / k];
    const result = await runGlas(
      model,
      { sample, baseline: 0, gridAxes: axes.tensorAxis, spacing: [1 / cell[0], 1 / cell[1]] },
      { points: gridSearchPoints([w, h], k), sigmas: [{ light: 1, shadow: 1, spatial: 1 }] },
    );
    expect(result.targetClass).toBe(1);
    const map = result.perSigma[0].map;
    let best = 0;
    for (let o = 1; o < map.length; o++) if (map[o] > map[best]) best = o;
    expect(inPatch(best % w, Math.floor(best / w))).toBe(true);
    await model.dispose();
  });
});
