/**
 * Rewrites of operators that onnxruntime's WebGPU provider has no kernel for into equal ones it
 * has, so that a GPU session keeps the whole graph on the device. A node left on the CPU costs a
 * device→host→device round trip, and a wait for the GPU, on every run.
 *   Selu(x; α, γ) = γ·Elu(x; α)   (the paper's 3-D CNN uses SELU in its dense layers)
 * Exact up to float rounding (one extra multiply). Models without such nodes come back as given.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;

/** ONNX's SELU defaults (float32 values, as the operator's definition gives them). */
const SELU_ALPHA = 1.67326319217681884765625;
const SELU_GAMMA = 1.05070102214813232421875;

const floatAttribute = (node: OnnxTypes.INodeProto, name: string, fallback: number): number => {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  return a?.f ?? fallback;
};

/** The model with every Selu written as Elu·γ; the same bytes when there is none. */
export function rewriteForWebGpu(bytes: Uint8Array): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  const selu = (n: OnnxTypes.INodeProto) => n.opType === 'Selu' && !n.domain;
  if (!graph?.node?.some(selu)) return bytes;
  const nodes: OnnxTypes.INodeProto[] = [];
  let counter = 0;
  for (const n of graph.node) {
    if (!selu(n)) {
      nodes.push(n);
      continue;
    }
    const id = `glas3d_gpu/selu_${counter++}`;
    const gamma = `${id}/gamma`;
    const elu = `${id}/elu`;
    const scale = new Uint8Array(4);
    new DataView(scale.buffer).setFloat32(0, floatAttribute(n, 'gamma', SELU_GAMMA), true);
    graph.initializer = [
      ...(graph.initializer ?? []),
      { name: gamma, dims: [], dataType: onnx.TensorProto.DataType.FLOAT, rawData: scale },
    ];
    nodes.push({
      opType: 'Elu',
      name: `${id}/Elu`,
      input: [n.input![0]],
      output: [elu],
      attribute: [
        {
          name: 'alpha',
          type: onnx.AttributeProto.AttributeType.FLOAT,
          f: floatAttribute(n, 'alpha', SELU_ALPHA),
        },
      ],
    });
    nodes.push({ opType: 'Mul', name: `${id}/Mul`, input: [elu, gamma], output: n.output });
  }
  graph.node = nodes;
  return onnx.ModelProto.encode(model).finish();
}
