/** The 2-D baselines against closed forms: constants, an impulse, a mean colour. */
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import { gaussianBlur, imageBaseline } from '../../src/image/index.js';

describe('image baselines', () => {
  it('blur keeps a flat image flat, edges included (weights renormalised at the border)', () => {
    const w = 20;
    const h = 12;
    const flat = new Float32Array(3 * w * h);
    flat.fill(0.25, 0, w * h);
    flat.fill(0.5, w * h, 2 * w * h);
    flat.fill(1, 2 * w * h);
    const out = gaussianBlur(flat, w, h, 3);
    for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(flat[i], 6);
  });

  it('blur of an impulse far from the border is a sampled Gaussian of σ', () => {
    const w = 41;
    const h = 41;
    const sigma = 2.5;
    const img = new Float32Array(3 * w * h);
    img[20 + w * 20] = 1;
    const out = gaussianBlur(img, w, h, sigma);
    // Discrete normaliser of the separable kernel cut at 4σ (radius 10).
    let z = 0;
    for (let i = -10; i <= 10; i++) z += Math.exp(-(i * i) / (2 * sigma * sigma));
    for (const [dx, dy] of [
      [0, 0],
      [1, 0],
      [3, 4],
      [-5, 2],
    ]) {
      const want = Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) / (z * z);
      expect(out[20 + dx + w * (20 + dy)]).toBeCloseTo(want, 7);
    }
    // Other planes untouched (all zero).
    expect(out.subarray(w * h).every((v) => v === 0)).toBe(true);
  });

  it("'mean' is the mean colour per channel, 'zero' is black", () => {
    const w = 2;
    const h = 2;
    const px = Float32Array.from([0, 0.2, 0.4, 0.6, 1, 1, 1, 1, 0.1, 0.1, 0.3, 0.3]);
    expect(Array.from(imageBaseline('mean', px, w, h, 1)).map((v) => +v.toFixed(6))).toEqual([
      0.3, 0.3, 0.3, 0.3, 1, 1, 1, 1, 0.2, 0.2, 0.2, 0.2,
    ]);
    expect(Array.from(imageBaseline('zero', px, w, h, 1))).toEqual(new Array(12).fill(0));
  });

  it('a bad σ or kind is an OptionError', () => {
    const px = new Float32Array(12);
    expect(() => gaussianBlur(px, 2, 2, 0)).toThrow(OptionError);
    expect(() => imageBaseline('noise' as unknown as 'zero', px, 2, 2, 1)).toThrow(OptionError);
  });
});
