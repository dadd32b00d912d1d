/**
 * GLAS perturbations inside an ONNX graph, so that a GPU makes the perturbed copies itself:
 * the host sends the sample once per batch and a few numbers per row (centre, σ, light/shadow)
 * instead of B whole perturbed samples.
 *
 * The perturbation graph (built with GraphBuilder) takes
 *   sample   [1, …S]          float32, the sample in the model's layout (S = sample shape)
 *   baseline [1, …] broadcast to [1, …S] (all ones for a constant), float32
 *   centres  [B, g]           float32, Gaussian centres μ in grid (voxel index) coordinates
 *   sigma    [B]              float32, σ per row, in the units of `spacing`
 *   kind     [B]              float32, 1 = light, 0 = shadow
 *   spacing  [g]              float32, physical size of one grid step per grid axis
 * and makes, like perturbInto in src/glas3d/perturb.ts,
 *   light  = B + (I − B)·G,   shadow = I − (I − B)·G,   G = Π_a g_a,
 *   g_a[i] = exp(−((i − μ_a)·spacing_a)² / (2σ²))
 * with one [B, n_a] factor per grid axis (arange constant − μ, × spacing, square, × −1/(2σ²), Exp),
 * reshaped onto its tensor axis and multiplied by broadcasting, so G is [B, grid…] with the
 * channel axes 1 and the blend broadcasts them. The sign of (I − B)·G is folded into one factor
 * and the light/shadow base (B or I) is picked by Where, so both blends round like the JS path.
 *
 * `combineWithPerturbation` joins that graph in front of a user's model: one ModelProto whose
 * inputs are the six above and whose only output is the model's chosen output. The user's model
 * is spliced at the protobuf wire level (its fields, opsets, initializers, functions and any
 * fields newer than onnx-proto stay byte for byte); only its graph's input and output lists are
 * edited, and our nodes, initializers and inputs, all under a prefix no user name starts with,
 * are added. Combined models are cached in memory by the sha256 of the model bytes and the spec,
 * and optionally on disk.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { ModelError, OptionError } from '../errors.js';
import { writeFileAtomic } from '../volume/atomic.js';
import { externalInitializer } from './dequantize.js';
import { GraphBuilder, type Dim } from './onnx-graph.js';

const { onnx } = onnxProto;

/** Input names of the bare perturbation graph (the combined model prefixes them). */
export const PERTURBATION_INPUTS = [
  'sample',
  'baseline',
  'centres',
  'sigma',
  'kind',
  'spacing',
] as const;
export type PerturbationInput = (typeof PERTURBATION_INPUTS)[number];

/** Bumped whenever the graph changes, so cached combined models from older code are not used. */
export const PERTURBATION_GRAPH_VERSION = 1;

/** Oldest default-domain opset the graph's operators (Where, Greater, Reshape…) exist in. */
export const MIN_OPSET = 9;

export interface PerturbationGraphSpec {
  /** Sample shape, batch excluded, in the model's memory order (e.g. [1, 91, 109, 91]). */
  readonly sampleShape: readonly number[];
  /** For each grid axis (0 = x, 1 = y, 2 = z) the sample-tensor axis that holds it. */
  readonly gridAxes: readonly number[];
  /** Batch dimension of the rows: symbolic by default ('B'). */
  readonly batch?: Dim;
}

function checkSpec(spec: PerturbationGraphSpec): void {
  const { sampleShape, gridAxes } = spec;
  if (sampleShape.length === 0 || !sampleShape.every((d) => Number.isInteger(d) && d >= 1))
    throw new OptionError(`sample shape [${sampleShape}] must be positive whole sizes`);
  const seen = new Set<number>();
  for (const t of gridAxes) {
    if (!Number.isInteger(t) || t < 0 || t >= sampleShape.length || seen.has(t))
      throw new OptionError(
        `grid axes [${gridAxes}] must name distinct axes of the sample [${sampleShape}]`,
      );
    seen.add(t);
  }
  if (gridAxes.length === 0) throw new OptionError('grid axes are empty');
}

/**
 * Adds the perturbation graph's inputs and nodes to `g`; the perturbed batch [B, …S] is written
 * to the tensor named `output`.
 */
export function addPerturbationNodes(
  g: GraphBuilder,
  spec: PerturbationGraphSpec,
  output: string,
): void {
  checkSpec(spec);
  const { sampleShape, gridAxes } = spec;
  const rank = sampleShape.length;
  const batch = spec.batch ?? 'B';
  const sample = g.input('sample', [1, ...sampleShape]);
  const baseline = g.input(
    'baseline',
    Array.from({ length: rank + 1 }, (_, t) => `baseline_d${t}`),
  );
  const centres = g.input('centres', [batch, gridAxes.length]);
  const sigma = g.input('sigma', [batch]);
  const kind = g.input('kind', [batch]);
  const spacing = g.input('spacing', [gridAxes.length]);

  const column = g.int64s('column', [-1, 1]);
  // −1/(2σ²) per row, [B, 1].
  const variance = g.node('Mul', [sigma, sigma]);
  const scale = g.node('Reshape', [
    g.node('Div', [g.floats('minus_half', [], [-0.5]), variance]),
    column,
  ]);
  // Row shape [B, 1, …, 1] for per-row values, broadcast over the sample.
  const rowShape = g.int64s('row_shape', [-1, ...sampleShape.map(() => 1)]);
  const kindRows = g.node('Reshape', [kind, rowShape]);
  const isLight = g.node('Greater', [kindRows, g.floats('half', [], [0.5])]);
  // +1 for light, −1 for shadow, [B, 1]: folded into the first factor.
  const sign = g.node('Reshape', [
    g.node('Sub', [g.node('Mul', [kind, g.floats('two', [], [2])]), g.floats('one', [], [1])]),
    column,
  ]);

  // Factors in tensor-axis order so the broadcast products grow from the slow axes outwards.
  const order = gridAxes.map((t, a) => ({ t, a })).sort((p, q) => p.t - q.t);
  let mask: string | undefined;
  for (const [k, { t, a }] of order.entries()) {
    const n = sampleShape[t];
    const arange = g.floats(
      `arange${a}`,
      [1, n],
      Float32Array.from({ length: n }, (_, i) => i),
    );
    const axis = g.int64s(`grid_axis${a}`, [a]);
    const mu = g.node('Gather', [centres, axis], { axis: 1 }); // [B, 1]
    const step = g.node('Gather', [spacing, axis], { axis: 0 }); // [1]
    const d = g.node('Mul', [g.node('Sub', [arange, mu]), step]); // [B, n]
    let factor = g.node('Exp', [g.node('Mul', [g.node('Mul', [d, d]), scale])]);
    if (k === 0) factor = g.node('Mul', [factor, sign]);
    const shape = [-1, ...sampleShape.map((size, u) => (u === t ? size : 1))];
    const placed = g.node('Reshape', [factor, g.int64s(`factor_shape${a}`, shape)]);
    mask = mask === undefined ? placed : g.node('Mul', [mask, placed]);
  }
  // ±(I − B)·G added to B (light) or I (shadow).
  const difference = g.node('Sub', [sample, baseline]);
  const base = g.node('Where', [isLight, baseline, sample]);
  g.node('Add', [base, g.node('Mul', [difference, mask!])], {}, [output]);
}

/**
 * The perturbation graph alone (opset 13): output 'perturbed' [B, …S], or with `output: 'sum'`
 * one sum per row, 'row_sums' [B] (to time the device work without copying a batch back).
 */
export function buildPerturbationGraph(
  spec: PerturbationGraphSpec,
  options: { output?: 'perturbed' | 'sum' } = {},
): Uint8Array {
  const g = new GraphBuilder('glas3d_perturbation');
  const batch = spec.batch ?? 'B';
  if (options.output === 'sum') {
    addPerturbationNodes(g, spec, 'perturbed');
    const flat = g.node('Flatten', ['perturbed'], { axis: 1 });
    g.node('ReduceSum', [flat, g.int64s('axes', [1])], { keepdims: 0 }, ['row_sums']);
    g.output('row_sums', [batch]);
  } else {
    addPerturbationNodes(g, spec, 'perturbed');
    g.output('perturbed', [batch, ...spec.sampleShape]);
  }
  return g.toBytes();
}

// ---------------------------------------------------------------------------------------------
// Protobuf wire format: just enough to splice ModelProto/GraphProto fields without decoding them.

interface WireField {
  field: number;
  wireType: number;
  /** Byte range of the whole field (tag included). */
  start: number;
  end: number;
  /** Payload range of a length-delimited field. */
  payloadStart: number;
  payloadEnd: number;
}

function readVarint(bytes: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let factor = 1;
  for (;;) {
    if (pos >= bytes.length) throw new Error('truncated varint');
    const b = bytes[pos++];
    value += (b & 0x7f) * factor;
    if (b < 0x80) return [value, pos];
    factor *= 128;
  }
}

function wireFields(bytes: Uint8Array, start = 0, end = bytes.length): WireField[] {
  const fields: WireField[] = [];
  let pos = start;
  while (pos < end) {
    const fieldStart = pos;
    const [tag, afterTag] = readVarint(bytes, pos);
    pos = afterTag;
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    let payloadStart = pos;
    let payloadEnd = pos;
    if (wireType === 0) [, pos] = readVarint(bytes, pos);
    else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else if (wireType === 2) {
      const [length, afterLength] = readVarint(bytes, pos);
      payloadStart = afterLength;
      payloadEnd = afterLength + length;
      pos = payloadEnd;
    } else throw new Error(`unsupported protobuf wire type ${wireType}`);
    if (pos > end) throw new Error('truncated protobuf field');
    fields.push({ field, wireType, start: fieldStart, end: pos, payloadStart, payloadEnd });
  }
  return fields;
}

function varint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** A length-delimited field: tag, length, payload. */
function lengthDelimited(field: number, payload: Uint8Array): Uint8Array[] {
  return [Uint8Array.from([...varint(field * 8 + 2), ...varint(payload.length)]), payload];
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

// ModelProto and GraphProto field numbers (onnx.proto).
const MODEL_GRAPH = 7;
const MODEL_OPSET_IMPORT = 8;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;

// ---------------------------------------------------------------------------------------------

export interface CombineOptions {
  /** Sample shape (batch excluded) the model is fed, in its memory order. */
  readonly sampleShape: readonly number[];
  /** For each grid axis the sample-tensor axis that holds it. */
  readonly gridAxes: readonly number[];
  /**
   * The sample shape the model input takes, when it is sampleShape less axes of size 1 (a volume
   * model without a channel axis): the perturbed batch is reshaped to it. Default sampleShape.
   */
  readonly feedShape?: readonly number[];
  /** The model input to feed (default: its only input). */
  readonly inputName?: string;
  /** The model output to keep (default: its first). */
  readonly outputName?: string;
  /** Name used in messages (default 'in-memory model'). */
  readonly modelName?: string;
}

export interface CombinedModel {
  /** The combined ModelProto. */
  readonly bytes: Uint8Array;
  /** sha256 (hex) of the user's model bytes. */
  readonly modelSha256: string;
  /** Input names of the combined model, by role. */
  readonly inputs: Readonly<Record<PerturbationInput, string>>;
  /** The one output: the user's model output, as the model produces it. */
  readonly outputName: string;
  /** The user's input that our graph now feeds. */
  readonly modelInputName: string;
  /** The batch size the user's input fixes, if any (rows must then come in exactly that many). */
  readonly fixedBatch: number | undefined;
  readonly sampleShape: readonly number[];
  readonly gridAxes: readonly number[];
}

const PREFIX = 'glas3d_perturb/';

/** Every name the user's graph uses (tensors, nodes, also inside subgraphs). */
function graphNames(graph: OnnxTypes.IGraphProto, names = new Set<string>()): Set<string> {
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])])
    if (v.name) names.add(v.name);
  for (const t of graph.initializer ?? []) if (t.name) names.add(t.name);
  for (const n of graph.node ?? []) {
    if (n.name) names.add(n.name);
    for (const s of [...(n.input ?? []), ...(n.output ?? [])]) names.add(s);
    for (const a of n.attribute ?? []) {
      if (a.g) graphNames(a.g, names);
      for (const sub of a.graphs ?? []) graphNames(sub, names);
    }
  }
  return names;
}

function dimsOf(v: OnnxTypes.IValueInfoProto): (number | string)[] | undefined {
  const dims = v.type?.tensorType?.shape?.dim;
  return dims?.map((d) =>
    d.dimValue != null && Object.prototype.hasOwnProperty.call(d, 'dimValue')
      ? Number(d.dimValue.toString())
      : (d.dimParam ?? ''),
  );
}

/**
 * Joins the perturbation graph in front of `modelBytes`: one model with the six inputs of
 * PERTURBATION_INPUTS (prefixed) and, as its only output, the chosen output of the user's model.
 */
export function combineWithPerturbation(
  modelBytes: Uint8Array,
  options: CombineOptions,
): CombinedModel {
  const modelName = options.modelName ?? 'in-memory model';
  let model: OnnxTypes.ModelProto;
  let modelFields: WireField[];
  try {
    model = onnx.ModelProto.decode(modelBytes);
    modelFields = wireFields(modelBytes);
  } catch (e) {
    throw new ModelError(`${modelName} is not a valid ONNX model: ${(e as Error).message}`);
  }
  const graph = model.graph;
  const graphFields = modelFields.filter((f) => f.field === MODEL_GRAPH);
  if (!graph || graphFields.length !== 1)
    throw new ModelError(`${modelName} has no single graph to join the perturbation to`);

  const opset = (model.opsetImport ?? []).find((o) => !o.domain);
  const opsetVersion = opset ? Number(opset.version?.toString() ?? 0) : 0;
  if (opset && opsetVersion < MIN_OPSET)
    throw new ModelError(
      `${modelName} uses ONNX opset ${opsetVersion}; in-graph perturbation needs opset ${MIN_OPSET} or later — re-export the model with a newer opset, or use --perturbation host`,
    );
  const external = externalInitializer(model);
  if (external)
    throw new ModelError(
      `${modelName} keeps initializer '${external.name}' in external data, which a combined model cannot reach; use --perturbation host, or save the model with its weights inside`,
    );

  const initializerNames = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const realInputs = (graph.input ?? []).filter((v) => !initializerNames.has(v.name ?? ''));
  const names = realInputs.map((v) => `'${v.name}'`).join(', ');
  const input =
    options.inputName === undefined
      ? realInputs.length === 1
        ? realInputs[0]
        : undefined
      : realInputs.find((v) => v.name === options.inputName);
  if (!input?.name)
    throw new ModelError(
      options.inputName === undefined
        ? `${modelName} has ${realInputs.length} inputs (${names}); in-graph perturbation feeds models with one input`
        : `${modelName} has no input '${options.inputName}'; its inputs are ${names}`,
    );
  const elemType = input.type?.tensorType?.elemType;
  if (elemType !== undefined && elemType !== onnx.TensorProto.DataType.FLOAT)
    throw new ModelError(
      `${modelName} input '${input.name}' is not float32; in-graph perturbation feeds float32`,
    );
  const outputs = graph.output ?? [];
  const output =
    options.outputName === undefined
      ? outputs[0]
      : outputs.find((o) => o.name === options.outputName);
  if (!output?.name)
    throw new ModelError(
      options.outputName === undefined
        ? `${modelName} has no outputs`
        : `${modelName} has no output '${options.outputName}'; its outputs are ${outputs.map((o) => `'${o.name}'`).join(', ')}`,
    );
  const declared = dimsOf(input);
  const batchDim = declared?.[0];
  const fixedBatch = typeof batchDim === 'number' && batchDim > 0 ? batchDim : undefined;
  const feedShape = options.feedShape ?? options.sampleShape;
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  if (size(feedShape) !== size(options.sampleShape))
    throw new OptionError(
      `feed shape [${feedShape}] does not hold the sample [${options.sampleShape}]`,
    );
  if (declared && declared.length !== feedShape.length + 1)
    throw new ModelError(
      `${modelName} input '${input.name}' has rank ${declared.length}; the sample [${feedShape}] needs rank ${feedShape.length + 1} with the batch axis`,
    );

  // Our graph, then every name of it under a prefix that no user name starts with.
  const used = graphNames(graph);
  let prefix = PREFIX;
  while ([...used].some((n) => n.startsWith(prefix))) prefix = `_${prefix}`;
  const ours = new GraphBuilder('glas3d_perturbation');
  const placeholder = 'perturbed';
  const reshaped = feedShape.length !== options.sampleShape.length;
  addPerturbationNodes(
    ours,
    {
      sampleShape: options.sampleShape,
      gridAxes: options.gridAxes,
      batch: fixedBatch ?? 'B',
    },
    reshaped ? 'perturbed_sample' : placeholder,
  );
  if (reshaped)
    ours.node('Reshape', ['perturbed_sample', ours.int64s('feed_shape', [-1, ...feedShape])], {}, [
      placeholder,
    ]);
  const ourGraph = onnx.ModelProto.decode(ours.toBytes()).graph!;
  const rename = (n: string) => (n === placeholder ? input.name! : n ? prefix + n : n);
  const chunks: Uint8Array[] = [];
  for (const node of ourGraph.node ?? []) {
    node.name = rename(node.name ?? '');
    node.input = (node.input ?? []).map(rename);
    node.output = (node.output ?? []).map(rename);
    chunks.push(...lengthDelimited(GRAPH_NODE, onnx.NodeProto.encode(node).finish()));
  }

  // The user's graph fields in order, its input swapped for ours and its outputs cut to one.
  const g = graphFields[0];
  for (const f of wireFields(modelBytes, g.payloadStart, g.payloadEnd)) {
    if (f.field === GRAPH_INPUT || f.field === GRAPH_OUTPUT) {
      const v = onnx.ValueInfoProto.decode(modelBytes.subarray(f.payloadStart, f.payloadEnd));
      if (f.field === GRAPH_INPUT && v.name === input.name) continue;
      if (f.field === GRAPH_OUTPUT && v.name !== output.name) continue;
    }
    chunks.push(modelBytes.subarray(f.start, f.end));
  }
  for (const t of ourGraph.initializer ?? []) {
    t.name = rename(t.name ?? '');
    chunks.push(...lengthDelimited(GRAPH_INITIALIZER, onnx.TensorProto.encode(t).finish()));
  }
  const inputs = {} as Record<PerturbationInput, string>;
  for (const v of ourGraph.input ?? []) {
    inputs[v.name as PerturbationInput] = rename(v.name ?? '');
    v.name = rename(v.name ?? '');
    chunks.push(...lengthDelimited(GRAPH_INPUT, onnx.ValueInfoProto.encode(v).finish()));
  }
  const newGraph = concat(chunks);

  const modelChunks: Uint8Array[] = [];
  for (const f of modelFields) {
    if (f.field === MODEL_GRAPH) modelChunks.push(...lengthDelimited(MODEL_GRAPH, newGraph));
    else modelChunks.push(modelBytes.subarray(f.start, f.end));
  }
  if (!opset) {
    // No default-domain opset imported (a model of custom ops only): ours needs one.
    const ownOpset = onnx.OperatorSetIdProto.encode({ domain: '', version: 13 }).finish();
    modelChunks.push(...lengthDelimited(MODEL_OPSET_IMPORT, ownOpset));
  }

  return {
    bytes: concat(modelChunks),
    modelSha256: sha256(modelBytes),
    inputs,
    outputName: output.name,
    modelInputName: input.name,
    fixedBatch,
    sampleShape: [...options.sampleShape],
    gridAxes: [...options.gridAxes],
  };
}

export const sha256 = (bytes: Uint8Array): string =>
  createHash('sha256').update(bytes).digest('hex');

/** The OS's per-user cache folder for glas3d (XDG on Linux, Library/Caches on macOS). */
export function defaultCacheDir(): string {
  const home = os.homedir();
  if (process.platform === 'darwin') return join(home, 'Library', 'Caches', 'glas3d');
  if (process.platform === 'win32')
    return join(process.env.LOCALAPPDATA ?? join(home, 'AppData', 'Local'), 'glas3d', 'cache');
  return join(process.env.XDG_CACHE_HOME || join(home, '.cache'), 'glas3d');
}

export interface PrepareOptions extends CombineOptions {
  /**
   * Keep combined models on disk too: true for defaultCacheDir(), a folder, or false (default:
   * memory only). A file pair `combined-<key>.onnx/.json` is reused when its key (model sha256,
   * spec, graph version) matches and the .onnx still has the sha256 the .json recorded.
   */
  readonly diskCache?: boolean | string;
}

/** Combined models kept in memory, most recent last (a few: each holds a whole model). */
const MEMORY_CACHE_ENTRIES = 4;
const memoryCache = new Map<string, CombinedModel>();

/** Empties the in-memory cache (the disk cache stays). */
export function clearCombinedModelCache(): void {
  memoryCache.clear();
}

/** What a disk cache entry's .json holds: the descriptor without the bytes, and their hash. */
type CachedDescriptor = Omit<CombinedModel, 'bytes'> & { combinedSha256: string };

async function readCached(dir: string, key: string): Promise<CombinedModel | undefined> {
  try {
    const base = join(dir, `combined-${key}`);
    const descriptor = JSON.parse(await readFile(`${base}.json`, 'utf8')) as CachedDescriptor;
    const bytes = new Uint8Array(await readFile(`${base}.onnx`));
    if (sha256(bytes) !== descriptor.combinedSha256) return undefined;
    const { combinedSha256: _, ...rest } = descriptor;
    return { ...rest, bytes };
  } catch {
    return undefined; // missing or unreadable: combine again
  }
}

async function writeCached(dir: string, key: string, combined: CombinedModel): Promise<void> {
  const { bytes, ...rest } = combined;
  const base = join(dir, `combined-${key}`);
  await writeFileAtomic(`${base}.onnx`, bytes);
  const descriptor: CachedDescriptor = { ...rest, combinedSha256: sha256(bytes) };
  await writeFileAtomic(`${base}.json`, JSON.stringify(descriptor, null, 2));
}

/**
 * combineWithPerturbation, once per model and spec: cached in memory (and on disk if asked)
 * under the sha256 of the model bytes, the spec and the graph version.
 */
export async function prepareCombinedModel(
  model: string | Uint8Array,
  options: PrepareOptions,
): Promise<CombinedModel> {
  const bytes =
    typeof model === 'string'
      ? await readFile(model).catch((e: unknown) => {
          throw new ModelError(`cannot read model file ${model}: ${(e as Error).message}`);
        })
      : model;
  const modelName = options.modelName ?? (typeof model === 'string' ? model : undefined);
  const spec = {
    v: PERTURBATION_GRAPH_VERSION,
    sampleShape: options.sampleShape,
    gridAxes: options.gridAxes,
    // Only when it differs, so the keys of models with a channel axis stay as they were.
    ...(options.feedShape &&
      options.feedShape.length !== options.sampleShape.length && {
        feedShape: options.feedShape,
      }),
    inputName: options.inputName ?? null,
    outputName: options.outputName ?? null,
  };
  const key = sha256(new TextEncoder().encode(`${sha256(bytes)}:${JSON.stringify(spec)}`)).slice(
    0,
    32,
  );
  const hit = memoryCache.get(key);
  if (hit) {
    memoryCache.delete(key);
    memoryCache.set(key, hit);
    return hit;
  }
  const dir =
    options.diskCache === true
      ? defaultCacheDir()
      : typeof options.diskCache === 'string'
        ? options.diskCache
        : undefined;
  let combined = dir ? await readCached(dir, key) : undefined;
  if (!combined) {
    combined = combineWithPerturbation(bytes, { ...options, modelName });
    // A cache that cannot be written costs only the next combine: never fail the run for it.
    if (dir) await writeCached(dir, key, combined).catch(() => undefined);
  }
  memoryCache.set(key, combined);
  if (memoryCache.size > MEMORY_CACHE_ENTRIES) memoryCache.delete(memoryCache.keys().next().value!);
  return combined;
}
