/**
 * A small synthetic atlas with hand-computed geometry, shared by the atlas and stats tests.
 *
 * Grid: 12×10×8 voxels, LAS, anisotropic voxels 2 × 2.5 × 3 mm:
 *   x = 10 − 2i,  y = −10 + 2.5j,  z = 4 + 3k   (voxel volume 15 mm³)
 */
import type { Grid, Volume } from '../../src/volume/index.js';

export const GRID: Grid = {
  dims: [12, 10, 8],
  affine: [
    [-2, 0, 0, 10],
    [0, 2.5, 0, -10],
    [0, 0, 3, 4],
    [0, 0, 0, 1],
  ],
};

export interface Shape {
  index: number;
  name: string;
  has: (i: number, j: number, k: number) => boolean;
}

/** Regions as predicates on voxel indices (the test's own truth, not the library's). */
export const SHAPES: Shape[] = [
  // Box 3×3×3 = 27 voxels, 405 mm³, centre voxel (2, 3, 1) → (6, −2.5, 7) mm: right by position.
  { index: 1, name: 'BoxA', has: (i, j, k) => i >= 1 && i <= 3 && j >= 2 && j <= 4 && k <= 2 },
  // 1×2×2 = 4 voxels, 60 mm³, centre (5, 5.5, 0.5) → (0, 3.75, 5.5) mm: midline.
  { index: 3, name: 'Middle', has: (i, j, k) => i === 5 && (j === 5 || j === 6) && k <= 1 },
  // Box 4×2×3 = 24 voxels, 360 mm³, centre (7.5, 0.5, 4) → (−5, −8.75, 16) mm: left of the
  // midline, but its name says right, and the name wins.
  {
    index: 7,
    name: 'Thing_R',
    has: (i, j, k) => i >= 6 && i <= 9 && j <= 1 && k >= 3 && k <= 5,
  },
  // An L in the slice k = 6: row j = 9 for i = 0..6 (7 voxels) and column i = 0 for j = 3..8
  // (6 voxels): 13 voxels, 195 mm³. Centre of mass (21/13, 96/13, 6) → (88/13, 110/13, 22) mm,
  // nearest voxel (2, 7, 6) is not in the L. In voxel units (0, 7, 6) and (2, 9, 6) are
  // equally near the centre; in mm (x step 2, y step 2.5) (0, 7, 6) is nearer:
  // (42/13)² + (12.5/13)² < (10/13)² + (52.5/13)². Search point (0, 7, 6) → (10, 7.5, 22) mm.
  {
    index: 12,
    name: 'Ell',
    has: (i, j, k) => k === 6 && ((j === 9 && i <= 6) || (i === 0 && j >= 3 && j <= 8)),
  },
];

export function shapeAt(i: number, j: number, k: number): Shape | undefined {
  return SHAPES.find((s) => s.has(i, j, k));
}

export function syntheticLabels(): Volume {
  const [nx, ny, nz] = GRID.dims;
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) data[i + nx * (j + ny * k)] = shapeAt(i, j, k)?.index ?? 0;
    }
  }
  return { dims: [...GRID.dims], affine: GRID.affine.map((r) => [...r]), data };
}

export const NAMES = SHAPES.map((s) => ({ index: s.index, name: s.name }));
