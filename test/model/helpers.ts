/** Test helpers that share nothing with the code under test. */

/** A small LCG: deterministic values in [-1, 1). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

export const randomArray = (n: number, seed: number, scale = 1): Float32Array => {
  const next = lcg(seed);
  return Float32Array.from({ length: n }, () => next() * scale);
};

/** sigmoid(a·Σ W·x − b) in double precision for sample k of a batch. */
export function oracleP1(
  weights: Float32Array,
  batch: Float32Array,
  k: number,
  a: number,
  b: number,
): number {
  const size = weights.length;
  let dot = 0;
  for (let i = 0; i < size; i++) dot += weights[i] * batch[k * size + i];
  return 1 / (1 + Math.exp(-(a * dot - b)));
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}
