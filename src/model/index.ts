/** Models: ONNX classifiers, tensor layouts, and in-memory model builders for tests and benches. */
export {
  loadOnnxClassifier,
  OnnxClassifier,
  DEFAULT_BATCH_SIZE,
  DEVICES,
  type Device,
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
