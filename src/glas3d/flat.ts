/**
 * Whether a GLAS run's responses say anything. A model whose target response never moves — a
 * saturated probability, a regression output squashed by a sigmoid, a model blind to the
 * perturbations — still yields a map and a ranking, but one made of float rounding and of the
 * search points' order. Callers warn instead of presenting it.
 */
import type { GlasSigmaResult } from './glas.js';
import type { GlasMode } from './validate.js';

/**
 * Changes within this, relative to the reference (at least absolute), are float32 rounding (a
 * model with float16 outputs passes its own, coarser noise).
 */
export const RESPONSE_NOISE = 2 ** -20;

/**
 * A sentence saying why σ set `result`'s ranking carries no information, or undefined when it
 * does: shadow and fusion rank by how much a shadow moves the response (eq. 2), so they are flat
 * when no shadow moves it beyond rounding; light ranks by the response under light (eq. 1).
 */
export function flatResponses(
  result: Pick<GlasSigmaResult, 'light' | 'shadowDelta'>,
  mode: GlasMode,
  reference: number,
  relativeNoise = RESPONSE_NOISE,
): string | undefined {
  const noise = relativeNoise * Math.max(1, Math.abs(reference));
  const spread = (values: Float64Array) => {
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    return max - min;
  };
  if (mode === 'light') {
    const s = spread(result.light);
    return s <= noise
      ? `light gave the same response at all ${result.light.length} search points (spread ${s.toPrecision(2)})`
      : undefined;
  }
  let largest = 0;
  for (const d of result.shadowDelta) largest = Math.max(largest, Math.abs(d));
  if (largest > noise) return undefined;
  // Fusion multiplies by the light response: an order of sorts, times noise. Light alone is one.
  const lightSpread = spread(result.light);
  const lightNote =
    mode === 'fusion' && lightSpread > noise
      ? `; the light responses do differ (spread ${lightSpread.toPrecision(2)}): --mode light ranks by them alone`
      : '';
  return `no shadow at any of the ${result.shadowDelta.length} search points moved the response from ${reference.toPrecision(8)} by more than rounding (largest change ${largest.toPrecision(2)})${lightNote}`;
}
