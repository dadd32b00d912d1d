/**
 * classResponses makes its perturbed copies in the runner's batch workspace (the WebAssembly
 * kernel, refilling slots incrementally); every copy it feeds the model must be, bit for bit, the
 * one perturbInto writes. A classifier hashing every bit of its input makes any difference show.
 */
import { describe, expect, it } from 'vitest';
import {
  gridSearchPoints,
  type GlasInput,
  type Perturbation,
  type SearchPoint,
} from '../../src/glas3d/index.js';
import { BatchWorkspace } from '../../src/glas3d/batch-workspace.js';
import { classResponses } from '../../src/image/index.js';
import { hashClassifier, product, referenceCopy, seededRandom } from '../glas3d/oracles.js';

const cases = [
  // σ of a step or two: masks are cut well inside the image, so slots are patched, not rewritten.
  { name: '2-D NCHW', shape: [3, 24, 32], gridAxes: [2, 1], spacing: [1, 1], k: 5 },
  {
    name: '2-D NHWC, anisotropic',
    shape: [20, 26, 3],
    gridAxes: [1, 0],
    spacing: [0.8, 1.3],
    k: 4,
  },
  { name: '3-D', shape: [1, 14, 12, 16], gridAxes: [3, 2, 1], spacing: [1.5, 1, 2], k: 3 },
];

function sampleOf(size: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  const sample = Float32Array.from({ length: size }, () => 2 * rand() - 0.5);
  sample[0] = -0; // signed zeros, where B = 0 and B = −0 give different bits
  sample[size - 1] = 0;
  return sample;
}

/** What the classifier answers for each (σ, point) copy made by perturbInto. */
async function referenceRows(
  classifier: ReturnType<typeof hashClassifier>,
  input: GlasInput,
  points: readonly SearchPoint[],
  sigma: number,
  kind: Perturbation,
): Promise<number[]> {
  const rows: number[] = [];
  for (const point of points) {
    const copy = referenceCopy(input, classifier.inputShape, point, sigma, kind);
    rows.push(...(await classifier.predict(copy, 1)));
  }
  return rows;
}

describe('classResponses feeds the model exactly perturbInto’s copies', () => {
  it('the workspace uses the WebAssembly kernel here (else this compares perturbInto to itself)', () => {
    expect(new BatchWorkspace(2, [3, 4, 5]).usesKernel).toBe(true);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const size = product(c.shape);
      const rand = seededRandom(size);
      // An odd batch size: slots hold light and shadow copies by turns and change kind.
      const classifier = hashClassifier(c.shape, 3, 5);
      const gridDims = c.gridAxes.map((t) => c.shape[t]);
      const points = gridSearchPoints(gridDims, c.k);
      const bothSigmas = { lightSigmas: [1.2, 4], shadowSigmas: [0.7, 2.5] };
      // Runs in a row on one classifier, each on a new sample: later runs reuse the first one's
      // workspace, whose slots still hold the last run's copies (shadow, then light ones).
      const runs = [
        { ...bothSigmas, given: false },
        { lightSigmas: [], shadowSigmas: [2.5], given: true },
        { lightSigmas: [4, 1.2], shadowSigmas: [], given: false },
        { ...bothSigmas, given: true },
      ];
      let seed = 1;
      for (const baseline of [0, 0.25, Float32Array.from({ length: size }, () => rand() - 0.5)]) {
        for (const { lightSigmas, shadowSigmas, given } of runs) {
          const input: GlasInput = {
            sample: sampleOf(size, seed++),
            baseline,
            gridAxes: c.gridAxes,
            spacing: c.spacing,
          };
          const unperturbed = await classifier.predict(Float32Array.from(input.sample), 1);
          const got = await classResponses(classifier, input, points, {
            lightSigmas,
            shadowSigmas,
            probabilities: given ? unperturbed : undefined,
          });
          const passes = (lightSigmas.length + shadowSigmas.length) * points.length;
          expect(got.forwardPasses).toBe((given ? 0 : 1) + passes);
          expect(Array.from(got.probabilities)).toEqual(Array.from(unperturbed));
          for (const [kind, sigmas, rows] of [
            ['light', lightSigmas, got.light],
            ['shadow', shadowSigmas, got.shadow],
          ] as const) {
            for (const sigma of sigmas) {
              const want = await referenceRows(classifier, input, points, sigma, kind);
              expect(Array.from(rows.get(sigma) ?? []), `${kind} σ ${sigma}`).toEqual(want);
            }
          }
        }
      }
    });
  }
});
