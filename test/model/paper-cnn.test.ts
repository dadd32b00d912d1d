import { describe, expect, it } from 'vitest';
import { buildPaperCnn3d, loadOnnxClassifier } from '../../src/model/index.js';
import { randomArray } from './helpers.js';

async function rowsSumToOne(shape: number[], n: number, classes = 2) {
  const clf = await loadOnnxClassifier(buildPaperCnn3d({ inputShape: shape, seed: 7, classes }));
  try {
    expect(clf.inputShape).toEqual(shape);
    expect(clf.layout).toBe('NCDHW');
    expect(clf.classes).toBe(classes);
    const size = shape.reduce((a, b) => a * b, 1);
    const probs = await clf.predict(randomArray(n * size, 3), n);
    expect(probs.length).toBe(n * classes);
    for (let k = 0; k < n; k++) {
      let sum = 0;
      for (let c = 0; c < classes; c++) {
        const p = probs[k * classes + c];
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThanOrEqual(1);
        sum += p;
      }
      expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
    }
    return probs;
  } finally {
    await clf.dispose();
  }
}

describe('paper 3D CNN', () => {
  it('runs on a small grid, batch 3, with 3 classes', async () => {
    await rowsSumToOne([1, 24, 28, 24], 3, 3);
  });

  it('runs on 1×91×109×91, batch 2', async () => {
    await rowsSumToOne([1, 91, 109, 91], 2);
  });

  it('the same seed gives the same model, another seed another', async () => {
    const a = buildPaperCnn3d({ inputShape: [1, 16, 16, 16], seed: 1 });
    expect(buildPaperCnn3d({ inputShape: [1, 16, 16, 16], seed: 1 })).toEqual(a);
    expect(buildPaperCnn3d({ inputShape: [1, 16, 16, 16], seed: 2 })).not.toEqual(a);
  });

  it('refuses grids too small for three poolings', () => {
    expect(() => buildPaperCnn3d({ inputShape: [1, 4, 16, 16], seed: 1 })).toThrow(/too small/);
  });
});
