import { describe, expect, it } from 'vitest';
import { responseNumber, scoreColumn } from '../../src/cli/format.js';

describe('numbers for people', () => {
  it('a column of tiny scores is all in significant digits, a column of ordinary ones in decimals', () => {
    const tiny = scoreColumn([1.47e-6, 8.58e-7, 0]);
    expect([1.47e-6, 8.58e-7, 0].map(tiny)).toEqual(['1.47e-6', '8.58e-7', '0']);
    const ordinary = scoreColumn([0.5, 1.2e-7]);
    expect([0.5, 1.2e-7].map(ordinary)).toEqual(['0.5', '0']);
  });

  it('a tiny probability is not printed as 0', () => {
    expect(responseNumber(2.3e-9)).toBe('2.3e-9');
    expect(responseNumber(0.61686)).toBe('0.6169');
    expect(responseNumber(0)).toBe('0');
  });
});
