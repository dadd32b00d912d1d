/** Parsers for option values shared by commands; each throws an OptionError a user can act on. */
import { OptionError } from '../errors.js';

/** "10" or "5,10,15" → positive numbers. */
export function parseNumberList(flag: string) {
  return (value: string): number[] => {
    const list = value.split(',').map((s) => Number(s.trim()));
    if (list.length === 0 || list.some((x) => !Number.isFinite(x) || x <= 0)) {
      throw new OptionError(
        `${flag} ${value}: give positive numbers separated by commas, e.g. ${flag} 5,10,15.`,
      );
    }
    return list;
  };
}

/** A non-negative whole number. */
export function parseCount(flag: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw new OptionError(`${flag} ${value}: give a whole number ≥ ${min}.`);
    }
    return n;
  };
}
