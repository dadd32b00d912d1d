/**
 * A tiny generic helper to assemble ONNX graphs in memory with onnx-proto: named initializers,
 * nodes with typed attributes, value infos with symbolic dims, and serialization to the bytes
 * onnxruntime loads. The model builders (onnx-builder.ts) are written on top of it.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

// onnx-proto is CommonJS: take the namespace object from the default export.
const { onnx } = onnxProto;

/** ONNX element types we use (TensorProto.DataType numbers). */
export const ElemType = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
} as const;
export type ElemTypeName = keyof typeof ElemType;

/** A dimension: a fixed size, or a symbolic name such as 'N'. */
export type Dim = number | string;

/** An attribute value; arrays of integers become INTS, plain integers INT, others FLOAT. */
export type AttrValue = number | number[] | string | { floats: number[] } | { float: number };

export const DEFAULT_OPSET = 13;
/** IR version 8 (ONNX 1.10) is what onnx-proto 8 encodes and onnxruntime 1.30 reads. */
export const DEFAULT_IR_VERSION = 8;

function attribute(name: string, value: AttrValue): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string')
    return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (typeof value === 'object' && 'floats' in value)
    return { name, type: T.FLOATS, floats: value.floats };
  if (typeof value === 'object') return { name, type: T.FLOAT, f: value.float };
  return Number.isInteger(value)
    ? { name, type: T.INT, i: value }
    : { name, type: T.FLOAT, f: value };
}

function valueInfo(name: string, elemType: number, dims: readonly Dim[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

/** Little-endian bytes of a typed array (ONNX raw_data is little-endian whatever the host). */
function littleEndianBytes(data: Float32Array | BigInt64Array): Uint8Array {
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  if (data instanceof Float32Array) {
    for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
  } else {
    for (let i = 0; i < data.length; i++) view.setBigInt64(8 * i, data[i], true);
  }
  return out;
}

export class GraphBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private counter = 0;

  constructor(private readonly graphName = 'glas3d') {}

  /** A fresh tensor name, unique within this graph. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, dims: readonly Dim[], elem: ElemTypeName = 'float32'): string {
    this.inputs.push(valueInfo(name, ElemType[elem], dims));
    return name;
  }

  output(name: string, dims: readonly Dim[], elem: ElemTypeName = 'float32'): string {
    this.outputs.push(valueInfo(name, ElemType[elem], dims));
    return name;
  }

  /** A float32 constant tensor; returns its name. */
  floats(prefix: string, dims: readonly number[], data: Float32Array | readonly number[]): string {
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    const size = dims.reduce((a, b) => a * b, 1);
    if (values.length !== size)
      throw new Error(`initializer ${prefix}: ${values.length} values for shape [${dims}]`);
    const name = this.fresh(prefix);
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: ElemType.float32,
      rawData: littleEndianBytes(values),
    });
    return name;
  }

  /** An int64 constant tensor (shapes, axes); returns its name. */
  int64s(prefix: string, values: readonly number[]): string {
    const name = this.fresh(prefix);
    this.initializers.push({
      name,
      dims: [values.length],
      dataType: ElemType.int64,
      rawData: littleEndianBytes(BigInt64Array.from(values, (v) => BigInt(v))),
    });
    return name;
  }

  /**
   * Add a node; returns the name of its (first) output. Pass `outputs` to name them yourself
   * (e.g. to write a graph output), otherwise one fresh name is made.
   */
  node(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, AttrValue> = {},
    outputs: readonly string[] = [this.fresh(opType.toLowerCase())],
  ): string {
    this.nodes.push({
      opType,
      name: this.fresh(`${opType}_node`),
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs[0];
  }

  /** Serialize to ModelProto bytes. */
  toBytes(opset = DEFAULT_OPSET, irVersion = DEFAULT_IR_VERSION): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion,
      producerName: 'glas3d',
      opsetImport: [{ domain: '', version: opset }],
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
