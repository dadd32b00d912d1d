import { describe, expect, it } from 'vitest';
import { flatResponses, RESPONSE_NOISE, type GlasSigmaResult } from '../../src/glas3d/index.js';

const result = (light: number[], shadowDelta: number[]): GlasSigmaResult => ({
  sigma: { light: 1, shadow: 1, spatial: 1 },
  map: new Float32Array(1),
  light: Float64Array.from(light),
  shadow: Float64Array.from(shadowDelta, (d) => Math.abs(d) + 1e-5),
  shadowDelta: Float64Array.from(shadowDelta),
  score: new Float64Array(light.length),
});

describe('flatResponses', () => {
  it('shadow and fusion are flat when no shadow moves the response beyond rounding', () => {
    const flat = result([1, 1, 1], [0, -2e-8, 5e-8]);
    expect(flatResponses(flat, 'shadow', 1)).toMatch(/no shadow at any of the 3 search points/);
    expect(flatResponses(flat, 'fusion', 1)).toMatch(/largest change 5\.0e-8/);
    expect(flatResponses(flat, 'fusion', 1)).not.toMatch(/--mode light/);
    // Light responses that differ: fusion's order is theirs times noise; light mode ranks by them.
    const lit = result([0.4, 0.9, 0.7], [0, -2e-8, 5e-8]);
    expect(flatResponses(lit, 'fusion', 1)).toMatch(
      /light responses do differ \(spread 0\.50\): --mode light ranks by them alone$/,
    );
    expect(flatResponses(lit, 'shadow', 1)).not.toMatch(/--mode light/);
    // One shadow that moves the response is an answer.
    expect(flatResponses(result([1, 1, 1], [0, -1e-3, 0]), 'fusion', 1)).toBeUndefined();
  });

  it("a float16 model's rounding is coarser: one of its steps (2⁻¹¹ at 0.9) is noise, not evidence", () => {
    const step = 2 ** -11;
    const halfStep = result([0.9, 0.9, 0.9], [0, -step, step]);
    expect(flatResponses(halfStep, 'shadow', 0.9)).toBeUndefined(); // float32's rule: a change
    expect(flatResponses(halfStep, 'shadow', 0.9, 2 ** -7)).toMatch(/moved the response/);
    expect(flatResponses(result([0.9, 0.9], [0, -0.05]), 'shadow', 0.9, 2 ** -7)).toBeUndefined();
  });

  it('rounding scales with the response: a value of 70 moves in steps of 70·2⁻²⁰', () => {
    const step = 70 * RESPONSE_NOISE;
    expect(flatResponses(result([70, 70], [step / 2, 0]), 'shadow', 70)).toBeDefined();
    expect(flatResponses(result([70, 70], [step * 4, 0]), 'shadow', 70)).toBeUndefined();
  });

  it('light is flat when every point gives the same response, whatever the shadows', () => {
    expect(flatResponses(result([0.4, 0.4, 0.4], [0.3, 0, 0]), 'light', 0.5)).toMatch(
      /same response at all 3 search points/,
    );
    expect(flatResponses(result([0.4, 0.41, 0.4], [0, 0, 0]), 'light', 0.5)).toBeUndefined();
  });
});
