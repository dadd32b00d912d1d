export * from './affine.js';
export * from './datatypes.js';
export * from './grids.js';
export * from './nifti.js';
export * from './orientation.js';
export * from './resample.js';
export * from './volume.js';
export { writeFileAtomic } from './atomic.js';
export * from './smooth.js';
