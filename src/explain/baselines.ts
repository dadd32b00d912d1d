/**
 * What light and shadow blend toward (light = I·G + B·(1−G), shadow = I·(1−G) + B·G).
 *
 * The paper multiplies by the mask, i.e. B = 0. In MRI dark means tissue loss, so a zero shadow
 * looks like atrophy and pushes an AD model the wrong way; the other baselines keep the volume
 * looking like a brain. All are volumes on the subject's grid, in the subject's intensity units.
 */
import { OptionError } from '../errors.js';
import {
  foregroundMask,
  gaussianSmooth,
  resample,
  sameGrid,
  type Volume,
} from '../volume/index.js';

export type BaselineKind = 'zero' | 'mean' | 'blur' | 'template';
export const BASELINE_KINDS: readonly BaselineKind[] = ['zero', 'mean', 'blur', 'template'];

/** A named baseline, or a volume (e.g. a control-group mean) resampled onto the subject's grid. */
export type BaselineSpec = BaselineKind | Volume;

export interface BaselineContext {
  /** The atlas's template (Colin27 for AAL), any grid: needed for 'template'. */
  template?: Volume;
  /** σ of the 'blur' baseline in mm (default 10). */
  blurSigmaMm?: number;
}

export const DEFAULT_BLUR_SIGMA_MM = 10;

/** The baseline volume for a subject: 0 for 'zero', else a Float32Array on its grid. */
export function makeBaseline(
  spec: BaselineSpec,
  subject: Volume,
  context: BaselineContext = {},
): Float32Array | number {
  if (typeof spec !== 'string') {
    const onGrid = sameGrid(spec, subject) ? spec : resample(spec, subject, 'linear');
    return onGrid.data;
  }
  switch (spec) {
    case 'zero':
      return 0;
    case 'mean':
      return meanBaseline(subject);
    case 'blur': {
      const sigma = context.blurSigmaMm ?? DEFAULT_BLUR_SIGMA_MM;
      // σ 0 would make the baseline the volume itself: every shadow a no-op, the map flat.
      if (!(sigma > 0 && Number.isFinite(sigma)))
        throw new OptionError(`blur σ ${sigma} mm must be a positive number of mm.`);
      return gaussianSmooth(subject, sigma).data;
    }
    case 'template': {
      if (!context.template) {
        throw new OptionError(
          "baseline 'template' needs a T1 template in the atlas's space (AAL comes with Colin27): give --template FILE (library: the atlas's template), or use --baseline mean, blur, zero or a volume FILE.",
        );
      }
      return templateBaseline(subject, context.template);
    }
    default:
      throw new OptionError(
        `unknown baseline '${String(spec)}': use one of ${BASELINE_KINDS.join(', ')} or a volume file.`,
      );
  }
}

/** The subject's mean brain intensity inside its foreground, its own values outside. */
function meanBaseline(subject: Volume): Float32Array {
  const mask = foregroundMask(subject);
  const d = subject.data;
  let sum = 0;
  let n = 0;
  for (let o = 0; o < d.length; o++) {
    if (mask[o]) {
      sum += d[o];
      n++;
    }
  }
  const mean = n > 0 ? sum / n : 0;
  const out = Float32Array.from(d);
  for (let o = 0; o < d.length; o++) if (mask[o]) out[o] = mean;
  return out;
}

/**
 * The template on the subject's grid, scaled so that its mean over the template's brain equals
 * the subject's mean over the same voxels; the subject's background value outside the brain.
 */
function templateBaseline(subject: Volume, template: Volume): Float32Array {
  const t = sameGrid(template, subject) ? template : resample(template, subject, 'linear');
  const brain = foregroundMask(t);
  const s = subject.data;
  let sumT = 0;
  let sumS = 0;
  for (let o = 0; o < s.length; o++) {
    if (brain[o]) {
      sumT += t.data[o];
      sumS += s[o];
    }
  }
  if (sumT === 0) {
    throw new OptionError(
      'the template does not overlap the subject: is the subject in the template (MNI) space?',
    );
  }
  const scale = sumS / sumT;
  const out = Float32Array.from(s);
  for (let o = 0; o < s.length; o++) if (brain[o]) out[o] = t.data[o] * scale;
  return out;
}
