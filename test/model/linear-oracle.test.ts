import { afterAll, describe, expect, it } from 'vitest';
import { ModelError, OptionError } from '../../src/errors.js';
import {
  buildLinearOracle,
  loadOnnxClassifier,
  type LinearOracleSpec,
  type OnnxClassifier,
  type OracleOutput,
} from '../../src/model/index.js';
import { oracleP1, randomArray } from './helpers.js';

const inputShape = [1, 6, 7, 5];
const size = 6 * 7 * 5;
const weights = randomArray(size, 1);
const a = 0.3;
const b = 0.2;
const opened: OnnxClassifier[] = [];
afterAll(async () => {
  for (const c of opened) await c.dispose();
});

/** This file's oracle (shape, weights, a, b) with an output kind and what a test varies. */
const oracle = (output: OracleOutput, spec: Partial<LinearOracleSpec> = {}) =>
  buildLinearOracle({ inputShape, weights, scale: a, bias: b, output, ...spec });

async function load(output: OracleOutput, options = {}) {
  const bytes = oracle(output);
  const clf = await loadOnnxClassifier(bytes, { modelName: `oracle-${output}`, ...options });
  opened.push(clf);
  return clf;
}

describe('linear oracle through OnnxClassifier', () => {
  it.each<OracleOutput>(['two-logits', 'one-logit', 'probabilities'])(
    '%s with activation auto gives P(class 1) = sigmoid(a·ΣWx − b)',
    async (output) => {
      const clf = await load(output);
      expect(clf.classes).toBe(2);
      expect(clf.batchSize).toBe(16);
      expect(clf.inputShape).toEqual(inputShape);
      expect(clf.layout).toBe('NCDHW');
      expect(clf.axes).toBe('xyz');
      for (const n of [1, 3, clf.batchSize]) {
        // One buffer larger than n samples: predict must read only the first n.
        const batch = randomArray((n + 2) * size, 100 + n, 2);
        const probs = await clf.predict(batch, n);
        expect(probs).toBeInstanceOf(Float32Array);
        expect(probs.length).toBe(n * 2);
        let maxDiff = 0;
        for (let k = 0; k < n; k++) {
          const p1 = oracleP1(weights, batch, k, a, b);
          maxDiff = Math.max(
            maxDiff,
            Math.abs(probs[2 * k + 1] - p1),
            Math.abs(probs[2 * k] - (1 - p1)),
          );
        }
        expect(maxDiff).toBeLessThan(1e-5);
      }
    },
  );

  it('explicit activations agree with auto for the matching output kind', async () => {
    const batch = randomArray(3 * size, 5, 2);
    const expected = [0, 1, 2].map((k) => oracleP1(weights, batch, k, a, b));
    for (const [output, activation] of [
      ['two-logits', 'softmax'],
      ['one-logit', 'sigmoid'],
      ['probabilities', 'none'],
    ] as const) {
      const probs = await (await load(output, { activation })).predict(batch, 3);
      expected.forEach((p1, k) => expect(Math.abs(probs[2 * k + 1] - p1)).toBeLessThan(1e-5));
    }
  });

  it('returns fresh arrays and leaves the input untouched', async () => {
    const clf = await load('probabilities');
    const batch = randomArray(2 * size, 9);
    const copy = batch.slice();
    const first = await clf.predict(batch, 2);
    const second = await clf.predict(batch, 2);
    expect(first).not.toBe(second);
    expect(first).toEqual(second);
    expect(batch).toEqual(copy);
  });

  it('refuses n outside 1..batchSize and a short batch', async () => {
    const clf = await load('one-logit', { batchSize: 4 });
    expect(clf.batchSize).toBe(4);
    await expect(clf.predict(new Float32Array(5 * size), 5)).rejects.toThrow(RangeError);
    await expect(clf.predict(new Float32Array(5 * size), 0)).rejects.toThrow(RangeError);
    await expect(clf.predict(new Float32Array(size), 2)).rejects.toThrow(RangeError);
  });

  it('refuses activations that do not fit the output width', async () => {
    await expect(load('one-logit', { activation: 'softmax' })).rejects.toThrow(OptionError);
    await expect(load('two-logits', { activation: 'sigmoid' })).rejects.toThrow(OptionError);
  });
});

describe('model input and output variants', () => {
  it('uses batch size 1 for a model whose batch dim is fixed to 1', async () => {
    const bytes = oracle('two-logits', { batch: 1 });
    const clf = await loadOnnxClassifier(bytes, { batchSize: 16 });
    opened.push(clf);
    expect(clf.batchSize).toBe(1);
    const batch = randomArray(size, 3);
    const probs = await clf.predict(batch, 1);
    expect(Math.abs(probs[1] - oracleP1(weights, batch, 0, a, b))).toBeLessThan(1e-5);
  });

  it('pads a short batch for a model whose batch dim is fixed above 1', async () => {
    const bytes = oracle('one-logit', { batch: 4 });
    const clf = await loadOnnxClassifier(bytes);
    opened.push(clf);
    expect(clf.batchSize).toBe(4);
    const batch = randomArray(3 * size, 4);
    const probs = await clf.predict(batch, 3);
    expect(probs.length).toBe(6);
    for (let k = 0; k < 3; k++)
      expect(Math.abs(probs[2 * k + 1] - oracleP1(weights, batch, k, a, b))).toBeLessThan(1e-5);
  });

  it('picks an output by name and lists the names when it is missing', async () => {
    const bytes = oracle('two-logits', {
      outputName: 'logits',
      extraOutputs: [{ name: 'probs', kind: 'probabilities' }],
    });
    const first = await loadOnnxClassifier(bytes);
    const named = await loadOnnxClassifier(bytes, { outputName: 'probs', activation: 'none' });
    opened.push(first, named);
    expect(first.outputName).toBe('logits');
    expect(named.outputName).toBe('probs');
    expect(named.outputNames).toEqual(['logits', 'probs']);
    const batch = randomArray(2 * size, 11);
    const p1 = oracleP1(weights, batch, 1, a, b);
    expect(Math.abs((await first.predict(batch, 2))[3] - p1)).toBeLessThan(1e-5);
    expect(Math.abs((await named.predict(batch, 2))[3] - p1)).toBeLessThan(1e-5);
    await expect(loadOnnxClassifier(bytes, { outputName: 'scores' })).rejects.toThrow(
      /no output 'scores'; its outputs are 'logits' float32 \[N,2\], 'probs' float32 \[N,2\]/,
    );
  });

  it('needs inputShape for symbolic sample dims, and checks it against fixed dims', async () => {
    const bytes = oracle('one-logit', { declaredShape: [1, 'depth', 'height', 5] });
    await expect(loadOnnxClassifier(bytes)).rejects.toThrow(/symbolic dims.*dataGrid.*inputShape/);
    await expect(loadOnnxClassifier(bytes, { inputShape: [1, 6, 7, 4] })).rejects.toThrow(
      ModelError,
    );
    const clf = await loadOnnxClassifier(bytes, { inputShape });
    opened.push(clf);
    expect(clf.inputShape).toEqual(inputShape);
    const batch = randomArray(size, 12);
    expect(
      Math.abs((await clf.predict(batch, 1))[1] - oracleP1(weights, batch, 0, a, b)),
    ).toBeLessThan(1e-5);
  });

  it("fills symbolic sample dims from the data's grid, in the layout and axis order asked", async () => {
    const grid = { dims: [6, 7, 5], channels: 1 };
    const shapeFor = async (declaredShape: LinearOracleSpec['declaredShape'], options = {}) => {
      const clf = await loadOnnxClassifier(oracle('one-logit', { declaredShape }), {
        dataGrid: grid,
        ...options,
      });
      opened.push(clf);
      return clf;
    };
    // Channels first (the fixed 1), x y z as nibabel arrays: the oracle's own [1, 6, 7, 5].
    const first = await shapeFor([1, 'D', 'H', 'W']);
    expect(first.inputShape).toEqual(inputShape);
    expect(first.layout).toBe('NCDHW');
    const batch = randomArray(size, 13);
    expect(
      Math.abs((await first.predict(batch, 1))[1] - oracleP1(weights, batch, 0, a, b)),
    ).toBeLessThan(1e-5);
    // A fixed dim that agrees is kept; zyx reverses the grid; channels last from the fixed end.
    expect((await shapeFor([1, 'D', 'H', 5])).inputShape).toEqual(inputShape);
    expect((await shapeFor([1, 'D', 'H', 'W'], { axes: 'zyx' })).inputShape).toEqual([1, 5, 7, 6]);
    await expect(shapeFor(['D', 'H', 'W', 1])).resolves.toMatchObject({
      inputShape: [6, 7, 5, 1],
      layout: 'NDHWC',
    });
    // All symbolic: only --layout can say where the channels are.
    await expect(shapeFor(['C', 'D', 'H', 'W'])).rejects.toThrow(/give --layout NCDHW or NDHWC/);
    expect((await shapeFor(['C', 'D', 'H', 'W'], { layout: 'NCDHW' })).inputShape).toEqual(
      inputShape,
    );
    // A fixed dim that disagrees with the data, and data of the wrong rank.
    await expect(shapeFor([1, 'D', 'H', 9])).rejects.toThrow(ModelError);
    await expect(shapeFor([1, 'H', 'W'])).rejects.toThrow(/does not take 3-D data of 6×7×5/);
    // An image model [N, 3, H, W] with dynamic H, W: a 5 wide, 4 high RGB crop is [3, 4, 5].
    const image = await loadOnnxClassifier(
      buildLinearOracle({
        inputShape: [3, 4, 5],
        declaredShape: [3, 'H', 'W'],
        weights: randomArray(60, 14),
        scale: 1,
        bias: 0,
        output: 'two-logits',
      }),
      { dataGrid: { dims: [5, 4], channels: 3 } },
    );
    opened.push(image);
    expect([image.inputShape, image.layout, image.gridAxes?.gridDims]).toEqual([
      [3, 4, 5],
      'NCHW',
      [5, 4],
    ]);
  });

  it('refuses a model whose input is not float32', async () => {
    const bytes = oracle('one-logit', { inputType: 'int32' });
    await expect(loadOnnxClassifier(bytes, { modelName: 'int-model.onnx' })).rejects.toThrow(
      /int-model.onnx input 'input' is int32/,
    );
  });
});
