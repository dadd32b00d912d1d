/** What to tell a user whose explanation came out flat (see glas3d/flat.ts), and why it might. */
import { flatResponses } from '../glas3d/flat.js';
import type { GlasResult } from '../glas3d/glas.js';
import type { GlasMode } from '../glas3d/validate.js';
import type { Activation } from './activation.js';

/** A probability this close to 0 or 1 is saturated: float32 barely moves it. */
const SATURATED = 1e-6;

/** The likely cause of a flat explanation, and what to do about it. */
export function flatHint(
  activation: Activation,
  reference: number,
  inputOption = '--normalize',
): string {
  const saturated =
    activation !== 'identity' && (reference <= SATURATED || reference >= 1 - SATURATED);
  if (saturated && activation === 'sigmoid')
    return (
      "The model's one output is read as a logit, and its sigmoid saturates (beyond about ±17): " +
      'if the output is a value such as a predicted age, read it as one with --activation identity ' +
      "(library: activation 'identity'); if it is a probability already, with --activation none."
    );
  if (saturated)
    return (
      `P = ${reference.toPrecision(8)} is saturated (float32 cannot resolve smaller changes there): ` +
      `a very confident prediction, or input unlike the training data (check ${inputOption}).`
    );
  return 'The model does not respond to these perturbations: try a larger σ or another baseline.';
}

/**
 * One warning per σ set of `result` whose ranking carries no information, each ending in the
 * hint; `label(i)` names σ set i (e.g. "σ 5 mm").
 */
export function flatWarnings(
  result: GlasResult,
  mode: GlasMode,
  classifier: { activation: Activation; responseNoise?: number },
  label: (set: number) => string,
  inputOption?: string,
): string[] {
  const { activation, responseNoise } = classifier;
  const warnings: string[] = [];
  result.perSigma.forEach((s, i) => {
    const why = flatResponses(s, mode, result.pOriginal, responseNoise);
    if (why)
      warnings.push(
        `${label(i)}: the explanation is flat, its ranking rounding noise: ${why}. ${flatHint(activation, result.pOriginal, inputOption)}`,
      );
  });
  return warnings;
}
