/** Models: ONNX classifiers, tensor layouts, and in-memory model builders for tests and benches. */
export {
  loadOnnxClassifier,
  OnnxClassifier,
  DEFAULT_BATCH_SIZE,
  DEVICES,
  type Device,
  type ModelRecord,
  type OnnxClassifierOptions,
} from './onnx-classifier.js';
export {
  defaultAxisOrder,
  fromModelTensor,
  gridAxesOf,
  inferLayout,
  LAYOUTS,
  spatialRank,
  toModelTensor,
  type AxisOrder,
  type GridAxes,
  type Layout,
} from './layout.js';
export { ACTIVATIONS, type Activation } from './activation.js';
export { flatHint, flatWarnings } from './flat-warning.js';
export {
  buildLinearOracle,
  buildNanModel,
  buildPaperCnn3d,
  type LinearOracleSpec,
  type OracleOutput,
  type PaperCnn3dSpec,
} from './onnx-builder.js';
export { GraphBuilder, type Dim } from './onnx-graph.js';
export { ioFromProto, type ModelIo, type TensorIo } from './model-io.js';
export {
  addPerturbationNodes,
  buildPerturbationGraph,
  clearCombinedModelCache,
  combineWithPerturbation,
  defaultCacheDir,
  prepareCombinedModel,
  PERTURBATION_INPUTS,
  type CombinedModel,
  type CombineOptions,
  type PerturbationGraphSpec,
  type PerturbationInput,
  type PrepareOptions,
} from './perturbation-graph.js';
export {
  InGraphOnnxClassifier,
  loadInGraphClassifier,
  loadClassifiers,
  preferredPerturbationSite,
  probeInGraphBatchSize,
  sourcePerturbationSite,
  type Classifiers,
  type ClassifiersOptions,
  type ModelLoadOptions,
  PERTURBATION_SITES,
  type PerturbationSite,
  type InGraphClassifierOptions,
} from './combined-model.js';
export {
  DEFAULT_MAX_BATCH,
  GPU_MAX_BATCH,
  GPU_MAX_BATCH_BYTES,
  maxBatchFor,
  probeBatchSize,
  probeClassifierBatchSize,
  withBatchSize,
  type BatchProbeOptions,
  type BatchProbeResult,
  type BatchProbeTrial,
} from './batch-probe.js';
export {
  AUTO_ORDER,
  DEVICE_CHOICES,
  loadOnnxClassifierOn,
  onDevice,
  type DeviceAttempt,
  type DeviceChoice,
  type DeviceOutcome,
} from './device-auto.js';
export {
  dequantizeModel,
  dequantizeNotes,
  isQuantizedModel,
  modelSource,
  QUANTIZED_OPS,
  type ModelSource,
} from './dequantize.js';
export { sessionOptions } from './session-options.js';
export { buildFusionGraph, DeviceFusion, DEVICE_FUSION_MIN_TERMS } from './fusion-graph.js';
export { rewriteForWebGpu } from './gpu-rewrite.js';
