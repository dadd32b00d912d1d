/**
 * The anatomical part of a subject's deformation: what makes two subjects' brains differ in
 * shape without any disease. A global scale about the brain centre plus a smooth random
 * displacement of a few mm, both as a backward map from the output grid into the template:
 *
 *   y(x) = c + (x − c) / scale + u(x)      (x: output voxel centre, mm; y: template point, mm)
 *
 * so the brain appears scaled by `scale` and displaced by about −u. u is a sum of
 * low-frequency cosine products per component, rescaled so its largest length inside the brain
 * is `maxDisplacementMm`.
 */
import type { Vec3 } from '../volume/affine.js';
import type { Grid, Volume } from '../volume/index.js';
import type { Rng } from './rng.js';
import {
  evaluateField,
  maxMagnitude,
  randomSmoothField,
  scaleInPlace,
  type SmoothField,
} from './smooth-field.js';

export interface AnatomySpec {
  /** Isotropic scale of the brain about `centreMm` (1.05: 5% larger). */
  scale: number;
  centreMm: Vec3;
  /** Largest displacement length inside the brain, mm. */
  maxDisplacementMm: number;
  /** One smooth field per displacement component (x, y, z in mm, before rescaling). */
  components: [SmoothField, SmoothField, SmoothField];
}

export interface AnatomyDraw {
  scale: readonly [number, number];
  maxDisplacementMm: readonly [number, number];
  terms: number;
  maxCycles: number;
}

export function drawAnatomy(rng: Rng, draw: AnatomyDraw, centreMm: Vec3): AnatomySpec {
  const scale = rng.range(draw.scale[0], draw.scale[1]);
  const maxDisplacementMm = rng.range(draw.maxDisplacementMm[0], draw.maxDisplacementMm[1]);
  const components: [SmoothField, SmoothField, SmoothField] = [
    randomSmoothField(rng, draw.terms, draw.maxCycles),
    randomSmoothField(rng, draw.terms, draw.maxCycles),
    randomSmoothField(rng, draw.terms, draw.maxCycles),
  ];
  return { scale, centreMm, maxDisplacementMm, components };
}

/** The anatomical warp evaluated on the output grid: the displacement in mm per voxel. */
export interface AnatomyWarp {
  spec: AnatomySpec;
  grid: Grid;
  ux: Float32Array;
  uy: Float32Array;
  uz: Float32Array;
}

/** Evaluate the displacement on `grid`, scaled so its largest length where `brain` > 0 is the
 *  spec's maximum. */
export function buildAnatomyWarp(spec: AnatomySpec, grid: Grid, brain: Volume): AnatomyWarp {
  const ux = evaluateField(spec.components[0], grid.dims);
  const uy = evaluateField(spec.components[1], grid.dims);
  const uz = evaluateField(spec.components[2], grid.dims);
  const max = maxMagnitude(brain.data, ux, uy, uz);
  if (max > 0) scaleInPlace(spec.maxDisplacementMm / max, ux, uy, uz);
  return { spec, grid, ux, uy, uz };
}

/**
 * y(x) for output voxel `o` whose centre is (x0, x1, x2) mm, written into `out`.
 */
export function anatomyPoint(
  warp: AnatomyWarp,
  o: number,
  x0: number,
  x1: number,
  x2: number,
  out: Float64Array,
): void {
  const { centreMm: c, scale } = warp.spec;
  out[0] = c[0] + (x0 - c[0]) / scale + warp.ux[o];
  out[1] = c[1] + (x1 - c[1]) / scale + warp.uy[o];
  out[2] = c[2] + (x2 - c[2]) / scale + warp.uz[o];
}
