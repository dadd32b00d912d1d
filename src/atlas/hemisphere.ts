/**
 * Which hemisphere a region belongs to: from its name when the name says so, else from where
 * its centre lies (NIfTI world space is RAS+: x < 0 is left).
 */
export type Hemisphere = 'L' | 'R' | 'midline';

/** Regions whose centre is closer than this to x = 0 (mm) count as midline. */
export const MIDLINE_MM = 2;

const LEFT = new Set(['l', 'left', 'lh', 'lhs']);
const RIGHT = new Set(['r', 'right', 'rh', 'rhs']);

/**
 * The side a region's name states, or undefined. The name is split into words at anything
 * that is not a letter or digit, so `Hippocampus_L`, `Left-Hippocampus`, `ctx-lh-insula`,
 * `lh.insula`, `7Networks_LH_Vis_1` and `L_V1_ROI` are all left. A name with words for both
 * sides (or none) states nothing.
 */
export function hemisphereFromName(name: string): 'L' | 'R' | undefined {
  const words = name
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  const left = words.some((w) => LEFT.has(w));
  const right = words.some((w) => RIGHT.has(w));
  if (left === right) return undefined;
  return left ? 'L' : 'R';
}

/** The side of a world x coordinate (mm, RAS+): |x| < `midlineMm` is the midline. */
export function hemisphereFromX(xMm: number, midlineMm = MIDLINE_MM): Hemisphere {
  if (Math.abs(xMm) < midlineMm) return 'midline';
  return xMm < 0 ? 'L' : 'R';
}

/** The name's side when it states one, else the side of the centre's x. */
export function hemisphereOf(name: string, centreXMm: number): Hemisphere {
  return hemisphereFromName(name) ?? hemisphereFromX(centreXMm);
}
