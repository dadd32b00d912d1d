/**
 * How a model's outputs are read: 'auto' follows the graph (a Softmax or Sigmoid head is read as
 * probabilities, never squashed a second time), and 'identity' keeps raw values (a regression).
 * Truth: the linear oracle's z = a·Σ W·x − b, computed here in plain JS.
 */
import { describe, expect, it } from 'vitest';
import { ModelError } from '../../src/errors.js';
import { runGlas } from '../../src/glas3d/index.js';
import { flatHint } from '../../src/model/flat-warning.js';
import { finalOpOf } from '../../src/model/model-io.js';
import {
  buildLinearOracle,
  GraphBuilder,
  loadOnnxClassifier,
  type OracleOutput,
} from '../../src/model/index.js';

const SHAPE = [1, 4, 3, 2];
const K = 24;
const weights = Float32Array.from({ length: K }, (_, i) => ((i % 5) - 2) / 10);
const samples = [
  Float32Array.from({ length: K }, (_, i) => (i % 3) - 1),
  Float32Array.from({ length: K }, (_, i) => i / 6),
];
const oracle = (output: OracleOutput, bias = 0.3) =>
  buildLinearOracle({ inputShape: SHAPE, weights, scale: 2, bias, output });
const zOf = (x: Float32Array, bias = 0.3) =>
  2 * x.reduce((s, v, i) => s + v * weights[i], 0) - bias;
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** The oracle's z = 2·Σ W·x − 0.3 [N, 1] in a graph being built, for heads added by hand. */
function oracleLogit(g: GraphBuilder): string {
  g.input('input', ['N', ...SHAPE]);
  const flat = g.node('Flatten', ['input'], { axis: 1 });
  const dot = g.node('MatMul', [flat, g.floats('W', [K, 1], weights)]);
  return g.node('Sub', [g.node('Mul', [dot, g.floats('a', [], [2])]), g.floats('b', [], [0.3])]);
}

async function predictBoth(bytes: Uint8Array, activation?: 'identity') {
  const c = await loadOnnxClassifier(bytes, { activation });
  const batch = new Float32Array(2 * K);
  batch.set(samples[0], 0);
  batch.set(samples[1], K);
  const rows = await c.predict(batch, 2);
  await c.dispose();
  return { c, rows };
}

describe('the operator that makes an output', () => {
  it('looks through reshapes to the Softmax or Sigmoid head', () => {
    expect(finalOpOf(oracle('one-probability'), 'output')).toBe('Sigmoid');
    expect(finalOpOf(oracle('softmax'), 'output')).toBe('Softmax'); // Softmax → Flatten
    expect(finalOpOf(oracle('one-logit'), 'output')).toBe('Sub'); // Sub → Identity
    expect(finalOpOf(oracle('probabilities'), 'output')).toBe('Add');
    expect(finalOpOf(oracle('one-logit'), 'no-such-output')).toBeUndefined();
    expect(finalOpOf(new Uint8Array([1, 2, 3]), 'output')).toBeUndefined();
  });
});

describe("activation 'auto'", () => {
  it('reads a Sigmoid head (Keras binary) as P(class 1), not as a logit', async () => {
    const { c, rows } = await predictBoth(oracle('one-probability'));
    expect(c.activation).toBe('none');
    expect(c.classes).toBe(2);
    samples.forEach((x, r) => {
      const p = sigmoid(zOf(x));
      expect(rows[2 * r + 1]).toBeCloseTo(p, 6);
      expect(rows[2 * r]).toBeCloseTo(1 - p, 6);
    });
    // The samples straddle the decision: a second sigmoid would have put both in class 1.
    expect(zOf(samples[0])).toBeLessThan(0);
    expect(rows[0]).toBeGreaterThan(rows[1]);
  });

  it('reads a clipped Sigmoid (torch.clamp(sigmoid(x), ε, 1 − ε)) as P(class 1)', async () => {
    const g = new GraphBuilder('clipped');
    const z = oracleLogit(g);
    const p = g.node('Sigmoid', [z]);
    g.node('Clip', [p, g.floats('lo', [], [1e-7]), g.floats('hi', [], [1 - 1e-7])], {}, ['output']);
    g.output('output', ['N', 1]);
    const bytes = g.toBytes();
    expect(finalOpOf(bytes, 'output')).toBe('Sigmoid');
    const { c, rows } = await predictBoth(bytes);
    expect(c.activation).toBe('none');
    samples.forEach((x, r) => expect(rows[2 * r + 1]).toBeCloseTo(sigmoid(zOf(x)), 6));
  });

  it('reads a Softmax head as probabilities', async () => {
    const { c, rows } = await predictBoth(oracle('softmax'));
    expect(c.activation).toBe('none');
    samples.forEach((x, r) => expect(rows[2 * r + 1]).toBeCloseTo(sigmoid(zOf(x)), 6));
  });

  it('reads one column of anything else as a logit, several as logits or a simplex', async () => {
    const logit = await predictBoth(oracle('one-logit'));
    expect(logit.c.activation).toBe('sigmoid');
    samples.forEach((x, r) => expect(logit.rows[2 * r + 1]).toBeCloseTo(sigmoid(zOf(x)), 6));
    for (const kind of ['two-logits', 'probabilities'] as const) {
      const { c, rows } = await predictBoth(oracle(kind));
      expect(c.activation).toBe('auto');
      samples.forEach((x, r) => expect(rows[2 * r + 1]).toBeCloseTo(sigmoid(zOf(x)), 6));
    }
  });
});

describe("activation 'identity' (a regression such as brain age)", () => {
  it('gives the raw value, one response per column', async () => {
    const bias = -70; // values near 70, as a predicted age
    const bytes = oracle('one-logit', bias);
    const { c, rows } = await predictBoth(bytes, 'identity');
    expect(c.classes).toBe(1);
    expect(c.responses).toBe('values');
    expect(c.record.activation).toBe('identity');
    samples.forEach((x, r) => expect(rows[r]).toBeCloseTo(zOf(x, bias), 4));
    expect(() => c.checkClass(1)).toThrow(/output 1 is out of range: the model has 1 output value/);
  });

  it('the error for a value read as a probability names the fix', async () => {
    const c = await loadOnnxClassifier(oracle('one-logit', -70), { activation: 'none' });
    const error = await runGlas(
      c,
      { sample: samples[1], baseline: 0, gridAxes: [1, 2, 3], spacing: [1, 1, 1] },
      { points: [[1, 1, 1]], sigmas: [{ light: 1, shadow: 1, spatial: 1 }] },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as Error).message).toMatch(/not a probability.*'identity'/);
    await c.dispose();
  });
});

describe('the hint of a flat explanation', () => {
  it('names the cause that fits: a saturated logit, a saturated probability, or neither', () => {
    expect(flatHint('sigmoid', 1)).toMatch(/--activation identity/);
    expect(flatHint('auto', 1 - 1e-7)).toMatch(/^P = 0\.99999990 is saturated.*check --normalize/);
    expect(flatHint('auto', 1, '--preprocess: its mean and std')).toMatch(
      /check --preprocess: its mean and std\)\.$/,
    );
    expect(flatHint('sigmoid', 0.6)).toMatch(/does not respond/); // not saturated: not the logit
    expect(flatHint('identity', 70)).toMatch(/does not respond/);
    // A float16 output saturates far sooner: 0.995 is within its 8 ulps (2⁻⁷) of 1, not float32's.
    expect(flatHint('auto', 0.995)).toMatch(/does not respond/);
    expect(flatHint('auto', 0.995, '--normalize', 2 ** -7)).toMatch(
      /^P = 0\.99500000 is saturated \(a float16 output cannot resolve/,
    );
  });
});

describe('which output holds the class scores', () => {
  /** A scikit-learn-like export: an int64 label first, then the probabilities. */
  function labelThenProbabilities(): Uint8Array {
    const g = new GraphBuilder('label_then_probabilities');
    const z = oracleLogit(g);
    const logits = g.node('Mul', [z, g.floats('pick1', [1, 2], [0, 1])]);
    g.node('ArgMax', [logits], { axis: 1 }, ['label']);
    g.node('Softmax', [logits], { axis: 1 }, ['probabilities']);
    g.output('label', ['N', 1], 'int64');
    g.output('probabilities', ['N', 2]);
    return g.toBytes();
  }

  it('skips an int64 label to the first float output, and says which it read', async () => {
    const { c, rows } = await predictBoth(labelThenProbabilities());
    expect(c.outputName).toBe('probabilities');
    expect(c.activation).toBe('none');
    expect(c.outputNote).toMatch(
      /has 2 outputs \('label' int64 \[N,1\], 'probabilities' float32 \[N,2\]\); explaining 'probabilities': --model-output NAME/,
    );
    samples.forEach((x, r) => expect(rows[2 * r + 1]).toBeCloseTo(sigmoid(zOf(x)), 6));
  });

  it('an output asked for by name that holds no class scores names the others', async () => {
    await expect(
      loadOnnxClassifier(labelThenProbabilities(), { outputName: 'label' }),
    ).rejects.toThrow(/output 'label' is int64; .*give --model-output with one of 'label' int64/);
    const one = await loadOnnxClassifier(oracle('one-logit'));
    expect(one.outputNote).toBeUndefined();
    await one.dispose();
  });
});
