/**
 * The scanner's smooth intensity inhomogeneity: a multiplicative bias field 1 + β(x), with β a
 * low-frequency random field whose largest magnitude inside the brain is the drawn amplitude
 * (0.1: ±10%).
 */
import type { Grid, Volume } from '../volume/index.js';
import type { Rng } from './rng.js';
import {
  evaluateField,
  maxMagnitude,
  randomSmoothField,
  scaleInPlace,
  type SmoothField,
} from './smooth-field.js';

export interface BiasSpec {
  /** Largest |β| inside the brain. */
  amplitude: number;
  field: SmoothField;
}

export interface BiasDraw {
  amplitude: readonly [number, number];
  terms: number;
  maxCycles: number;
}

export function drawBias(rng: Rng, draw: BiasDraw): BiasSpec {
  const amplitude = rng.range(draw.amplitude[0], draw.amplitude[1]);
  return { amplitude, field: randomSmoothField(rng, draw.terms, draw.maxCycles) };
}

/** The multiplicative factor 1 + β on `grid`. */
export function biasField(spec: BiasSpec, grid: Grid, brain: Volume): Float32Array {
  const beta = evaluateField(spec.field, grid.dims);
  const max = maxMagnitude(brain.data, beta);
  if (max > 0) scaleInPlace(spec.amplitude / max, beta);
  for (let i = 0; i < beta.length; i++) beta[i] += 1;
  return beta;
}
