import type { Grid } from './volume.js';

/**
 * The standard MNI152 grids that template-normalized models are trained on (FSL's
 * MNI152_T1_*mm and SPM's defaults), voxel → mm, LAS storage as FSL writes them.
 */
export const MNI_GRIDS: Record<string, Grid> = {
  mni2mm: {
    dims: [91, 109, 91],
    affine: [
      [-2, 0, 0, 90],
      [0, 2, 0, -126],
      [0, 0, 2, -72],
      [0, 0, 0, 1],
    ],
  },
  'mni1.5mm': {
    dims: [121, 145, 121],
    affine: [
      [-1.5, 0, 0, 90],
      [0, 1.5, 0, -126],
      [0, 0, 1.5, -72],
      [0, 0, 0, 1],
    ],
  },
  mni1mm: {
    dims: [182, 218, 182],
    affine: [
      [-1, 0, 0, 90],
      [0, 1, 0, -126],
      [0, 0, 1, -72],
      [0, 0, 0, 1],
    ],
  },
  // The grid AAL and Colin27 (ch2bet) are distributed on with MRIcron.
  colin1mm: {
    dims: [181, 217, 181],
    affine: [
      [1, 0, 0, -90],
      [0, 1, 0, -125],
      [0, 0, 1, -71],
      [0, 0, 0, 1],
    ],
  },
};
