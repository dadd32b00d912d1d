/** What to tell a user whose explanation came out flat (see glas3d/flat.ts), and why it might. */
import { flatResponses } from '../glas3d/flat.js';
import type { GlasResult } from '../glas3d/glas.js';
import type { GlasMode } from '../glas3d/validate.js';
import type { Activation } from './activation.js';

/** The float type whose rounding (8 units in the last place) is `responseNoise`. */
function outputPrecision(responseNoise: number): string {
  return responseNoise >= 2 ** -7 ? 'float16' : responseNoise <= 2 ** -49 ? 'float64' : 'float32';
}

/**
 * The likely cause of a flat explanation, and what to do about it. A probability within the
 * output's rounding (`responseNoise`, OnnxClassifier's; default float32's 2⁻²⁰) of 0 or 1 is
 * saturated: its float type barely moves it.
 */
export function flatHint(
  activation: Activation,
  reference: number,
  inputOption = '--normalize',
  responseNoise = 2 ** -20,
): string {
  const saturated =
    activation !== 'identity' && (reference <= responseNoise || reference >= 1 - responseNoise);
  if (saturated && activation === 'sigmoid')
    return (
      "The model's one output is read as a logit, and its sigmoid saturates (beyond about ±17): " +
      'if the output is a value such as a predicted age, read it as one with --activation identity ' +
      "(library: activation 'identity'); if it is a probability already, with --activation none."
    );
  if (saturated)
    return (
      `P = ${reference.toPrecision(8)} is saturated (a ${outputPrecision(responseNoise)} output cannot resolve smaller changes there): ` +
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
        `${label(i)}: the explanation is flat, its ranking rounding noise: ${why}. ${flatHint(activation, result.pOriginal, inputOption, responseNoise)}`,
      );
  });
  return warnings;
}
