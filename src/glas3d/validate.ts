import { ModelError, OptionError } from '../errors.js';
import type { GridLayout } from './layout.js';

/** Weighting of the fused map: both passes (the paper's GLAS) or one of its ablations. */
export type GlasMode = 'light' | 'shadow' | 'fusion';

/** One scale: σ of the light mask, of the shadow mask and of eq. 3's spatial weight (physical units). */
export interface SigmaSet {
  readonly light: number;
  readonly shadow: number;
  readonly spatial: number;
}

const MODES: readonly GlasMode[] = ['light', 'shadow', 'fusion'];

export function checkSample(sample: Float32Array, layout: GridLayout): void {
  if (!(sample instanceof Float32Array) || sample.length !== layout.sampleSize) {
    throw new ModelError(
      `The sample has ${sample?.length ?? 'no'} values but the model input ` +
        `[${layout.shape.join(', ')}] needs ${layout.sampleSize}; resample or reshape it to the model's input.`,
    );
  }
}

export function checkBaseline(baseline: Float32Array | number, layout: GridLayout): void {
  if (typeof baseline === 'number') {
    if (!Number.isFinite(baseline)) {
      throw new OptionError(`Baseline ${baseline} must be a finite number.`);
    }
  } else if (!(baseline instanceof Float32Array) || baseline.length !== layout.sampleSize) {
    throw new OptionError(
      `The baseline has ${baseline?.length ?? 'no'} values but the model input ` +
        `[${layout.shape.join(', ')}] needs ${layout.sampleSize} (or give one number).`,
    );
  }
}

export function checkMode(mode: GlasMode): void {
  if (!MODES.includes(mode)) {
    throw new OptionError(`Mode '${mode}' is unknown; use one of ${MODES.join(', ')}.`);
  }
}

export function checkSigmaSets(sigmas: readonly SigmaSet[]): void {
  if (sigmas.length === 0) {
    throw new OptionError('No sigma set given: pass at least one { light, shadow, spatial }.');
  }
  for (const s of sigmas) {
    for (const key of ['light', 'shadow', 'spatial'] as const) {
      const v = s?.[key];
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
        throw new OptionError(`Sigma ${key} = ${v} must be a positive finite number.`);
      }
    }
  }
}

export function checkLambda(lambda: number): void {
  if (!Number.isFinite(lambda) || lambda < 0) {
    throw new OptionError(`lambda ${lambda} must be a finite number ≥ 0.`);
  }
}

export function checkTargetClass(targetClass: number, classes: number): void {
  if (!Number.isInteger(targetClass) || targetClass < 0 || targetClass >= classes) {
    throw new OptionError(
      `Target class ${targetClass} is out of range: the model has ${classes} classes (0..${classes - 1}).`,
    );
  }
}

/** The perturbations a mode needs, in the order they are run for each point. */
export function perturbationsFor(mode: GlasMode): readonly ('light' | 'shadow')[] {
  return mode === 'fusion' ? ['light', 'shadow'] : [mode];
}

/**
 * Light (eq. 1) and fusion (eq. 3) weight each search point by the target's response itself,
 * which a probability never makes negative; a model's raw value (a regression) can.
 */
export function checkLightResponse(response: number, mode: GlasMode, where: string): void {
  if (mode !== 'shadow' && response < 0)
    throw new OptionError(
      `Mode '${mode}' weights each search point by the model's response, which must not be negative, but it is ${response} ${where}. ` +
        `The response is no probability (a raw output such as a regression): use mode 'shadow', which explains how the output changes.`,
    );
}
