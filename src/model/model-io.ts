/**
 * Names, element types and shapes of a model's inputs and outputs. onnxruntime-node 1.30 gives
 * them in `session.inputMetadata`/`outputMetadata` (symbolic dims as strings); when a session
 * does not (older runtimes, non-tensor values) they are read from the ModelProto with onnx-proto.
 */
import onnxProto from 'onnx-proto';
import type * as ort from 'onnxruntime-node';

const { onnx } = onnxProto;

/** A dimension: a size, or a symbolic name ('' when the model leaves it unnamed). */
export type IoDim = number | string;

export interface TensorIo {
  name: string;
  /** Element type as onnxruntime names it ('float32', 'int64', …), or 'unknown'. */
  type: string;
  /** Dims, or undefined when the model does not declare a shape. */
  shape: IoDim[] | undefined;
}

export interface ModelIo {
  inputs: TensorIo[];
  outputs: TensorIo[];
}

const ELEM_NAMES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

export const isSymbolic = (d: IoDim): d is string => typeof d === 'string' || d < 0;

function fromMetadata(meta: readonly ort.InferenceSession.ValueMetadata[]): TensorIo[] {
  return meta.map((m) =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: m.shape.length ? [...m.shape] : undefined }
      : { name: m.name, type: 'non-tensor', shape: undefined },
  );
}

/** Inputs and outputs as the session reports them, or undefined when it reports none. */
export function ioFromSession(session: ort.InferenceSession): ModelIo | undefined {
  if (!session.inputMetadata || !session.outputMetadata) return undefined;
  return {
    inputs: fromMetadata(session.inputMetadata),
    outputs: fromMetadata(session.outputMetadata),
  };
}

// Decoded messages carry field defaults on their prototype: only own properties were present.
const has = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);

function protoDim(d: import('onnx-proto').onnx.TensorShapeProto.IDimension): IoDim {
  if (has(d, 'dimValue') && d.dimValue != null) return Number(d.dimValue.toString()); // int64: Long or number
  return has(d, 'dimParam') ? (d.dimParam ?? '') : '';
}

function protoIo(v: import('onnx-proto').onnx.IValueInfoProto): TensorIo {
  const tensor = v.type?.tensorType;
  const dims = tensor?.shape?.dim;
  return {
    name: v.name ?? '',
    type: tensor ? (ELEM_NAMES[tensor.elemType ?? 0] ?? 'unknown') : 'non-tensor',
    shape: dims ? dims.map(protoDim) : undefined,
  };
}

/** Inputs (initializers excluded) and outputs read from ModelProto bytes. */
export function ioFromProto(bytes: Uint8Array): ModelIo {
  const graph = onnx.ModelProto.decode(bytes).graph;
  const initializers = new Set((graph?.initializer ?? []).map((t) => t.name));
  return {
    inputs: (graph?.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(protoIo),
    outputs: (graph?.output ?? []).map(protoIo),
  };
}

export const formatShape = (shape: readonly IoDim[] | undefined): string =>
  shape ? `[${shape.map((d) => (typeof d === 'string' ? d || '?' : d)).join(',')}]` : '[unknown]';

/**
 * Operators that move or relabel values without changing them, and Clip, which only narrows
 * their range (torch.clamp(sigmoid(x), ε, 1 − ε) is still a probability).
 */
const PASS_THROUGH_OPS = new Set([
  'Clip',
  'Identity',
  'Reshape',
  'Flatten',
  'Squeeze',
  'Unsqueeze',
  'Transpose',
  'Cast',
  'Dropout',
]);

/**
 * The operator that computes output `outputName`, looking through ops that only reshape, copy or
 * clip (so a Softmax followed by a Flatten counts as Softmax); undefined when the output is a graph
 * input or initializer, or the bytes are no model.
 */
export function finalOpOf(bytes: Uint8Array, outputName: string): string | undefined {
  let nodes: import('onnx-proto').onnx.INodeProto[];
  try {
    nodes = onnx.ModelProto.decode(bytes).graph?.node ?? [];
  } catch {
    return undefined;
  }
  const producer = new Map<string, import('onnx-proto').onnx.INodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  let node = producer.get(outputName);
  for (let hops = 0; node && hops < nodes.length; hops++) {
    const op = node.opType ?? '';
    if (!PASS_THROUGH_OPS.has(op)) return op;
    node = producer.get(node.input?.[0] ?? '');
  }
  return undefined;
}
