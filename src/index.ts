/**
 * glas3d: GLAS (Gaussian light and shadow) explanations for 3-D CNNs on brain MRI and for 2-D
 * image classifiers, over ONNX models. The typed library API; the CLI is a thin shell over it.
 *
 * Data flows one way: volume → atlas → engine (glas3d) → report.
 */
export * from './errors.js';
export * from './volume/index.js';
export * from './atlas/index.js';
export * from './glas3d/index.js';
export * from './model/index.js';
export * from './explain/baselines.js';
export * from './explain/explain-volume.js';
export * from './report/explanation-files.js';
export * from './report/table.js';
export * from './cohort/index.js';
// synth's Group ('AD' | 'NC') would clash with the cohort's; reach it as synth.Group.
export * as synth from './synth/index.js';
export { synthesizeCohort, DEFAULT_ATROPHY_REGIONS } from './synth/index.js';
export * from './image/index.js';
