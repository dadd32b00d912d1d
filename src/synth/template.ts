/**
 * The starting point of every synthetic subject: Colin27 (`ch2bet`, the brain AAL was drawn
 * on) and the AAL labels, both brought onto the output grid once per process, with the tissue
 * levels and brain mask the generator needs.
 */
import { atlasOnGrid, loadAal, type Atlas } from '../atlas/index.js';
import { OptionError } from '../errors.js';
import type { Vec3 } from '../volume/affine.js';
import {
  gaussianSmooth,
  MNI_GRIDS,
  readVolume,
  resample,
  spacingMm,
  voxelToMm,
  type Grid,
  type Volume,
} from '../volume/index.js';

/** Output grids the generator writes on (MNI152, FSL's LAS storage). Only the 2 mm grid is
 *  tested; the code is grid-generic, so adding MNI_GRIDS' finer grids is one word here. */
export const SYNTH_GRIDS = ['mni2mm'] as const;
export type SynthGridName = (typeof SYNTH_GRIDS)[number];

export interface SynthTemplate {
  gridName: SynthGridName;
  grid: Grid;
  /** Colin27 on the grid (anti-aliased before resampling), Colin27's intensity units. */
  image: Volume;
  /** The brain as a soft mask in [0, 1] on the grid (ch2bet > 0, resampled the same way). */
  brain: Volume;
  /** AAL labels on the grid (nearest), regions recomputed there. */
  atlas: Atlas;
  /** White-matter intensity of `image`: the histogram mode above the brain's median. */
  whiteMatter: number;
  /** Centre of mass of the brain mask, mm. */
  brainCentreMm: Vec3;
  /** Colin27's file, for truth.json. */
  source: string;
}

const cache = new Map<SynthGridName, Promise<SynthTemplate>>();

/** The template on a grid; loaded and resampled once per process and grid. */
export function loadSynthTemplate(gridName: SynthGridName = 'mni2mm'): Promise<SynthTemplate> {
  if (!(SYNTH_GRIDS as readonly string[]).includes(gridName)) {
    throw new OptionError(`grid ${gridName}: not one of ${SYNTH_GRIDS.join(', ')}.`);
  }
  let pending = cache.get(gridName);
  if (!pending) {
    pending = buildTemplate(gridName);
    cache.set(gridName, pending);
    pending.catch(() => cache.delete(gridName));
  }
  return pending;
}

async function buildTemplate(gridName: SynthGridName): Promise<SynthTemplate> {
  const grid = MNI_GRIDS[gridName];
  const aal = await loadAal();
  if (!aal.template) throw new OptionError('the AAL atlas has no template image (ch2bet).');
  const colin = await readVolume(aal.template);
  // Anti-alias before decimating: the Gaussian that takes Colin27's 1 mm resolution to the
  // output voxel size (FWHM² adds), so a 2 mm grid does not alias the cortex.
  const outMm = Math.max(...spacingMm(grid));
  const inMm = Math.min(...spacingMm(colin));
  const sigmaMm = Math.sqrt(Math.max(0, outMm * outMm - inMm * inMm)) / 2.3548;
  const image = resample(gaussianSmooth(colin, sigmaMm), grid, 'linear');
  const mask: Volume = { ...colin, data: colin.data.map((v) => (v > 0 ? 1 : 0)) };
  const brain = resample(gaussianSmooth(mask, sigmaMm), grid, 'linear');
  return {
    gridName,
    grid,
    image,
    brain,
    atlas: atlasOnGrid(aal, grid),
    whiteMatter: whiteMatterLevel(image, brain),
    brainCentreMm: maskCentre(brain),
    source: aal.template,
  };
}

/**
 * The white-matter level: T1 white matter is the brightest tissue class, so the mode of the
 * intensity histogram above the brain's median (histogram of 256 bins, lightly smoothed).
 */
export function whiteMatterLevel(image: Volume, brain: Volume): number {
  const values: number[] = [];
  let max = 0;
  for (let i = 0; i < image.data.length; i++) {
    if (brain.data[i] >= 0.99) {
      values.push(image.data[i]);
      if (image.data[i] > max) max = image.data[i];
    }
  }
  if (values.length === 0 || max <= 0) return 1;
  values.sort((a, b) => a - b);
  const median = values[values.length >> 1];
  const bins = 256;
  const hist = new Float64Array(bins);
  for (const v of values) if (v > median) hist[Math.min(bins - 1, Math.floor((v / max) * bins))]++;
  let best = 0;
  let bestCount = -1;
  for (let b = 2; b < bins - 2; b++) {
    const c = hist[b - 2] + hist[b - 1] + hist[b] + hist[b + 1] + hist[b + 2];
    if (c > bestCount) {
      bestCount = c;
      best = b;
    }
  }
  return ((best + 0.5) / bins) * max;
}

function maskCentre(mask: Volume): Vec3 {
  const [nx, ny, nz] = mask.dims;
  let s = 0;
  const c = [0, 0, 0];
  let o = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, o++) {
        const w = mask.data[o];
        if (w <= 0) continue;
        s += w;
        c[0] += w * i;
        c[1] += w * j;
        c[2] += w * k;
      }
    }
  }
  return voxelToMm(mask, [c[0] / s, c[1] / s, c[2] / s]);
}
