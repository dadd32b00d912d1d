import { afterAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../src/errors.js';
import {
  buildLinearOracle,
  loadOnnxClassifier,
  toModelTensor,
  type AxisOrder,
  type Layout,
  type OnnxClassifier,
} from '../../src/model/index.js';
import { randomArray } from './helpers.js';

const a = 0.2;
const b = -0.1;
const opened: OnnxClassifier[] = [];
afterAll(async () => {
  for (const c of opened) await c.dispose();
});

/**
 * Oracle weights given on our grid (x fastest) re-laid by a plain nested loop into the model's
 * sample order for a layout and axis order; returns the sample shape and the weights.
 */
function exportWeights(
  grid: Float32Array,
  [nx, ny, nz]: number[],
  layout: Layout,
  axes: AxisOrder,
) {
  const spatial = axes === 'xyz' ? [nx, ny, nz] : [nz, ny, nx];
  const shape = layout === 'NCDHW' ? [1, ...spatial] : [...spatial, 1];
  const out = new Float32Array(grid.length);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const ours = x + nx * (y + ny * z);
        // With one channel NCDHW and NDHWC share the spatial order.
        const model = axes === 'xyz' ? (x * ny + y) * nz + z : (z * ny + y) * nx + x;
        out[model] = grid[ours];
      }
  return { shape, weights: out };
}

/** P(class 1) for one grid volume through a model exported with (layout, axes). */
async function p1(
  gridWeights: Float32Array,
  dims: number[],
  volume: Float32Array,
  exported: [Layout, AxisOrder],
  options: { layout?: Layout; axes?: AxisOrder },
) {
  const { shape, weights } = exportWeights(gridWeights, dims, ...exported);
  const bytes = buildLinearOracle({
    inputShape: shape,
    weights,
    scale: a,
    bias: b,
    output: 'two-logits',
  });
  const clf = await loadOnnxClassifier(bytes, options);
  opened.push(clf);
  clf.checkInputFits(dims, 1);
  const sample = toModelTensor(volume, dims, 1, clf.gridAxes!);
  return (await clf.predict(sample, 1))[1];
}

describe('layouts and axis orders against one grid volume', () => {
  const dims = [5, 4, 6];
  const gridWeights = randomArray(120, 21);
  const volume = randomArray(120, 22, 2);
  let dot = 0;
  for (let i = 0; i < 120; i++) dot += gridWeights[i] * volume[i];
  const truth = 1 / (1 + Math.exp(-(a * dot - b)));

  it.each<[Layout, AxisOrder]>([
    ['NCDHW', 'xyz'],
    ['NCDHW', 'zyx'],
    ['NDHWC', 'xyz'],
    ['NDHWC', 'zyx'],
  ])('%s exported with %s axes gives the same probability', async (layout, axes) => {
    const inferred = await p1(gridWeights, dims, volume, [layout, axes], { axes });
    const explicit = await p1(gridWeights, dims, volume, [layout, axes], { layout, axes });
    expect(Math.abs(inferred - truth)).toBeLessThan(1e-5);
    expect(Math.abs(explicit - truth)).toBeLessThan(1e-5);
  });

  it('a wrong axes option gives a different answer when the grid shape allows it', async () => {
    const cube = [5, 4, 5]; // nx = nz, so an x↔z swap still fits the model
    const w = randomArray(100, 31);
    const v = randomArray(100, 32, 2);
    const right = await p1(w, cube, v, ['NCDHW', 'xyz'], { axes: 'xyz' });
    const wrong = await p1(w, cube, v, ['NCDHW', 'xyz'], { axes: 'zyx' });
    expect(Math.abs(right - wrong)).toBeGreaterThan(1e-3);
  });

  it('a wrong axes option on a non-cubic grid is refused with a hint', async () => {
    const { shape, weights } = exportWeights(gridWeights, dims, 'NCDHW', 'xyz');
    const bytes = buildLinearOracle({
      inputShape: shape,
      weights,
      scale: a,
      bias: b,
      output: 'two-logits',
    });
    const clf = await loadOnnxClassifier(bytes, { axes: 'zyx', modelName: 'cnn.onnx' });
    opened.push(clf);
    expect(() => clf.checkInputFits(dims, 1)).toThrow(ModelError);
    expect(() => clf.checkInputFits(dims, 1)).toThrow(/\[1,5,4,6\].*5×4×6.*try --axes xyz/);
  });

  it('an ambiguous input shape needs --layout, and works with it', async () => {
    const bytes = buildLinearOracle({
      inputShape: [1, 4, 5, 1],
      weights: randomArray(20, 41),
      scale: a,
      bias: b,
      output: 'one-logit',
    });
    await expect(loadOnnxClassifier(bytes, { modelName: 'amb.onnx' })).rejects.toThrow(
      /amb.onnx.*--layout NCDHW or NDHWC/,
    );
    const clf = await loadOnnxClassifier(bytes, { layout: 'NDHWC' });
    opened.push(clf);
    expect(clf.gridAxes).toMatchObject({ gridDims: [1, 4, 5], channels: 1 });
  });
});
