/**
 * What light and shadow blend toward in the 2-D mode, as [0, 1] RGB images of the crop (planar,
 * x fastest), normalised afterwards like the image itself:
 * - 'zero': black, the paper's choice (eq. 1–2 multiply the image by the mask);
 * - 'mean': the image's mean colour everywhere;
 * - 'blur': the image blurred by a Gaussian wide enough to wash out parts (default σ = one grid
 *   cell, e.g. 224/15 ≈ 14.9 px), so that a shadow removes detail but keeps colour and layout.
 */
import { OptionError } from '../errors.js';

export type ImageBaselineKind = 'zero' | 'mean' | 'blur';
export const IMAGE_BASELINES: readonly ImageBaselineKind[] = ['zero', 'mean', 'blur'];

/** The baseline image for `pixels` (3 planes of width × height, values in [0, 1]). */
export function imageBaseline(
  kind: ImageBaselineKind,
  pixels: Float32Array,
  width: number,
  height: number,
  blurSigmaPixels: number,
): Float32Array {
  switch (kind) {
    case 'zero':
      return new Float32Array(pixels.length);
    case 'mean':
      return meanColour(pixels, width * height);
    case 'blur':
      return gaussianBlur(pixels, width, height, blurSigmaPixels);
    default:
      throw new OptionError(
        `unknown baseline '${String(kind)}': use one of ${IMAGE_BASELINES.join(', ')}.`,
      );
  }
}

function meanColour(pixels: Float32Array, plane: number): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let c = 0; c * plane < pixels.length; c++) {
    let sum = 0;
    for (let i = 0; i < plane; i++) sum += pixels[c * plane + i];
    out.fill(sum / plane, c * plane, (c + 1) * plane);
  }
  return out;
}

/**
 * Separable Gaussian blur of each plane, σ in pixels, kernel cut at 4σ. Near the border the
 * weights that fall inside the image are renormalised, so edges keep their colour instead of
 * darkening toward an implied black outside.
 */
export function gaussianBlur(
  pixels: Float32Array,
  width: number,
  height: number,
  sigma: number,
): Float32Array {
  if (!(sigma > 0) || !Number.isFinite(sigma)) {
    throw new OptionError(`blur σ ${sigma} px must be a positive finite number.`);
  }
  const radius = Math.max(1, Math.ceil(4 * sigma));
  const kernel = new Float64Array(2 * radius + 1);
  for (let i = -radius; i <= radius; i++)
    kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  const plane = width * height;
  const tmp = new Float64Array(plane);
  const out = new Float32Array(pixels.length);
  for (let c = 0; c * plane < pixels.length; c++) {
    const base = c * plane;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const lo = Math.max(0, x - radius);
        const hi = Math.min(width - 1, x + radius);
        let sum = 0;
        let wsum = 0;
        for (let s = lo; s <= hi; s++) {
          const w = kernel[s - x + radius];
          sum += w * pixels[base + y * width + s];
          wsum += w;
        }
        tmp[y * width + x] = sum / wsum;
      }
    }
    for (let y = 0; y < height; y++) {
      const lo = Math.max(0, y - radius);
      const hi = Math.min(height - 1, y + radius);
      for (let x = 0; x < width; x++) {
        let sum = 0;
        let wsum = 0;
        for (let s = lo; s <= hi; s++) {
          const w = kernel[s - y + radius];
          sum += w * tmp[s * width + x];
          wsum += w;
        }
        out[base + y * width + x] = sum / wsum;
      }
    }
  }
  return out;
}
