/**
 * The float twin of a quantized ONNX model (QOperator format: QuantizeLinear, QLinearConv,
 * QLinearAdd, QLinearMatMul, QLinearGlobalAveragePool, DequantizeLinear). GPU providers have no
 * kernels for the QLinear operators (onnxruntime's WebGPU provider leaves 68 of MobileNetV2-int8's
 * 73 nodes on the CPU), so a GPU runs the twin instead: the same int8 weights, dequantized
 * (w − zero point)·scale, and float activations. Each quantized output's saturation is kept as a
 * Clip to the range its 8 bits could hold (which is how ReLU6 lives in such models); only the
 * rounding of activations to 8 bits is gone, so probabilities differ from the int8 model's by
 * about its own quantization noise. A twin is a different numeric model: callers must say so.
 */
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { ModelError } from '../errors.js';
import type { Device } from './session-options.js';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

/** The QLinear operators this file rewrites; any other op is kept as it is. */
export const QUANTIZED_OPS = [
  'QuantizeLinear',
  'DequantizeLinear',
  'QLinearConv',
  'QLinearAdd',
  'QLinearMatMul',
  'QLinearGlobalAveragePool',
] as const;

/** Whether the model holds any operator of QUANTIZED_OPS. */
export function isQuantizedModel(bytes: Uint8Array): boolean {
  return isQuantizedProto(onnx.ModelProto.decode(bytes));
}

const isQuantizedProto = (model: OnnxTypes.IModelProto): boolean =>
  (model.graph?.node ?? []).some((n) =>
    (QUANTIZED_OPS as readonly string[]).includes(n.opType ?? ''),
  );

/** The first initializer a model keeps in an external data file (model.onnx.data), if any. */
export const externalInitializer = (
  model: OnnxTypes.IModelProto,
): OnnxTypes.ITensorProto | undefined =>
  (model.graph?.initializer ?? []).find(
    (t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL,
  );

/** Values of an int8/uint8/int32/float initializer as numbers. */
function tensorValues(t: OnnxTypes.ITensorProto): Float64Array {
  const count = (t.dims ?? []).reduce<number>((p, d) => p * Number(d), 1);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const out = new Float64Array(count);
  if (raw) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) {
      switch (t.dataType) {
        case T.INT8:
          out[i] = view.getInt8(i);
          break;
        case T.UINT8:
          out[i] = view.getUint8(i);
          break;
        case T.INT32:
          out[i] = view.getInt32(4 * i, true);
          break;
        case T.FLOAT:
          out[i] = view.getFloat32(4 * i, true);
          break;
        default:
          throw new ModelError(`dequantize: initializer ${t.name} has data type ${t.dataType}`);
      }
    }
  } else {
    const list = t.dataType === T.FLOAT ? t.floatData : t.int32Data;
    for (let i = 0; i < count; i++) out[i] = Number(list?.[i] ?? 0);
  }
  return out;
}

function littleEndianFloats(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(4 * values.length);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  return bytes;
}

/** The integer range of a zero-point tensor's type. */
function quantRange(zeroPoint: OnnxTypes.ITensorProto): [number, number] {
  return zeroPoint.dataType === T.INT8 ? [-128, 127] : [0, 255];
}

export function dequantizeModel(bytes: Uint8Array, modelName = 'model'): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) throw new ModelError(`${modelName} has no graph`);
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const constant = (name: string | null | undefined): OnnxTypes.ITensorProto => {
    const t = initializers.get(name ?? '');
    if (!t)
      throw new ModelError(
        `dequantize: ${modelName} computes the quantization parameter ${name} at run time; ` +
          `only constant scales, zero points and weights are supported`,
      );
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)
      throw new ModelError(
        `dequantize: ${modelName} keeps initializer ${name} in external data; save the model with its weights inside`,
      );
    return t;
  };
  const scalar = (name: string | null | undefined) => tensorValues(constant(name))[0];
  const added: OnnxTypes.ITensorProto[] = [];
  let counter = 0;
  const floats = (prefix: string, dims: readonly number[], values: ArrayLike<number>) => {
    const name = `dequantized/${prefix}_${counter++}`;
    added.push({
      name,
      dims: [...dims],
      dataType: T.FLOAT,
      rawData: littleEndianFloats(values),
    });
    return name;
  };
  const nodes: OnnxTypes.INodeProto[] = [];
  const node = (
    opType: string,
    input: string[],
    output: string[],
    attribute = [] as OnnxTypes.IAttributeProto[],
  ) => nodes.push({ opType, input, output, name: `dequantized/${opType}_${counter++}`, attribute });

  /** Appends a Clip of `x` to what (scale, zero point) can represent, writing `output`. */
  const saturate = (
    x: string,
    scaleName: string | null | undefined,
    zpName: string | null | undefined,
    output: string,
  ) => {
    const scale = scalar(scaleName);
    const zp = constant(zpName);
    const [qmin, qmax] = quantRange(zp);
    const z = tensorValues(zp)[0];
    node(
      'Clip',
      [x, floats('min', [], [(qmin - z) * scale]), floats('max', [], [(qmax - z) * scale])],
      [output],
    );
  };

  /** A quantized weight initializer as floats, per-channel along `axis` when its scale is 1-D. */
  const dequantizedWeight = (w: string, s: string, z: string, axis: number) => {
    const wt = constant(w);
    const dims = (wt.dims ?? []).map(Number);
    const q = tensorValues(wt);
    const scales = tensorValues(constant(s));
    const zeros = tensorValues(constant(z));
    const a = axis < 0 ? dims.length + axis : axis;
    const inner = dims.slice(a + 1).reduce((p, d) => p * d, 1);
    const out = new Float64Array(q.length);
    for (let i = 0; i < q.length; i++) {
      const c = scales.length > 1 ? Math.floor(i / inner) % dims[a] : 0;
      out[i] = (q[i] - zeros[zeros.length > 1 ? c : 0]) * scales[c];
    }
    return floats('weight', dims, out);
  };

  /** A node input as a real-valued tensor: quantized constants dequantized, others as they are. */
  const real = (name: string, s: string, z: string, axis: number) =>
    initializers.has(name) ? dequantizedWeight(name, s, z, axis) : name;

  for (const n of graph.node ?? []) {
    const i = n.input ?? [];
    const o = n.output ?? [];
    switch (n.opType) {
      case 'QuantizeLinear':
        saturate(i[0], i[1], i[2], o[0]);
        break;
      case 'DequantizeLinear':
        node('Identity', [i[0]], [o[0]]);
        break;
      case 'QLinearConv': {
        const inputs = [i[0], real(i[3], i[4], i[5], 0)];
        if (i[8]) {
          // int32 bias in units of x_scale·w_scale (per output channel).
          const bias = tensorValues(constant(i[8]));
          const xs = scalar(i[1]);
          const ws = tensorValues(constant(i[4]));
          inputs.push(
            floats(
              'bias',
              [bias.length],
              bias.map((b, c) => b * xs * ws[ws.length > 1 ? c : 0]),
            ),
          );
        }
        const y = `${o[0]}/float`;
        node('Conv', inputs, [y], n.attribute ?? []);
        saturate(y, i[6], i[7], o[0]);
        break;
      }
      case 'QLinearAdd': {
        const y = `${o[0]}/float`;
        node('Add', [real(i[0], i[1], i[2], 0), real(i[3], i[4], i[5], 0)], [y]);
        saturate(y, i[6], i[7], o[0]);
        break;
      }
      case 'QLinearMatMul': {
        const y = `${o[0]}/float`;
        node('MatMul', [real(i[0], i[1], i[2], 0), real(i[3], i[4], i[5], -1)], [y]);
        saturate(y, i[6], i[7], o[0]);
        break;
      }
      case 'QLinearGlobalAveragePool': {
        const channelsLast = (n.attribute ?? []).find((a) => a.name === 'channels_last');
        if (channelsLast && Number(channelsLast.i) !== 0)
          throw new ModelError(`dequantize: ${modelName}: channels_last pooling is not supported`);
        const y = `${o[0]}/float`;
        node('GlobalAveragePool', [i[0]], [y]);
        saturate(y, i[3], i[4], o[0]);
        break;
      }
      default:
        nodes.push(n);
    }
  }
  // Keep the initializers still read by some node (shape constants and the like).
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  graph.initializer = [
    ...(graph.initializer ?? []).filter((t) => used.has(t.name ?? '')),
    ...added,
  ];
  graph.node = nodes;
  graph.valueInfo = []; // element types changed from int8 to float
  return onnx.ModelProto.encode(model).finish();
}

/** The model a load runs: the one given, or the float twin of a quantized one. */
export interface ModelSource {
  /** What onnxruntime gets: the path or bytes as given, or the twin's bytes. */
  readonly model: string | Uint8Array;
  /** The path, or the name given for bytes; used in messages. */
  readonly name: string;
  /** Whether the model given holds QLinear operators; undefined when it was not looked at. */
  readonly quantized?: boolean;
  /** `model` is the float twin of the quantized model given. */
  readonly dequantized: boolean;
  /**
   * Whether the model given keeps weights in an external data file, which a combined model
   * cannot reach; undefined when it was not looked at.
   */
  readonly externalData?: boolean;
}

/**
 * Which model to run for `model` (path or bytes): with `dequantize`, a quantized model's float
 * twin (a model that is not quantized is run as given); `inspect` looks whether it is quantized
 * without asking for the twin. A file that cannot be read, or bytes that are no ONNX model, count
 * as not quantized: loading them says what is wrong.
 */
export async function modelSource(
  model: string | Uint8Array,
  options: { dequantize?: boolean; inspect?: boolean; modelName?: string } = {},
): Promise<ModelSource> {
  const name = typeof model === 'string' ? model : (options.modelName ?? 'in-memory model');
  if (!options.dequantize && !options.inspect) return { model, name, dequantized: false };
  const bytes = typeof model === 'string' ? await readFile(model).catch(() => undefined) : model;
  // A file that cannot be read is left to the loader, which says why.
  if (!bytes) return { model, name, dequantized: false };
  let quantized = false;
  let externalData = false;
  try {
    const proto = onnx.ModelProto.decode(new Uint8Array(bytes));
    quantized = isQuantizedProto(proto);
    externalData = externalInitializer(proto) !== undefined;
  } catch {
    // Not an ONNX model: the session says so, with the usual message.
  }
  return options.dequantize && quantized
    ? {
        model: dequantizeModel(new Uint8Array(bytes), name),
        name,
        quantized,
        dequantized: true,
        externalData,
      }
    : { model, name, quantized, dequantized: false, externalData };
}

/**
 * What a user should hear about quantization when `source` runs on `device`: that the float twin
 * runs (asked for with `dequantize`), that asking had no effect, or, for a quantized model on a
 * GPU, that the twin would run there whole — and, when the copies are made in its graph anyway
 * (`perturbation` 'device' asked for), that each one then crosses to the CPU and back.
 */
export function dequantizeNotes(
  source: ModelSource,
  device: Device,
  dequantize: boolean | undefined,
  perturbation?: 'host' | 'device',
): string[] {
  if (source.dequantized)
    return [
      `running ${source.name} as its float twin (--dequantize): 8-bit weights dequantized, float activations; probabilities differ from the quantized model's by about its quantization noise`,
    ];
  if (dequantize)
    return [`--dequantize has no effect: ${source.name} is not quantized; it runs as it is`];
  if (source.quantized && device !== 'cpu') {
    const crossing =
      perturbation === 'device'
        ? `; with --perturbation device every perturbed copy crosses from the ${device} device to the CPU and back (--perturbation host is usually faster)`
        : '';
    return [
      `${source.name} is quantized: its QLinear operators have no ${device} kernels and run on the CPU${crossing}; --dequantize runs its float twin wholly on the GPU (probabilities differ by about the quantization noise)`,
    ];
  }
  return [];
}
