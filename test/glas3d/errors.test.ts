/** Mistakes a caller can make, and broken models, end in a typed error that says what is wrong. */
import { describe, expect, it } from 'vitest';
import { ModelError, OptionError } from '../../src/errors.js';
import type { Classifier } from '../../src/glas3d/classifier.js';
import { runGlas, runRecursiveGlas } from '../../src/glas3d/index.js';
import type { GlasInput, GlasOptions } from '../../src/glas3d/index.js';
import { nonlinearClassifier, product } from './oracles.js';

const shape = [3, 6, 5];
const size = product(shape);
const classifier = nonlinearClassifier(shape, 3, 4);
const input: GlasInput = {
  sample: new Float32Array(size).fill(0.5),
  baseline: 0,
  gridAxes: [2, 1],
  spacing: [1, 1],
};
const options: GlasOptions = {
  points: [
    [1, 1],
    [3, 4],
  ],
  sigmas: [{ light: 2, shadow: 2, spatial: 2 }],
};

/** Returns NaN from the given model call on (0 = the unperturbed pass). */
function nanFrom(call: number): Classifier {
  let calls = 0;
  return {
    ...classifier,
    async predict(batch, n) {
      const p = await classifier.predict(batch, n);
      if (calls++ >= call) p[p.length - 1] = NaN;
      return p;
    },
  };
}

describe('errors', () => {
  it('target class out of range', async () => {
    for (const targetClass of [3, -1, 1.5]) {
      const run = runGlas(classifier, input, { ...options, targetClass });
      await expect(run).rejects.toThrow(OptionError);
      await expect(run).rejects.toThrow(/out of range: the model has 3 classes \(0\.\.2\)/);
    }
    await expect(
      runRecursiveGlas(classifier, input, {
        points: options.points,
        sigma: options.sigmas[0],
        targetClass: 9,
      }),
    ).rejects.toThrow(OptionError);
  });

  it('sample length differs from the model input', async () => {
    const run = runGlas(classifier, { ...input, sample: new Float32Array(size - 1) }, options);
    await expect(run).rejects.toThrow(ModelError);
    await expect(run).rejects.toThrow(/89 values but the model input \[3, 6, 5\] needs 90/);
  });

  it('baseline length differs from the model input', async () => {
    await expect(
      runGlas(classifier, { ...input, baseline: new Float32Array(7) }, options),
    ).rejects.toThrow(/baseline has 7 values/);
    await expect(runGlas(classifier, { ...input, baseline: NaN }, options)).rejects.toThrow(
      OptionError,
    );
  });

  it('a model that returns NaN, on the first pass or a perturbed one: the message says which', async () => {
    const first = runGlas(nanFrom(0), input, options);
    await expect(first).rejects.toThrow(ModelError);
    await expect(first).rejects.toThrow(
      /Model returned NaN for class 2 of sample 0 .*, on the input itself \(no perturbation yet\)/,
    );
    // The stub spoils the last row of the second call: all 4 copies (2 points × light, shadow)
    // fit one batch, so it is the shadow at the second point, (3, 4).
    const perturbed = runGlas(nanFrom(1), input, options);
    await expect(perturbed).rejects.toThrow(ModelError);
    await expect(perturbed).rejects.toThrow(
      /gives NaN for a perturbed copy \(shadow at search point 2 of 2, grid \(3, 4\), σ 2\), though it answers the input itself/,
    );
  });

  it('a model that returns too few values or no probabilities', async () => {
    const short: Classifier = { ...classifier, predict: async () => new Float32Array(2) };
    await expect(runGlas(short, input, options)).rejects.toThrow(/expected 3 probabilities/);
    const logits: Classifier = {
      ...classifier,
      predict: async (_b, n) => new Float32Array(n * 3).fill(4),
    };
    await expect(runGlas(logits, input, options)).rejects.toThrow(/not a probability/);
    // Three classes' worth of columns from a model that declares two: rows would be misread.
    const wide: Classifier = {
      ...classifier,
      classes: 2,
      predict: async (_b, n) => new Float32Array(n * 3).fill(1 / 3),
    };
    await expect(runGlas(wide, input, options)).rejects.toThrow(
      /returned 3 values for 1 sample\(s\) of 2 classes; expected 2 probabilities \(2 per sample\)/,
    );
    const noBatch: Classifier = { ...classifier, batchSize: 0 };
    await expect(runGlas(noBatch, input, options)).rejects.toThrow(ModelError);
  });

  it('grid axes, spacing, points, sigmas, mode and lambda are checked', async () => {
    const cases: Array<[Partial<GlasInput>, Partial<GlasOptions>, RegExp]> = [
      [{ gridAxes: [3, 1] }, {}, /names tensor axis 3/],
      [{ gridAxes: [1, 1] }, {}, /tensor axis 1 twice/],
      [{ spacing: [1] }, {}, /one spacing per grid axis/],
      [{ spacing: [1, 0] }, {}, /positive finite/],
      [{}, { points: [] }, /No search points/],
      [{}, { points: [[1, 2, 3]] }, /Search point 0 \[1, 2, 3\] needs 2/],
      [{}, { sigmas: [] }, /No sigma set/],
      [{}, { sigmas: [{ light: 1, shadow: -1, spatial: 1 }] }, /Sigma shadow = -1/],
      [{}, { mode: 'dark' as never }, /Mode 'dark' is unknown/],
      [{}, { lambda: -1 }, /lambda -1/],
    ];
    for (const [i, o, message] of cases) {
      await expect(runGlas(classifier, { ...input, ...i }, { ...options, ...o })).rejects.toThrow(
        message,
      );
    }
  });

  it('recursive options are checked', async () => {
    const base = { points: options.points, sigma: options.sigmas[0] };
    await expect(
      runRecursiveGlas(classifier, input, { ...base, maxIterations: 0 }),
    ).rejects.toThrow(/maxIterations 0/);
    await expect(runRecursiveGlas(classifier, input, { ...base, t1: NaN })).rejects.toThrow(
      OptionError,
    );
  });
});
