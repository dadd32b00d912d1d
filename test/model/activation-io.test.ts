import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  firstNonFinite,
  isSimplexRows,
  softmaxRows,
  twoClassRows,
} from '../../src/model/activation.js';
import { ioFromProto, ioFromSession } from '../../src/model/model-io.js';
import { buildLinearOracle } from '../../src/model/onnx-builder.js';

describe('activations', () => {
  it('softmax matches exp/sum and survives large logits', () => {
    const rows = softmaxRows([0, Math.log(3), 1000, 1000], 2, 2);
    expect(rows[0]).toBeCloseTo(0.25, 6);
    expect(rows[1]).toBeCloseTo(0.75, 6);
    expect([rows[2], rows[3]]).toEqual([0.5, 0.5]);
  });

  it('recognises probability rows', () => {
    expect(isSimplexRows([0.2, 0.8, 1, 0], 2, 2)).toBe(true);
    expect(isSimplexRows([0.2, 0.80005], 1, 2)).toBe(true);
    expect(isSimplexRows([0.2, 0.81], 1, 2)).toBe(false);
    expect(isSimplexRows([-0.5, 1.5], 1, 2)).toBe(false);
    expect(isSimplexRows([NaN, 1], 1, 2)).toBe(false);
  });

  it('one column becomes [1 − p, p]', () => {
    expect(twoClassRows([0, 0.25], 2, false)).toEqual(Float32Array.from([1, 0, 0.75, 0.25]));
    const fromLogit = twoClassRows([Math.log(3)], 1, true);
    expect(fromLogit[1]).toBeCloseTo(0.75, 6);
    expect(twoClassRows([-800], 1, true)[1]).toBe(0);
  });

  it('finds the first non-finite row', () => {
    expect(firstNonFinite([1, 2, 3, 4], 2, 2)).toBeUndefined();
    expect(firstNonFinite([1, 2, 3, Infinity, NaN, 0], 3, 2)).toEqual({ sample: 1, value: 'Inf' });
  });
});

describe('model inputs and outputs', () => {
  it('reading the proto agrees with the session metadata', async () => {
    const bytes = buildLinearOracle({
      inputShape: [1, 4, 5, 6],
      weights: new Float32Array(120),
      scale: 1,
      bias: 0,
      output: 'two-logits',
      declaredShape: [1, 'D', 5, 6],
      outputName: 'logits',
      extraOutputs: [{ name: 'z', kind: 'one-logit' }],
    });
    const expected = {
      inputs: [{ name: 'input', type: 'float32', shape: ['N', 1, 'D', 5, 6] }],
      outputs: [
        { name: 'logits', type: 'float32', shape: ['N', 2] },
        { name: 'z', type: 'float32', shape: ['N', 1] },
      ],
    };
    expect(ioFromProto(bytes)).toEqual(expected);
    const session = await ort.InferenceSession.create(bytes);
    expect(ioFromSession(session)).toEqual(expected);
    await session.release();
  });
});
