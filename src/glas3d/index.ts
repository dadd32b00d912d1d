/**
 * The GLAS engine: dimension-generic (2-D images and 3-D volumes alike) and pure. It knows a
 * sample in the model's layout, its grid, search points and a Classifier — never files or output.
 */
export type { Classifier, ResponseKind } from './classifier.js';
export type {
  GlasInput,
  GlasOptions,
  GlasResult,
  GlasSigmaResult,
  PerturbAndFuseJob,
} from './glas.js';
export { DEFAULT_LAMBDA, perturbAndFuse, runGlas } from './glas.js';
export { checkBatchIndependence } from './batch-check.js';
export type {
  RecursiveGlasOptions,
  RecursiveGlasPass,
  RecursiveGlasResult,
  RecursiveStopReason,
} from './recursive.js';
export { nearestGridIndex, runRecursiveGlas } from './recursive.js';
export type { GlasMode, SigmaSet } from './validate.js';
export type { GridLayout } from './layout.js';
export { gridStridesPerTensorAxis, resolveGridLayout } from './layout.js';
export type { SeparableMask } from './masks.js';
export {
  createSeparableMask,
  FACTOR_FLUSH_BELOW,
  MASK_CUT,
  gaussianFactorInto,
  outerProductInto,
  setGaussianMask,
  supportSpans,
  updateRowFactors,
} from './masks.js';
export type { Perturbation } from './perturb.js';
export { attenuateInto, perturbInto } from './perturb.js';
export type { FusionInput } from './fusion.js';
export { fuseMap } from './fusion.js';
export type { SearchPoint } from './search-points.js';
export { gridSearchPoints, searchPointsFromList } from './search-points.js';
export { argmaxRow, checkProbabilities, ForwardPassRunner } from './forward.js';
export { flatResponses, RESPONSE_NOISE } from './flat.js';
export type { PerturbationRows, PerturbingClassifier } from './in-graph.js';
export { perturbAndFuseInGraph, perturbInJs, runGlasInGraph } from './in-graph.js';
