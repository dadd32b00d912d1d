/**
 * A Classifier over an ONNX model run by onnxruntime-node: reads the model's input and output
 * from the session, works out the layout and the number of classes, and turns raw outputs into
 * probability rows. Every problem a user can fix is a ModelError or OptionError naming the model.
 */
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import { basename } from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  DeviceUnavailableError,
  ModelError,
  NonFiniteOutputError,
  OptionError,
} from '../errors.js';
import type { Classifier, ResponseKind } from '../glas3d/classifier.js';
import {
  ACTIVATIONS,
  autoActivation,
  classesOf,
  responsesOf,
  firstNonFinite,
  isSimplexRows,
  softmaxRows,
  twoClassRows,
  type Activation,
} from './activation.js';
import {
  defaultAxisOrder,
  gridAxesOf,
  inferLayout,
  isChannelCount,
  LAYOUTS,
  spatialRank,
  type AxisOrder,
  type GridAxes,
  type Layout,
} from './layout.js';
import {
  finalOpOf,
  formatShape,
  ioFromProto,
  ioFromSession,
  isSymbolic,
  type IoDim,
  type ModelIo,
  type TensorIo,
} from './model-io.js';
import { modelSource, type ModelSource } from './dequantize.js';
import { rewriteForWebGpu } from './gpu-rewrite.js';
import { sessionOptions, type Device } from './session-options.js';

export type { Device };
export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'webgpu'];

export const DEFAULT_BATCH_SIZE = 16;

export interface OnnxClassifierOptions {
  /** Input layout; inferred from the input shape when unambiguous. */
  layout?: Layout;
  /** Which grid axis each spatial tensor axis holds (see layout.ts); default 'xyz' for volumes. */
  axes?: AxisOrder;
  /** How raw outputs become probabilities (default 'auto'). */
  activation?: Activation;
  /** Which output to use when the model has several (default: the first). */
  outputName?: string;
  /** Samples per run (default 16); a model with a fixed batch dimension imposes its own. */
  batchSize?: number;
  /** Execution device (default 'cpu'). */
  device?: Device;
  /**
   * Sample shape (batch excluded) for models whose input declares symbolic or unknown dims
   * other than the batch; fixed dims must agree with the model.
   */
  inputShape?: readonly number[];
  /**
   * The data's grid (x, y[, z]) and channels: fills a model input's symbolic sample dims (a fully
   * convolutional model exported with dynamic axes) through `layout` and `axes`, when
   * `inputShape` is not given. Dims the model fixes must agree.
   */
  dataGrid?: { readonly dims: readonly number[]; readonly channels: number };
  /** CPU threads inside one operator (default: the number of CPUs). */
  intraOpNumThreads?: number;
  /** Name used in messages when the model is given as bytes (default 'in-memory model'). */
  modelName?: string;
  /**
   * Run a quantized model as its float twin (see dequantize.ts): on a GPU the whole graph runs
   * there, and probabilities differ by about the model's quantization noise. A model that is not
   * quantized runs as given. The classifier's `dequantized` says which ran.
   */
  dequantize?: boolean;
}

/** What explanations record about the model that made them. */
export interface ModelRecord {
  readonly name: string;
  readonly inputName: string;
  readonly inputShape: number[];
  readonly layout?: string;
  readonly axes?: string;
  /** The output read (a model may have several). */
  readonly outputName?: string;
  /**
   * How raw outputs became the responses GLAS explains (see Activation); 'auto' only for several
   * columns not made by Softmax: softmaxed unless the rows were probabilities already.
   */
  readonly activation?: Activation;
  /** Present (true) only when the float twin of a quantized model ran. */
  readonly dequantized?: true;
  /** The execution provider the model ran on. */
  readonly device?: Device;
}

export const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
export const cpuCount = () =>
  typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
/**
 * An onnxruntime error message without its C++ source location and failed-check text, e.g.
 * "/onnxruntime_src/…/webgpu_context.cc:136 …::<lambda()> x == y was false. Failed to get a
 * WebGPU adapter: …" → "Failed to get a WebGPU adapter: …".
 */
export const errorText = (e: unknown) =>
  (e instanceof Error ? e.message : String(e))
    .trim()
    .replace(/^\/\S+:\d+ .*? was false\. /s, '')
    // "…failed:/onnxruntime_src/…/model.cc:187 onnxruntime::Model::Model(…) ModelProto does …"
    .replace(/\/onnxruntime_src\/\S+:\d+ [\w:~<>]+\([^)]*\)\s*/g, ' ')
    .replace(/^Load model from \S+ failed: ?/, '');

const CUDA_ADVICE =
  'To use CUDA, reinstall onnxruntime-node with `npm install onnxruntime-node --onnxruntime-node-install=cuda12` ' +
  'on a machine with CUDA 12 and cuDNN 9 (the flag downloads the CUDA provider, which npm does not bundle), ' +
  'or use --device cpu or --device auto.';
const WEBGPU_ADVICE =
  'WebGPU needs a GPU with a working Vulkan (Linux), D3D12 (Windows) or Metal (macOS) driver; ' +
  'or use --device cpu or --device auto.';

function deviceError(device: Device, modelName: string, detail: string): ModelError {
  const advice = device === 'cuda' ? CUDA_ADVICE : WEBGPU_ADVICE;
  const reason = detail.replace(/[.\s]+$/, '');
  return new DeviceUnavailableError(
    `device '${device}' is not available for model ${modelName}: ${reason}. ${advice}`,
    reason,
  );
}

async function createSession(
  model: string | Uint8Array,
  modelName: string,
  device: Device,
  threads: number,
): Promise<ort.InferenceSession> {
  if (device !== 'cpu') {
    const backends = ort.listSupportedBackends().map((b) => b.name);
    if (!backends.includes(device))
      throw deviceError(
        device,
        modelName,
        `this onnxruntime-node build for ${process.platform}/${process.arch} has no '${device}' backend (it has: ${backends.join(', ')})`,
      );
  }
  const create = async (d: Device) => {
    if (d === 'webgpu') {
      // Whole graph on the device: see gpu-rewrite.ts.
      const bytes = typeof model === 'string' ? new Uint8Array(await readFile(model)) : model;
      return ort.InferenceSession.create(rewriteForWebGpu(bytes), sessionOptions(d, threads));
    }
    return typeof model === 'string'
      ? ort.InferenceSession.create(model, sessionOptions(d, threads))
      : ort.InferenceSession.create(model, sessionOptions(d, threads));
  };
  try {
    return await create(device);
  } catch (e) {
    if (device !== 'cpu') {
      // Tell a device failure from a bad model: if the CPU takes the model, the device is at fault.
      const cpu = await create('cpu').catch(() => undefined);
      if (cpu) {
        await cpu.release();
        throw deviceError(device, modelName, errorText(e));
      }
    }
    const unsupported = unsupportedModelText(errorText(e));
    if (unsupported) throw new ModelError(`${modelName} ${unsupported}`);
    const missing = missingExternalData(errorText(e));
    if (missing)
      throw new ModelError(
        `${modelName} keeps its weights in an external data file, ${basename(missing)}, which is missing (onnxruntime looked for ${missing}): it must sit beside the model, as saved with it (or save the model with its weights inside).`,
      );
    const size =
      typeof model === 'string'
        ? await stat(model).then(
            (s) => s.size,
            () => undefined,
          )
        : model.byteLength;
    throw new ModelError(
      size === 0
        ? `${modelName} is empty (0 bytes): not an ONNX model.`
        : `${modelName} is not a valid ONNX model (${size} bytes; a truncated or non-ONNX file?): ${errorText(e)}`,
    );
  }
}

/** The external data file onnxruntime looked for and did not find, from its error text. */
function missingExternalData(text: string): string | undefined {
  return /External data path does not exist: "([^"]+)"/.exec(text)?.[1];
}

/**
 * What to tell a user whose intact model this onnxruntime cannot run (a newer IR version or
 * opset, an operator it lacks), from onnxruntime's message; undefined for other failures.
 */
export function unsupportedModelText(message: string): string | undefined {
  const runtime = `this onnxruntime (${ort.env.versions?.common ?? 'its version'})`;
  const ir = /Unsupported model IR version: (\d+), max supported IR version: (\d+)/.exec(message);
  if (ir)
    return `was saved with ONNX IR version ${ir[1]}; ${runtime} reads up to ${ir[2]}: save it with an older onnx package (or onnx.version_converter), or use a newer onnxruntime-node.`;
  const opset = /Opset (\d+) is under development.*?till opset (\d+)/s.exec(message);
  if (opset)
    return `uses ONNX opset ${opset[1]}; ${runtime} supports up to opset ${opset[2]}: re-export it with an older opset (e.g. torch.onnx.export(…, opset_version=17)).`;
  const op = /No Op registered for (\S+) with domain_version of (\d+)/.exec(message);
  if (op)
    return `uses operator ${op[1]} (opset ${op[2]}), which ${runtime} does not have: a custom operator, or one from a newer opset; re-export the model with standard ONNX operators.`;
  return undefined;
}

/** Resolve the sample shape (batch excluded) from the model's declared input and the option. */
function resolveSampleShape(
  input: TensorIo,
  modelName: string,
  given: readonly number[] | undefined,
): number[] {
  const declared = input.shape;
  if (given && !given.every((d) => Number.isInteger(d) && d > 0))
    throw new OptionError(`input shape [${given}] must be positive integers`);
  if (!declared) {
    if (given) return [...given];
    throw new ModelError(
      `model ${modelName} does not declare the shape of input '${input.name}'; give the sample shape (batch excluded) as the inputShape option`,
    );
  }
  if (declared.length < 2)
    throw new ModelError(
      `model ${modelName} input '${input.name}' ${formatShape(declared)} has no sample axes after the batch axis`,
    );
  const sample = declared.slice(1);
  if (given) {
    const fits =
      given.length === sample.length && sample.every((d, i) => isSymbolic(d) || d === given[i]);
    if (!fits)
      throw new ModelError(
        `input shape [${given}] does not fit model ${modelName} input '${input.name}' ${formatShape(declared)} (sample ${formatShape(sample)})`,
      );
    return [...given];
  }
  if (sample.some(isSymbolic))
    throw new ModelError(
      `model ${modelName} input '${input.name}' ${formatShape(declared)} has symbolic dims besides the batch; give the data's grid (dataGrid option) or the sample shape (inputShape)`,
    );
  return sample as number[];
}

/**
 * The sample shape a model with symbolic sample dims takes for `options.dataGrid`: the channel
 * axis first or last (from `layout`, else the end fixed to the channel count), the grid axes in
 * `axes` order. Undefined when the model fixes every sample dim or no grid is given.
 */
function sampleShapeFromGrid(
  input: TensorIo,
  modelName: string,
  options: OnnxClassifierOptions,
): number[] | undefined {
  const sample = input.shape?.slice(1);
  const grid = options.dataGrid;
  if (!grid || !sample || !sample.some(isSymbolic)) return undefined;
  const declared = formatShape(input.shape);
  if (sample.length === 3 && grid.dims.length === 3 && grid.channels === 1 && !options.layout) {
    // [N,D,H,W]: a volume model without a channel axis, when its fixed dims fit the grid.
    const spatial = (options.axes ?? 'xyz') === 'xyz' ? [...grid.dims] : [...grid.dims].reverse();
    if (sample.every((d, i) => isSymbolic(d) || d === spatial[i])) return spatial;
  }
  if (sample.length !== grid.dims.length + 1)
    throw new ModelError(
      `model ${modelName} input '${input.name}' ${declared} does not take ${grid.dims.length}-D data of ${grid.dims.join('×')}`,
    );
  const kind = grid.dims.length === 3 ? 'NCDHW or NDHWC' : 'NCHW or NHWC';
  // The channel axis is the end the model fixes to the data's channel count.
  const fixedTo = (d: IoDim) => !isSymbolic(d) && d === grid.channels;
  const [first, last] = [fixedTo(sample[0]), fixedTo(sample[sample.length - 1])];
  let channelsFirst: boolean;
  if (options.layout) channelsFirst = options.layout[1] === 'C';
  else if (first !== last) channelsFirst = first;
  else
    throw new ModelError(
      `model ${modelName} input '${input.name}' ${declared} has symbolic dims: give --layout ${kind} to say where its channels are`,
    );
  const layout = (
    grid.dims.length === 3 ? (channelsFirst ? 'NCDHW' : 'NDHWC') : channelsFirst ? 'NCHW' : 'NHWC'
  ) as Layout;
  const axes = options.axes ?? defaultAxisOrder(layout);
  const spatial = axes === 'xyz' ? [...grid.dims] : [...grid.dims].reverse();
  return channelsFirst ? [grid.channels, ...spatial] : [...spatial, grid.channels];
}

/**
 * Whether a rank-3 sample is a volume without a channel axis ([N,D,H,W]) rather than an image
 * ([N,C,H,W] or [N,H,W,C]): the data is a volume, no layout was given, and the sample is the
 * volume's grid (either axis order) or has no channel-like end (1 or 3) an image would have.
 */
function isChannellessVolume(sample: readonly number[], options: OnnxClassifierOptions): boolean {
  const grid = options.dataGrid;
  if (sample.length !== 3 || options.layout || grid?.dims.length !== 3 || grid.channels !== 1)
    return false;
  const isGrid = (order: readonly number[]) => order.every((d, i) => d === sample[i]);
  const imageLike = isChannelCount(sample[0]) || isChannelCount(sample[2]);
  return isGrid(grid.dims) || isGrid([...grid.dims].reverse()) || !imageLike;
}

/**
 * For a --layout that does not fit the model's sample (batch excluded): the layout that does (one
 * channel for a volume, 3 for an image), or that the automatic one does, as advice; '' when none.
 */
function layoutFix(sample: readonly number[], options: OnnxClassifierOptions): string {
  const given = options.layout;
  if (given === undefined) return '';
  const auto = { ...options, layout: undefined };
  if (isChannellessVolume(sample, auto))
    return `; the model input has no channel axis, which glas3d feeds as one channel: leave --layout out`;
  const wanted = sample.length === 4 ? 1 : 3;
  const fits = LAYOUTS.filter((l) => {
    if (l === given || spatialRank(l) + 1 !== sample.length) return false;
    return gridAxesOf(l, defaultAxisOrder(l), sample).channels === wanted;
  });
  let inferred: Layout | undefined;
  try {
    inferred = inferLayout(sample);
  } catch {
    inferred = undefined;
  }
  const fix = fits.length === 1 ? fits[0] : inferred !== given ? inferred : undefined;
  return fix ? `; the model input fits ${fix}: use --layout ${fix}, or leave --layout out` : '';
}

const isFloat = (o: TensorIo) =>
  o.type === 'float32' || o.type === 'float64' || o.type === 'float16';

/** IEEE half-precision bits → number (onnxruntime-node hands float16 data over as Uint16Array). */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** A float output tensor's values as numbers (float16 decoded). */
export function floatData(out: ort.Tensor): ArrayLike<number> {
  if (out.type !== 'float16') return out.data as Float32Array | Float64Array;
  return Float32Array.from(out.data as Uint16Array, halfToNumber);
}

/** "'embedding' float32 [N,32], 'logits' float32 [N,2]". */
const outputList = (io: ModelIo) =>
  io.outputs.map((o) => `'${o.name}' ${o.type} ${formatShape(o.shape)}`).join(', ');

/**
 * Pick the output to read: by name, or the first float one (a scikit-learn export puts an int64
 * label first).
 */
function pickOutput(io: ModelIo, modelName: string, name: string | undefined): TensorIo {
  const output =
    name === undefined ? io.outputs.find(isFloat) : io.outputs.find((o) => o.name === name);
  if (!output)
    throw new ModelError(
      name === undefined
        ? `model ${modelName} has no float output to read class scores from (its outputs: ${outputList(io) || 'none'})`
        : `model ${modelName} has no output '${name}'; its outputs are ${outputList(io)}`,
    );
  if (!isFloat(output))
    throw new ModelError(
      `model ${modelName} output '${output.name}' is ${output.type}; glas3d reads float class scores: give --model-output with one of ${outputList(io)}`,
    );
  return output;
}

/** 8 units in the last place of the output's float type, relative (see OnnxClassifier.responseNoise). */
function responseNoiseOf(type: string | undefined): number {
  const mantissaBits = type === 'float16' ? 10 : type === 'float64' ? 52 : 23;
  return 2 ** (3 - mantissaBits);
}

/** What a user should hear when a model has several outputs and glas3d chose one. */
function outputChoiceNote(io: ModelIo, modelName: string, chosen: TensorIo): string | undefined {
  if (io.outputs.length < 2) return undefined;
  return `${modelName} has ${io.outputs.length} outputs (${outputList(io)}); explaining '${chosen.name}': --model-output NAME explains another`;
}

/**
 * Raw model outputs → probability rows under an activation. One column is a logit ('sigmoid'),
 * a probability ('none') or a value ('identity'); several are softmaxed ('softmax') or kept
 * ('none', 'identity'), and 'auto' softmaxes from the first batch that is not already a simplex
 * on (sticky, so one model never mixes the two readings). A value that is not finite is the
 * model's error.
 */
export class ProbabilityRows {
  private sawLogits = false;

  constructor(
    private readonly activation: Activation,
    private readonly modelName: string,
  ) {}

  /** The first `n` rows of `c` raw values each. */
  of(raw: ArrayLike<number>, n: number, c: number): Float32Array {
    const bad = firstNonFinite(raw, n, c);
    if (bad)
      throw new NonFiniteOutputError(
        `model ${this.modelName} produced ${bad.value} for sample ${bad.sample}`,
        bad.sample,
        bad.value,
      );
    const copy = () => Float32Array.from({ length: n * c }, (_, i) => raw[i]);
    if (this.activation === 'identity') return copy();
    if (c === 1)
      return twoClassRows(raw, n, this.activation === 'auto' || this.activation === 'sigmoid');
    let softmax = this.activation === 'softmax';
    if (this.activation === 'auto') {
      if (!this.sawLogits && !isSimplexRows(raw, n, c)) this.sawLogits = true;
      softmax = this.sawLogits;
    }
    return softmax ? softmaxRows(raw, n, c) : copy();
  }
}

export class OnnxClassifier implements Classifier {
  /** Model path, or the modelName option for bytes; used in messages. */
  readonly modelName: string;
  readonly inputName: string;
  /** Sample shape without batch, in the model's memory order (with a channel axis). */
  readonly inputShape: readonly number[];
  /**
   * The sample shape the model's input declares (batch excluded): inputShape, or inputShape
   * less its channel axis for a volume model that takes none ([N,D,H,W]). The memory order is
   * the same, so only the shape given to onnxruntime differs.
   */
  readonly feedShape: readonly number[];
  /** Layout and axis order; undefined for inputs that are not images or volumes (e.g. [N, K]). */
  readonly layout: Layout | undefined;
  readonly axes: AxisOrder | undefined;
  readonly gridAxes: GridAxes | undefined;
  readonly outputName: string;
  readonly outputNames: readonly string[];
  /** Set when the model has several outputs and none was asked for: which one is read. */
  readonly outputNote: string | undefined;
  /** Classes in the rows predict returns (2 for a single-column output). */
  readonly classes: number;
  readonly batchSize: number;
  /** The activation asked for, with 'auto' resolved from the graph where it can be (autoActivation). */
  readonly activation: Activation;
  /**
   * Changes of a response within this, relative to it, are rounding of the output's float type
   * (8 units in the last place: 2⁻²⁰ for float32, 2⁻⁷ for float16); see glas3d/flat.ts.
   */
  readonly responseNoise: number;
  /** 'values' under activation 'identity', else 'probabilities'. */
  readonly responses: ResponseKind;
  readonly device: Device;
  /** The session runs the float twin of the quantized model given (option `dequantize`). */
  readonly dequantized: boolean;
  /** Values per sample in the raw output (1 for a single logit). */
  private readonly outputColumns: number;
  /** Batch size the model's input fixes, if any: smaller batches are zero-padded to it. */
  private readonly fixedBatch: number | undefined;
  private readonly sampleSize: number;
  private readonly probabilities: ProbabilityRows;
  private session: ort.InferenceSession | undefined;

  /** Use loadOnnxClassifier. */
  constructor(init: {
    session: ort.InferenceSession;
    modelName: string;
    inputName: string;
    inputShape: number[];
    feedShape: number[];
    layout: Layout | undefined;
    axes: AxisOrder | undefined;
    gridAxes: GridAxes | undefined;
    outputName: string;
    outputNames: string[];
    outputNote?: string;
    outputColumns: number;
    fixedBatch: number | undefined;
    batchSize: number;
    activation: Activation;
    responseNoise: number;
    device: Device;
    dequantized: boolean;
  }) {
    this.session = init.session;
    this.modelName = init.modelName;
    this.inputName = init.inputName;
    this.inputShape = init.inputShape;
    this.feedShape = init.feedShape;
    this.layout = init.layout;
    this.axes = init.axes;
    this.gridAxes = init.gridAxes;
    this.outputName = init.outputName;
    this.outputNames = init.outputNames;
    this.outputNote = init.outputNote;
    this.outputColumns = init.outputColumns;
    this.classes = classesOf(init.outputColumns, init.activation);
    this.responses = responsesOf(init.activation);
    this.fixedBatch = init.fixedBatch;
    this.batchSize = init.batchSize;
    this.activation = init.activation;
    this.responseNoise = init.responseNoise;
    this.device = init.device;
    this.dequantized = init.dequantized;
    this.sampleSize = product(init.inputShape);
    this.probabilities = new ProbabilityRows(init.activation, init.modelName);
  }

  /** The model as explanations record it. */
  get record(): ModelRecord {
    return {
      name: this.modelName,
      inputName: this.inputName,
      inputShape: [...this.feedShape],
      layout: this.feedShape.length < this.inputShape.length ? 'NDHW' : this.layout,
      axes: this.axes,
      outputName: this.outputName,
      activation: this.activation,
      ...(this.dequantized && { dequantized: true as const }),
      device: this.device,
    };
  }

  /** Throw unless `c` is a class index of this model. */
  checkClass(c: number): void {
    if (!Number.isInteger(c) || c < 0 || c >= this.classes)
      throw new ModelError(
        this.responses === 'values'
          ? `output ${c} is out of range: the model has ${this.classes} output value${this.classes === 1 ? '' : 's'} per sample (0–${this.classes - 1})`
          : `class ${c} is out of range: the model has ${this.classes} classes (0–${this.classes - 1})`,
      );
  }

  /**
   * Throw unless data with these grid dims (x, y[, z]) and channel count fits one sample of
   * the model; the message gives both shapes.
   */
  checkInputFits(gridDims: readonly number[], channels: number): void {
    const volume = gridDims.length === 3;
    const plural = (n: number) => `${n} channel${n === 1 ? '' : 's'}`;
    const data = volume
      ? `a volume of ${gridDims.join('×')} voxels`
      : `an image of ${gridDims.join('×')} pixels with ${plural(channels)}`;
    const axes = this.gridAxes;
    if (!axes)
      throw new ModelError(
        `model ${this.modelName} takes samples of shape [${this.inputShape}], which is neither an image (C,H,W) nor a volume (C,D,H,W); the data is ${data}`,
      );
    const modelVolume = spatialRank(axes.layout) === 3;
    const modelShape = modelVolume
      ? `[${this.inputShape}]: ${axes.layout}, a ${axes.gridDims.join('×')} grid in axis order ${axes.axisOrder}, ${plural(axes.channels)}`
      : `[${this.inputShape}]: ${axes.layout}, ${axes.gridDims.join('×')} pixels, ${plural(axes.channels)}`;
    if (volume !== modelVolume)
      throw new ModelError(
        `model ${this.modelName} takes ${modelVolume ? 'volumes' : 'images'} (${modelShape}) but the data is ${data}: ` +
          (modelVolume
            ? 'explain volumes with glas3d explain or run'
            : 'explain photos with glas3d image'),
      );
    if (modelVolume && axes.channels !== 1)
      throw new ModelError(
        `model ${this.modelName} wants ${axes.channels} channels per voxel (${modelShape}) but a volume has 1: glas3d explains single-channel (T1) models`,
      );
    const sameGrid = gridDims.every((d, i) => d === axes.gridDims[i]);
    if (sameGrid && channels === axes.channels) return;
    const reversed = [...gridDims].reverse().every((d, i) => d === axes.gridDims[i]);
    const hint =
      !sameGrid && reversed
        ? `: the axes look swapped, try --axes ${axes.axisOrder === 'xyz' ? 'zyx' : 'xyz'}`
        : sameGrid
          ? ''
          : modelVolume
            ? ": glas3d explain takes a volume already on the model's grid; glas3d run resamples scans onto it (--grid REF.nii.gz, a volume on that grid, for a grid that is not a standard MNI one)"
            : ": the crop of the preprocessing (--preprocess, key crop) must give the model's size";
    throw new ModelError(
      `model ${this.modelName} takes samples of shape ${modelShape}, but the data is ${data}${hint}`,
    );
  }

  async predict(batch: Float32Array, n: number): Promise<Float32Array> {
    const session = this.session;
    if (!session) throw new Error(`model ${this.modelName} was disposed`);
    if (!Number.isInteger(n) || n < 1 || n > this.batchSize)
      throw new RangeError(`predict: n = ${n} must be an integer in 1..${this.batchSize}`);
    const size = n * this.sampleSize;
    if (batch.length < size)
      throw new RangeError(
        `predict: batch holds ${batch.length} values, ${n} samples need ${size}`,
      );
    let rows = n;
    let data = batch.subarray(0, size); // a view: onnxruntime reads it in place
    if (this.fixedBatch !== undefined && n < this.fixedBatch) {
      rows = this.fixedBatch;
      const padded = new Float32Array(rows * this.sampleSize);
      padded.set(data);
      data = padded;
    }
    const raw = await this.run(session, data, rows);
    return this.probabilities.of(raw, n, this.outputColumns);
  }

  /** Release the onnxruntime session; predict fails afterwards. */
  async dispose(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.release();
  }

  private async run(
    session: ort.InferenceSession,
    data: Float32Array,
    rows: number,
  ): Promise<ArrayLike<number>> {
    const shape = [rows, ...this.feedShape];
    let out: ort.Tensor;
    try {
      const result = await session.run(
        { [this.inputName]: new ort.Tensor('float32', data, shape) },
        [this.outputName],
      );
      out = result[this.outputName];
    } catch (e) {
      throw new ModelError(`model ${this.modelName} failed on input [${shape}]: ${errorText(e)}`);
    }
    const expected = rows * this.outputColumns;
    if (out.size !== expected)
      throw new ModelError(
        `model ${this.modelName} output '${this.outputName}' has shape [${out.dims}] for ${rows} samples; expected ${this.outputColumns} values per sample`,
      );
    return floatData(out);
  }
}

function checkOptions(options: OnnxClassifierOptions): void {
  const { layout, axes, activation, device, batchSize, intraOpNumThreads } = options;
  if (layout !== undefined && !LAYOUTS.includes(layout))
    throw new OptionError(`layout '${layout}' is not one of ${LAYOUTS.join(', ')}`);
  if (axes !== undefined && axes !== 'xyz' && axes !== 'zyx')
    throw new OptionError(`axes '${axes}' is not one of xyz, zyx`);
  if (activation !== undefined && !ACTIVATIONS.includes(activation))
    throw new OptionError(`activation '${activation}' is not one of ${ACTIVATIONS.join(', ')}`);
  if (device !== undefined && !DEVICES.includes(device))
    throw new OptionError(`device '${device}' is not one of ${DEVICES.join(', ')}`);
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize >= 1))
    throw new OptionError(`batch size ${batchSize} must be a positive integer`);
  if (
    intraOpNumThreads !== undefined &&
    !(Number.isInteger(intraOpNumThreads) && intraOpNumThreads >= 1)
  )
    throw new OptionError(`thread count ${intraOpNumThreads} must be a positive integer`);
}

/** Values per sample of the output: from its declared shape, or by running a zero batch. */
async function outputColumnsOf(
  session: ort.InferenceSession,
  output: TensorIo,
  input: { name: string; shape: number[] },
  rows: number,
  modelName: string,
): Promise<number> {
  const declared = output.shape?.slice(1);
  if (declared && declared.length > 0 && !declared.some(isSymbolic))
    return product(declared as number[]);
  const shape = [rows, ...input.shape];
  try {
    const result = await session.run(
      { [input.name]: new ort.Tensor('float32', new Float32Array(product(shape)), shape) },
      [output.name],
    );
    return result[output.name].size / rows;
  } catch (e) {
    throw new ModelError(`model ${modelName} failed on a zero input [${shape}]: ${errorText(e)}`);
  }
}

/**
 * Load an ONNX model (a file path, or the model's bytes) as a Classifier. The first input axis is
 * the batch; the rest is one sample.
 */
export async function loadOnnxClassifier(
  modelPathOrBytes: string | Uint8Array,
  options: OnnxClassifierOptions = {},
): Promise<OnnxClassifier> {
  checkOptions(options);
  return loadOnnxClassifierFrom(await modelSource(modelPathOrBytes, options), options);
}

/** loadOnnxClassifier of a model already resolved (its float twin or as given); `dequantize` is not read. */
export async function loadOnnxClassifierFrom(
  source: ModelSource,
  options: OnnxClassifierOptions = {},
): Promise<OnnxClassifier> {
  checkOptions(options);
  const device = options.device ?? 'cpu';
  const { model, name: modelName } = source;
  if (typeof model === 'string') {
    // A readable path is passed to onnxruntime as is, so models with external data load too.
    const info = await stat(model).catch((e: unknown) => {
      throw new ModelError(`cannot read model file ${modelName}: ${errorText(e)}`);
    });
    if (!info.isFile()) throw new ModelError(`model ${modelName} is not a file`);
  }
  const session = await createSession(
    model,
    modelName,
    device,
    options.intraOpNumThreads ?? cpuCount(),
  );
  try {
    return await describe(session, source, device, options);
  } catch (e) {
    await session.release();
    throw e;
  }
}

/** finalOpOf the model's output; undefined when the model cannot be read here. */
async function outputFinalOp(
  model: string | Uint8Array,
  outputName: string,
): Promise<string | undefined> {
  const bytes = typeof model === 'string' ? await readFile(model).catch(() => undefined) : model;
  return bytes && finalOpOf(bytes, outputName);
}

/** Inputs and outputs from the session, completed from the model proto where it lacks shapes. */
async function modelIo(
  session: ort.InferenceSession,
  model: string | Uint8Array,
): Promise<ModelIo> {
  const io = ioFromSession(session);
  if (io && [...io.inputs, ...io.outputs].every((t) => t.shape !== undefined)) return io;
  const proto = ioFromProto(typeof model === 'string' ? await readFile(model) : model);
  if (!io) return proto;
  const complete = (own: TensorIo[], fromProto: TensorIo[]) =>
    own.map((t) => ({ ...t, shape: t.shape ?? fromProto.find((p) => p.name === t.name)?.shape }));
  return {
    inputs: complete(io.inputs, proto.inputs),
    outputs: complete(io.outputs, proto.outputs),
  };
}

async function describe(
  session: ort.InferenceSession,
  source: ModelSource,
  device: Device,
  options: OnnxClassifierOptions,
): Promise<OnnxClassifier> {
  const modelName = source.name;
  const io = await modelIo(session, source.model);
  if (io.inputs.length !== 1)
    throw new ModelError(
      `model ${modelName} has ${io.inputs.length} inputs (${io.inputs.map((i) => `'${i.name}'`).join(', ')}); glas3d feeds models with one input`,
    );
  const input = io.inputs[0];
  if (input.type !== 'float32')
    throw new ModelError(
      `model ${modelName} input '${input.name}' is ${input.type}; glas3d feeds float32 — export the model with a float32 input`,
    );
  const feedShape = resolveSampleShape(
    input,
    modelName,
    options.inputShape ?? sampleShapeFromGrid(input, modelName, options),
  );
  // A volume model without a channel axis is fed as NCDHW with one channel: the same memory.
  const inputShape = isChannellessVolume(feedShape, options) ? [1, ...feedShape] : feedShape;

  let layout: Layout | undefined;
  let axes: AxisOrder | undefined;
  let gridAxes: GridAxes | undefined;
  if (inputShape.length === 3 || inputShape.length === 4) {
    try {
      layout = options.layout ?? inferLayout(inputShape);
      axes = options.axes ?? defaultAxisOrder(layout);
      gridAxes = gridAxesOf(layout, axes, inputShape);
    } catch (e) {
      if (e instanceof ModelError)
        throw new ModelError(`model ${modelName}: ${e.message}${layoutFix(feedShape, options)}`);
      throw e;
    }
    if (options.layout !== undefined && spatialRank(layout) === 3 && gridAxes.channels !== 1)
      throw new ModelError(
        `model ${modelName} wants ${gridAxes.channels} channels per voxel under --layout ${layout} (sample [${inputShape}]) but a volume has 1${layoutFix(feedShape, options)}`,
      );
  } else if (options.layout !== undefined) {
    throw new ModelError(
      `model ${modelName} takes samples of shape [${inputShape}]; layout ${options.layout} needs a sample of rank ${spatialRank(options.layout) + 1}${layoutFix(feedShape, options)}`,
    );
  }

  const batchDim = input.shape?.[0];
  const fixedBatch = batchDim !== undefined && !isSymbolic(batchDim) ? batchDim : undefined;
  const batchSize = fixedBatch ?? options.batchSize ?? DEFAULT_BATCH_SIZE;

  const output = pickOutput(io, modelName, options.outputName);
  const outputColumns = await outputColumnsOf(
    session,
    output,
    { name: input.name, shape: feedShape },
    fixedBatch ?? 1,
    modelName,
  );
  if (!(outputColumns >= 1) || !Number.isInteger(outputColumns)) {
    // E.g. input [3, 224, 224] and output [2]: the first input dim was read as the batch.
    const noBatch = fixedBatch !== undefined && (output.shape?.length ?? 0) <= 1;
    throw new ModelError(
      noBatch
        ? `model ${modelName} has no batch axis: its input '${input.name}' ${formatShape(input.shape)} starts with ${fixedBatch} (the channel count, read as a batch of ${fixedBatch}) and its output '${output.name}' ${formatShape(output.shape)} has no axis for the batch; glas3d feeds batches of samples: re-export the model with a batch axis first (input [N, ${input.shape!.join(', ')}], output [N, ${output.shape?.join(', ') ?? '…'}]; torch.onnx.export with a batched example input and dynamic_axes={'${input.name}': {0: 'N'}})`
        : `model ${modelName} output '${output.name}' has no values per sample`,
    );
  }
  const activation =
    (options.activation ?? 'auto') === 'auto'
      ? autoActivation(outputColumns, await outputFinalOp(source.model, output.name))
      : (options.activation as Activation);
  if (outputColumns === 1 && activation === 'softmax')
    throw new OptionError(
      `model ${modelName} outputs a single column; softmax over one value is always 1 — use --activation sigmoid (a logit), none (a probability) or identity (a value such as an age)`,
    );
  if (outputColumns > 1 && activation === 'sigmoid')
    throw new OptionError(
      `model ${modelName} outputs ${outputColumns} columns; sigmoid applies to a single logit — use --activation softmax, none or identity`,
    );

  return new OnnxClassifier({
    session,
    modelName,
    inputName: input.name,
    inputShape,
    feedShape,
    layout,
    axes,
    gridAxes,
    outputName: output.name,
    outputNames: io.outputs.map((o) => o.name),
    outputNote:
      options.outputName === undefined ? outputChoiceNote(io, modelName, output) : undefined,
    outputColumns,
    fixedBatch,
    batchSize,
    activation,
    responseNoise: responseNoiseOf(output.type),
    device,
    dequantized: source.dequantized,
  });
}
