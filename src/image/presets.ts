/**
 * Named parameter sets for the 2-D mode (σ in grid cells, one cell = image size / k).
 * - ilsvrc: the paper's ImageNet setting, k 15, σ_light 5, σ_shadow 3, σ_spatial 6 — kept after
 *   the σ sweep on the 45 VOC pointing photos (README, "2D mode");
 * - fine-grained: the paper's setting for fine-grained birds (CUB), σ 3 for all three, k 15.
 */
import type { SigmaSet } from '../glas3d/index.js';

export interface ImagePreset {
  readonly grid: number;
  /** In grid cells. */
  readonly sigma: SigmaSet;
}

export type ImagePresetName = 'ilsvrc' | 'fine-grained';

export const IMAGE_PRESETS: Readonly<Record<ImagePresetName, ImagePreset>> = {
  ilsvrc: { grid: 15, sigma: { light: 5, shadow: 3, spatial: 6 } },
  'fine-grained': { grid: 15, sigma: { light: 3, shadow: 3, spatial: 3 } },
};

export const IMAGE_PRESET_NAMES = Object.keys(IMAGE_PRESETS) as ImagePresetName[];
