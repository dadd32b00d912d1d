/**
 * In-memory ONNX models for tests and benches: a linear oracle whose answer is known in closed
 * form, the GLAS paper's 3D CNN with seeded random weights, and small misbehaving models.
 * All return the serialized ModelProto bytes (opset 13, IR version 8) that onnxruntime loads.
 */
import { GraphBuilder, type Dim, type ElemTypeName } from './onnx-graph.js';
import { normalArray, normalSampler } from './prng.js';

/**
 * What the linear oracle outputs, with z = a·Σ W·x − b per sample:
 * - 'two-logits': [N, 2] = [0, z], so softmax gives P(class 1) = sigmoid(z);
 * - 'one-logit': [N, 1] = z;
 * - 'probabilities': [N, 2] = [1 − sigmoid(z), sigmoid(z)], by arithmetic after a Sigmoid;
 * - 'one-probability': [N, 1] = sigmoid(z), the graph ending in Sigmoid (Keras' binary head);
 * - 'softmax': [N, 2] = Softmax([0, z]) followed by a Flatten, = [1 − sigmoid(z), sigmoid(z)].
 */
export type OracleOutput =
  'two-logits' | 'one-logit' | 'probabilities' | 'one-probability' | 'softmax';

export interface LinearOracleSpec {
  /** Sample shape without batch, e.g. [1, 91, 109, 91]. */
  inputShape: readonly number[];
  /** prod(inputShape) weights, in the model's memory order (C order over inputShape). */
  weights: Float32Array;
  /** a in z = a·Σ W·x − b. */
  scale: number;
  /** b in z = a·Σ W·x − b. */
  bias: number;
  output: OracleOutput;
  inputName?: string;
  outputName?: string;
  /** Batch dimension: symbolic by default ('N'); a number fixes it. */
  batch?: Dim;
  /**
   * Sample dims as declared in the graph input (default inputShape); strings make dims symbolic,
   * to test models whose shape must be given by the user. Data must still fit inputShape.
   */
  declaredShape?: readonly Dim[];
  /** Input element type (default float32); other types are Cast to float inside the graph. */
  inputType?: ElemTypeName;
  /** More graph outputs after the main one (to test choosing an output by name). */
  extraOutputs?: readonly { name: string; kind: OracleOutput }[];
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** Emit the oracle head for one output kind from z [N, 1] into graph output `name`. */
function oracleHead(g: GraphBuilder, z: string, kind: OracleOutput, name: string, batch: Dim) {
  if (kind === 'one-logit') {
    g.node('Identity', [z], {}, [name]);
    g.output(name, [batch, 1]);
    return;
  }
  if (kind === 'one-probability') {
    g.node('Sigmoid', [z], {}, [name]);
    g.output(name, [batch, 1]);
    return;
  }
  if (kind === 'two-logits') {
    // [N,1] · [1,2] broadcast = [0·z, z]
    g.node('Mul', [z, g.floats('pick1', [1, 2], [0, 1])], {}, [name]);
  } else if (kind === 'softmax') {
    const logits = g.node('Mul', [z, g.floats('pick1', [1, 2], [0, 1])]);
    const p = g.node('Softmax', [logits], { axis: 1 });
    g.node('Flatten', [p], { axis: 1 }, [name]);
  } else {
    // p·[−1, 1] + [1, 0] = [1 − p, p]
    const p = g.node('Sigmoid', [z]);
    const signed = g.node('Mul', [p, g.floats('sign', [1, 2], [-1, 1])]);
    g.node('Add', [signed, g.floats('offset', [1, 2], [1, 0])], {}, [name]);
  }
  g.output(name, [batch, 2]);
}

/** A linear model z = a·Σ W·x − b (Flatten → MatMul with W as [K, 1] → Mul → Sub). */
export function buildLinearOracle(spec: LinearOracleSpec): Uint8Array {
  const k = product(spec.inputShape);
  if (spec.weights.length !== k)
    throw new Error(
      `buildLinearOracle: ${spec.weights.length} weights for shape [${spec.inputShape}]`,
    );
  const batch = spec.batch ?? 'N';
  const g = new GraphBuilder('linear_oracle');
  let x = g.input(
    spec.inputName ?? 'input',
    [batch, ...(spec.declaredShape ?? spec.inputShape)],
    spec.inputType,
  );
  if (spec.inputType && spec.inputType !== 'float32') x = g.node('Cast', [x], { to: 1 }); // 1 = FLOAT
  const flat = g.node('Flatten', [x], { axis: 1 });
  const dot = g.node('MatMul', [flat, g.floats('W', [k, 1], spec.weights)]);
  const scaled = g.node('Mul', [dot, g.floats('a', [], [spec.scale])]);
  const z = g.node('Sub', [scaled, g.floats('b', [], [spec.bias])]);
  oracleHead(g, z, spec.output, spec.outputName ?? 'output', batch);
  for (const extra of spec.extraOutputs ?? []) oracleHead(g, z, extra.kind, extra.name, batch);
  return g.toBytes();
}

export interface PaperCnn3dSpec {
  /** Sample shape [1, D, H, W] (NCDHW). */
  inputShape: readonly number[];
  /** Seed of the weight generator: the same seed gives the same model. */
  seed: number;
  /** Trained weights (PyTorch layouts: Conv3d [out, in, 3, 3, 3], Linear [out, in]); else random. */
  weights?: PaperCnn3dWeights;
  /** Output classes (default 2). */
  classes?: number;
  /** Filters per convolution (default 10, as in the paper). */
  filters?: number;
  inputName?: string;
  outputName?: string;
}

export interface PaperCnn3dWeights {
  conv: Array<{ weight: Float32Array; bias: Float32Array }>;
  dense: Array<{ weight: Float32Array; bias: Float32Array }>;
}

/**
 * The GLAS paper's 3D CNN: 3 × [Conv3d 3×3×3 (10 filters, padding 1 so the convolution keeps the
 * size), ReLU, MaxPool 2×2×2 stride 2 (floor)], Flatten, Gemm→32, SELU, Gemm→16, SELU,
 * Gemm→classes, Softmax. Weights are seeded random: He-normal for the ReLU convolutions,
 * LeCun-normal for the SELU dense layers, zero biases. Output: probabilities [N, classes].
 */
export function buildPaperCnn3d(spec: PaperCnn3dSpec): Uint8Array {
  if (spec.inputShape.length !== 4)
    throw new Error(`buildPaperCnn3d: inputShape must be [C, D, H, W], got [${spec.inputShape}]`);
  const classes = spec.classes ?? 2;
  const filters = spec.filters ?? 10;
  const normal = normalSampler(spec.seed);
  const g = new GraphBuilder('paper_cnn3d');
  let x = g.input(spec.inputName ?? 'input', ['N', ...spec.inputShape]);
  let channels = spec.inputShape[0];
  let spatial = spec.inputShape.slice(1);
  for (let layer = 0; layer < 3; layer++) {
    const fanIn = channels * 27;
    const given = spec.weights?.conv[layer];
    const w = g.floats(
      'conv_w',
      [filters, channels, 3, 3, 3],
      checkedLength(given?.weight, filters * fanIn) ??
        normalArray(normal, filters * fanIn, Math.sqrt(2 / fanIn)),
    );
    const b = g.floats(
      'conv_b',
      [filters],
      checkedLength(given?.bias, filters) ?? new Float32Array(filters),
    );
    x = g.node('Conv', [x, w, b], { kernel_shape: [3, 3, 3], pads: [1, 1, 1, 1, 1, 1] });
    x = g.node('Relu', [x]);
    x = g.node('MaxPool', [x], { kernel_shape: [2, 2, 2], strides: [2, 2, 2] });
    channels = filters;
    spatial = spatial.map((d) => Math.floor(d / 2));
    if (spatial.some((d) => d < 1))
      throw new Error(
        `buildPaperCnn3d: input [${spec.inputShape}] is too small for three 2×2×2 poolings`,
      );
  }
  x = g.node('Flatten', [x], { axis: 1 });
  let width = channels * product(spatial);
  const dense = [32, 16, classes];
  dense.forEach((units, i) => {
    const given = spec.weights?.dense[i];
    const w = g.floats(
      'fc_w',
      [units, width],
      checkedLength(given?.weight, units * width) ??
        normalArray(normal, units * width, Math.sqrt(1 / width)),
    );
    const b = g.floats(
      'fc_b',
      [units],
      checkedLength(given?.bias, units) ?? new Float32Array(units),
    );
    x = g.node('Gemm', [x, w, b], { transB: 1 });
    if (i < dense.length - 1) x = g.node('Selu', [x]);
    width = units;
  });
  const out = spec.outputName ?? 'output';
  g.node('Softmax', [x], { axis: 1 }, [out]);
  g.output(out, ['N', classes]);
  return g.toBytes();
}

function checkedLength(a: Float32Array | undefined, n: number): Float32Array | undefined {
  if (a && a.length !== n) {
    throw new Error(`buildPaperCnn3d: a weight array has ${a.length} values, the layer needs ${n}`);
  }
  return a;
}

/**
 * A model that outputs NaN for some samples: [N, 2] = [0, 1]·sqrt(Σx), so a sample whose values
 * sum to a negative number gives NaN (0·NaN is NaN too) and the others give finite values.
 */
export function buildNanModel(spec: {
  inputShape: readonly number[];
  inputName?: string;
}): Uint8Array {
  const k = product(spec.inputShape);
  const g = new GraphBuilder('nan_model');
  const x = g.input(spec.inputName ?? 'input', ['N', ...spec.inputShape]);
  const flat = g.node('Flatten', [x], { axis: 1 });
  const sum = g.node('MatMul', [flat, g.floats('ones', [k, 1], new Float32Array(k).fill(1))]);
  const root = g.node('Sqrt', [sum]);
  g.node('Mul', [root, g.floats('pick1', [1, 2], [0, 1])], {}, ['output']);
  g.output('output', ['N', 2]);
  return g.toBytes();
}
