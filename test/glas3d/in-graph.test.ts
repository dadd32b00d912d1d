/**
 * perturbInJs, the host reference of the in-graph perturbation, makes its copies in the runner's
 * batch workspace (refilling slots incrementally); every copy it feeds the model must be, bit for
 * bit, the one perturbInto writes, through any sequence of setSample, predictSample (which writes
 * slot 0) and predictPerturbed calls. A classifier hashing every bit of its input shows any
 * difference.
 */
import { describe, expect, it } from 'vitest';
import { LIGHT, perturbInJs, SHADOW } from '../../src/glas3d/in-graph.js';
import { hashClassifier, product, referenceCopy, seededRandom } from './oracles.js';

const shape = [2, 18, 22];
const gridAxes = [2, 1];
const spacing = [1, 1.25];
const size = product(shape);
const classes = 3;
const batchSize = 5;

describe('perturbInJs feeds the model exactly perturbInto’s copies', () => {
  it('across samples, baselines and unperturbed passes in between', async () => {
    const rand = seededRandom(17);
    const classifier = hashClassifier(shape, classes, batchSize);
    const perturbing = perturbInJs(classifier, gridAxes);
    await expect(perturbing.predictSample()).rejects.toThrow(/setSample/);

    for (const baseline of [0, -0.5, Float32Array.from({ length: size }, () => rand())]) {
      for (let round = 0; round < 2; round++) {
        const sample = Float32Array.from({ length: size }, () => 3 * rand() - 1);
        sample[1] = -0;
        const input = { sample, baseline, gridAxes, spacing };
        await perturbing.setSample(sample, baseline, spacing);
        for (const call of ['perturbed', 'perturbed', 'sample', 'perturbed', 'perturbed']) {
          if (call === 'sample') {
            // Writes the sample into slot 0, which held a copy.
            const p = await perturbing.predictSample();
            expect(Array.from(p)).toEqual(Array.from(await classifier.predict(sample, 1)));
            continue;
          }
          // Mostly full calls of light and shadow copies by turns, sometimes a shorter one; small
          // σ, so masks end well inside the grid and slots are patched rather than rewritten.
          const n = rand() < 0.7 ? batchSize : 1 + Math.floor(rand() * batchSize);
          const rows = {
            centres: Float64Array.from({ length: 2 * n }, (_, i) => rand() * (i % 2 ? 18 : 22)),
            sigmas: Float64Array.from({ length: n }, () => 0.5 + 2 * rand()),
            kinds: Uint8Array.from({ length: n }, (_, k) => ((k + round) % 2 ? LIGHT : SHADOW)),
          };
          const got = await perturbing.predictPerturbed(rows, n);
          const want: number[] = [];
          for (let k = 0; k < n; k++) {
            const centre = [rows.centres[2 * k], rows.centres[2 * k + 1]];
            const kind = rows.kinds[k] === LIGHT ? 'light' : 'shadow';
            const copy = referenceCopy(input, shape, centre, rows.sigmas[k], kind);
            want.push(...(await classifier.predict(copy, 1)));
          }
          expect(Array.from(got.subarray(0, n * classes))).toEqual(want);
        }
      }
    }
  });
});
