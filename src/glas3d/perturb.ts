import type { GridLayout } from './layout.js';
import { gridStridesPerTensorAxis } from './layout.js';
import type { SeparableMask } from './masks.js';
import { supportSpans } from './masks.js';

/** Light keeps the sample where the mask is 1; shadow removes it there. */
export type Perturbation = 'light' | 'shadow';

/**
 * Writes one perturbed copy of `sample` into out[offset … offset + sample.length):
 *   light:  B + (I − B)·G   (= I·G + B·(1 − G))
 *   shadow: I − (I − B)·G   (= I·(1 − G) + B·G)
 * with G the separable mask and B the baseline (a sample-sized array or a constant;
 * B = 0 gives the paper's I·G and I·(1 − G)). All arrays are in the model's layout.
 * Where G < MASK_CUT the copy is left at B (light) or I (shadow): the slot is then first filled
 * with that by a plain copy, and only G's support is computed (see MASK_CUT for the bound).
 */
export function perturbInto(
  out: Float32Array,
  offset: number,
  sample: Float32Array,
  baseline: Float32Array | number,
  mask: SeparableMask,
  kind: Perturbation,
): void {
  const factors = mask.factors;
  const last = factors[factors.length - 1];
  const rowLength = last.length;
  const rowFactors = mask.rowFactors;
  const rows = rowFactors.length;
  const spans = mask.spans;
  if (!supportSpans(mask)) {
    const untouched = kind === 'light' ? baseline : sample;
    if (typeof untouched === 'number') out.fill(untouched, offset, offset + sample.length);
    else out.set(untouched, offset);
  }
  // Four specialised loops so the inner loop carries no branch; each row runs over its span only.
  if (typeof baseline === 'number') {
    const b = baseline;
    if (kind === 'light') {
      for (let r = 0; r < rows; r++) {
        const c = rowFactors[r];
        const base = r * rowLength;
        const o = offset + base;
        for (let j = spans[2 * r], j1 = spans[2 * r + 1]; j < j1; j++) {
          out[o + j] = b + (sample[base + j] - b) * (c * last[j]);
        }
      }
    } else {
      for (let r = 0; r < rows; r++) {
        const c = rowFactors[r];
        const base = r * rowLength;
        const o = offset + base;
        for (let j = spans[2 * r], j1 = spans[2 * r + 1]; j < j1; j++) {
          const s = sample[base + j];
          out[o + j] = s - (s - b) * (c * last[j]);
        }
      }
    }
  } else if (kind === 'light') {
    for (let r = 0; r < rows; r++) {
      const c = rowFactors[r];
      const base = r * rowLength;
      const o = offset + base;
      for (let j = spans[2 * r], j1 = spans[2 * r + 1]; j < j1; j++) {
        const b = baseline[base + j];
        out[o + j] = b + (sample[base + j] - b) * (c * last[j]);
      }
    }
  } else {
    for (let r = 0; r < rows; r++) {
      const c = rowFactors[r];
      const base = r * rowLength;
      const o = offset + base;
      for (let j = spans[2 * r], j1 = spans[2 * r + 1]; j < j1; j++) {
        const s = sample[base + j];
        out[o + j] = s - (s - baseline[base + j]) * (c * last[j]);
      }
    }
  }
}

/**
 * Dims the sample where a grid-order map is high: out = B + (I − B)·(1 − S), S broadcast over
 * the tensor axes outside the grid. With B = 0 this is Algorithm 1's I ← I ⊙ (1 − S).
 * `out` may be `sample` itself.
 */
export function attenuateInto(
  out: Float32Array,
  sample: Float32Array,
  baseline: Float32Array | number,
  layout: GridLayout,
  gridMap: Float32Array,
): void {
  const shape = layout.shape;
  const rank = shape.length;
  const strides = gridStridesPerTensorAxis(layout);
  const rowLength = shape[rank - 1];
  const innerStride = strides[rank - 1];
  const rows = layout.sampleSize / rowLength;
  // Grid-map offset of each row start, built like an outer product but additive.
  const rowOffsets = new Int32Array(rows);
  let length = 1;
  for (let t = 0; t < rank - 1; t++) {
    const d = shape[t];
    const stride = strides[t];
    for (let i = length - 1; i >= 0; i--) {
      const p = rowOffsets[i];
      for (let j = d - 1; j >= 0; j--) rowOffsets[i * d + j] = p + j * stride;
    }
    length *= d;
  }
  const baselineArray = typeof baseline === 'number' ? null : baseline;
  const constant = typeof baseline === 'number' ? baseline : 0;
  for (let r = 0; r < rows; r++) {
    const base = r * rowLength;
    const g = rowOffsets[r];
    for (let j = 0; j < rowLength; j++) {
      const b = baselineArray === null ? constant : baselineArray[base + j];
      out[base + j] = b + (sample[base + j] - b) * (1 - gridMap[g + j * innerStride]);
    }
  }
}
