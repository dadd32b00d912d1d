/**
 * The in-graph driver: an ONNX classifier whose session runs the perturbation graph joined in
 * front of the user's model (perturbation-graph.ts), so GLAS sends the sample once per call and
 * a few numbers per perturbed copy. It implements the engine's PerturbingClassifier; the engine
 * (src/glas3d/in-graph.ts runGlasInGraph) never sees onnxruntime.
 *
 * Loading: the user's model is first loaded as a plain OnnxClassifier on the CPU to resolve its
 * input, layout, output and activation with the usual checks and messages; then the combined
 * model is built (cached) and started on the device. When the device refuses the combined model,
 * the plain model is tried on it too, so a missing device gives loadOnnxClassifier's own message
 * and advice (CUDA reinstall, WebGPU driver).
 *
 * loadClassifiers loads what one GLAS run over a model needs, for the commands and the library:
 * the plain classifier, the in-graph one when the copies are made on the device, both of the
 * quantized model's float twin on request (`dequantize`), and the notes a user should read.
 */
import * as ort from 'onnxruntime-node';
import { ModelError, OptionError } from '../errors.js';
import { batchDependenceError } from '../glas3d/batch-check.js';
import {
  LIGHT,
  SHADOW,
  type PerturbationRows,
  type PerturbingClassifier,
} from '../glas3d/in-graph.js';
import type { FusionInput } from '../glas3d/fusion.js';
import type { ResponseKind } from '../glas3d/classifier.js';
import { responsesOf, type Activation } from './activation.js';
import {
  maxBatchFor,
  probeBatchSize,
  type BatchProbeOptions,
  type BatchProbeResult,
} from './batch-probe.js';
import { onDevice, type DeviceChoice } from './device-auto.js';
import type { GridAxes } from './layout.js';
import {
  cpuCount,
  errorText,
  floatData,
  loadOnnxClassifierFrom,
  product,
  ProbabilityRows,
  type Device,
  type OnnxClassifier,
  type OnnxClassifierOptions,
} from './onnx-classifier.js';
import { prepareCombinedModel, type CombinedModel } from './perturbation-graph.js';
import { dequantizeNotes, modelSource, type ModelSource } from './dequantize.js';
import { DeviceFusion } from './fusion-graph.js';
import { rewriteForWebGpu } from './gpu-rewrite.js';
import { sessionOptions } from './session-options.js';

export interface InGraphClassifierOptions extends Omit<
  OnnxClassifierOptions,
  'device' | 'batchSize'
> {
  /** cpu, cuda, webgpu, or auto (CUDA, then WebGPU, then CPU); default cpu. */
  device?: DeviceChoice;
  /** Perturbed copies per model call; default: probed (cap `probe.max`, else 64 on the CPU and 256 on a GPU). */
  batchSize?: number;
  /** Options of the batch-size probe when `batchSize` is not given. */
  probe?: BatchProbeOptions;
  /** For each grid axis the sample-tensor axis that holds it; default: from the layout. */
  gridAxes?: readonly number[];
  /** Keep combined models on disk too (see prepareCombinedModel). */
  diskCache?: boolean | string;
}

/** Distance (in physical units) that puts a unit-σ Gaussian's every factor at exactly 0. */
const FAR = 1e4;

interface SampleState {
  feeds: Record<string, ort.Tensor>;
  spacing: readonly number[];
}

export class InGraphOnnxClassifier implements PerturbingClassifier {
  readonly modelName: string;
  readonly inputShape: readonly number[];
  readonly classes: number;
  readonly gridAxes: readonly number[];
  /** Layout and axis order of the user's input, when it is an image or volume. */
  readonly axes: GridAxes | undefined;
  readonly activation: Activation;
  /** 'values' under activation 'identity', else 'probabilities'. */
  readonly responses: ResponseKind;
  /** The device the session runs on, and how it was chosen (for 'auto'). */
  readonly device: Device;
  readonly deviceNote: string;
  readonly combined: CombinedModel;
  /** The graph joins the float twin of the quantized model given (option `dequantize`). */
  readonly dequantized: boolean;
  /** The probe that chose the batch size, when it was probed. */
  probe: BatchProbeResult | undefined;
  /** Eq. 3 on the device (GPU providers only; see PerturbingClassifier.fuseMap). */
  readonly fuseMap?: (input: FusionInput) => Promise<Float32Array>;
  private readonly deviceFusion: DeviceFusion | undefined;
  /** Time inside session.run and number of runs, for benches. */
  runMs = 0;
  runs = 0;
  private rowsPerCall: number;
  private session: ort.InferenceSession | undefined;
  private state: SampleState | undefined;
  private outputColumns: number | undefined;
  private readonly probabilities: ProbabilityRows;
  /** undefined: not checked yet; null: answers rows on their own; else why not. */
  private batchVerdict: ModelError | null | undefined;

  /** Use loadInGraphClassifier. */
  constructor(init: {
    session: ort.InferenceSession;
    modelName: string;
    inputShape: readonly number[];
    classes: number;
    gridAxes: readonly number[];
    axes: GridAxes | undefined;
    activation: Activation;
    device: Device;
    deviceNote: string;
    combined: CombinedModel;
    batchSize: number;
    dequantized: boolean;
  }) {
    this.session = init.session;
    this.modelName = init.modelName;
    this.inputShape = init.inputShape;
    this.classes = init.classes;
    this.responses = responsesOf(init.activation);
    this.gridAxes = init.gridAxes;
    this.axes = init.axes;
    this.activation = init.activation;
    this.device = init.device;
    this.deviceNote = init.deviceNote;
    this.combined = init.combined;
    this.dequantized = init.dequantized;
    this.probabilities = new ProbabilityRows(init.activation, init.modelName);
    this.rowsPerCall = init.combined.fixedBatch ?? init.batchSize;
    // On a GPU eq. 3 runs there too (a matrix product); the CPU keeps the host's exact double sum.
    if (init.device !== 'cpu') {
      const fusion = new DeviceFusion(init.device, cpuCount());
      this.deviceFusion = fusion;
      this.fuseMap = (input) => fusion.fuse(input);
    }
  }

  get batchSize(): number {
    return this.rowsPerCall;
  }

  /** Changes the rows per call (not for models whose input fixes the batch). */
  setBatchSize(n: number): void {
    if (!Number.isInteger(n) || n < 1)
      throw new OptionError(`batch size ${n} must be a positive integer`);
    const fixed = this.combined.fixedBatch;
    if (fixed !== undefined && n !== fixed)
      throw new OptionError(`model ${this.modelName} fixes the batch at ${fixed}`);
    this.rowsPerCall = n;
  }

  setSample(
    sample: Float32Array,
    baseline: Float32Array | number,
    spacing: readonly number[],
  ): void {
    const size = product(this.inputShape);
    const rank = this.gridAxes.length;
    if (!(sample instanceof Float32Array) || sample.length !== size)
      throw new ModelError(
        `the sample has ${sample?.length ?? 'no'} values; model ${this.modelName} takes [${this.inputShape}] (${size})`,
      );
    if (typeof baseline === 'number' ? !Number.isFinite(baseline) : baseline.length !== size)
      throw new OptionError(
        `the baseline must be one finite number or ${size} values for model ${this.modelName}`,
      );
    if (spacing.length !== rank || !spacing.every((s) => Number.isFinite(s) && s > 0))
      throw new OptionError(`spacing [${spacing}] needs ${rank} positive finite values`);
    const names = this.combined.inputs;
    const ones = this.inputShape.map(() => 1);
    this.state = {
      spacing: [...spacing],
      feeds: {
        [names.sample]: new ort.Tensor('float32', sample, [1, ...this.inputShape]),
        [names.baseline]:
          typeof baseline === 'number'
            ? new ort.Tensor('float32', Float32Array.of(baseline), [1, ...ones])
            : new ort.Tensor('float32', baseline, [1, ...this.inputShape]),
        [names.spacing]: new ort.Tensor('float32', Float32Array.from(spacing), [rank]),
      },
    };
  }

  /** Forgets the sample (and its tensors); predictions need setSample again. */
  clearSample(): void {
    this.state = undefined;
  }

  /** The unperturbed sample: a shadow whose Gaussian lies far outside the grid is exactly I. */
  async predictSample(): Promise<Float32Array> {
    const state = this.current();
    const centres = Float64Array.from(state.spacing, (s) => -FAR / s);
    const p = await this.predictPerturbed(
      { centres, sigmas: Float64Array.of(1), kinds: Uint8Array.of(SHADOW) },
      1,
    );
    return p.subarray(0, this.classes);
  }

  async predictPerturbed(rows: PerturbationRows, n: number): Promise<Float32Array> {
    const session = this.session;
    if (!session) throw new Error(`model ${this.modelName} was disposed`);
    const state = this.current();
    if (!Number.isInteger(n) || n < 1 || n > this.rowsPerCall)
      throw new RangeError(
        `predictPerturbed: n = ${n} must be an integer in 1..${this.rowsPerCall}`,
      );
    const rank = this.gridAxes.length;
    if (rows.centres.length < n * rank || rows.sigmas.length < n || rows.kinds.length < n)
      throw new RangeError(`predictPerturbed: rows hold fewer than ${n} centres, σ or kinds`);
    const fixed = this.combined.fixedBatch;
    const count = fixed ?? n;
    // float32 rows for the device; a model that fixes its batch gets the last row repeated.
    const centres = new Float32Array(count * rank);
    const sigmas = new Float32Array(count);
    const kinds = new Float32Array(count);
    for (let k = 0; k < count; k++) {
      const from = Math.min(k, n - 1);
      for (let a = 0; a < rank; a++) centres[k * rank + a] = rows.centres[from * rank + a];
      sigmas[k] = rows.sigmas[from];
      kinds[k] = rows.kinds[from];
    }
    const names = this.combined.inputs;
    const feeds = {
      ...state.feeds,
      [names.centres]: new ort.Tensor('float32', centres, [count, rank]),
      [names.sigma]: new ort.Tensor('float32', sigmas, [count]),
      [names.kind]: new ort.Tensor('float32', kinds, [count]),
    };
    const output = this.combined.outputName;
    const start = performance.now();
    let out: ort.Tensor;
    try {
      out = (await session.run(feeds, [output]))[output];
    } catch (e) {
      throw new ModelError(
        `model ${this.modelName} with in-graph perturbation failed on ${count} rows: ${errorText(e)}`,
      );
    }
    this.runMs += performance.now() - start;
    this.runs += 1;
    const columns = out.size / count;
    if (this.outputColumns === undefined) {
      const fits = columns === this.classes || (columns === 1 && this.classes === 2);
      if (!Number.isInteger(columns) || !fits)
        throw new ModelError(
          `model ${this.modelName} output '${output}' has shape [${out.dims}] for ${count} samples; expected ${this.classes} values per sample`,
        );
      this.outputColumns = columns;
    } else if (columns !== this.outputColumns) {
      throw new ModelError(
        `model ${this.modelName} output '${output}' has shape [${out.dims}] for ${count} samples; expected ${this.outputColumns} values per sample`,
      );
    }
    const result = this.probabilities.of(floatData(out), n, columns);
    if (n >= 2) await this.checkBatchIndependence(rows, result);
    return result;
  }

  /**
   * glas3d/batch-check.ts's question on rows (a doubled sample is no row): once, on the first
   * batch whose first two rows differ, row 0 alone must answer as it did in the batch.
   */
  private async checkBatchIndependence(
    rows: PerturbationRows,
    batched: Float32Array,
  ): Promise<void> {
    if (this.batchVerdict) throw this.batchVerdict;
    if (this.batchVerdict === null) return;
    const rank = this.gridAxes.length;
    let same = rows.sigmas[0] === rows.sigmas[1] && rows.kinds[0] === rows.kinds[1];
    for (let a = 0; a < rank && same; a++) same = rows.centres[a] === rows.centres[rank + a];
    if (same) return; // a probe's identical rows cannot tell
    this.batchVerdict = null; // set before the call below, which is itself a batch of one
    const alone = await this.predictPerturbed(rows, 1);
    // A GPU may pick other kernels for other batch sizes: 1e−3 is beyond their rounding.
    this.batchVerdict = batchDependenceError(this, batched, alone, 1e-3) ?? null;
    if (this.batchVerdict) throw this.batchVerdict;
  }

  /** Release the session; predictions fail afterwards. */
  async dispose(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.state = undefined;
    await session?.release();
    await this.deviceFusion?.dispose();
  }

  private current(): SampleState {
    if (!this.state)
      throw new OptionError(`model ${this.modelName}: setSample must come before predictions`);
    return this.state;
  }
}

/** Where GLAS makes its perturbed copies: in JS on the host, or inside the model's graph. */
export type PerturbationSite = 'host' | 'device';
export const PERTURBATION_SITES: readonly PerturbationSite[] = ['host', 'device'];

/**
 * Where copies are best made for `model` on `device`: on the host on the CPU (exact, and as fast);
 * inside the graph on a GPU (only centres and σ travel; H100: 0.20 vs 1.05 s per subject) —
 * except for quantized models, whose QLinear operators have no GPU kernels (see dequantize.ts),
 * so they run on the CPU anyway and the host path is faster (H100: 0.42 vs 0.62 s per image) —
 * and except for models whose weights lie in an external data file, which a combined model
 * cannot reach (see perturbation-graph.ts).
 */
export async function preferredPerturbationSite(
  device: Device,
  model: string | Uint8Array,
): Promise<PerturbationSite> {
  return sourcePerturbationSite(device, await modelSource(model, { inspect: device !== 'cpu' }));
}

/**
 * preferredPerturbationSite for what `source` runs: a float twin is not quantized. A source whose
 * model was not looked at (modelSource without `inspect` or `dequantize`) counts as not quantized
 * and without external data.
 */
export const sourcePerturbationSite = (device: Device, source: ModelSource): PerturbationSite =>
  device === 'cpu' || (source.quantized && !source.dequantized) || source.externalData
    ? 'host'
    : 'device';

/**
 * Why the copies are made on the host on a GPU although the graph is the usual site: the model's
 * weights lie in an external data file (when `perturbation` was not asked for).
 */
export function externalDataNotes(
  source: ModelSource,
  device: Device,
  perturbation?: PerturbationSite,
): string[] {
  return source.externalData && device !== 'cpu' && perturbation === undefined
    ? [
        `${source.name} keeps its weights in an external data file, which a model with GLAS's perturbation joined in front cannot reach: the perturbed copies are made on the host (--perturbation host); save the model with its weights inside for the faster in-graph path`,
      ]
    : [];
}

/**
 * Loads `model` (path or bytes) with GLAS's perturbation joined in front of it, on the chosen
 * device ('auto': CUDA, then WebGPU, then CPU), with the batch size given or probed.
 */
export async function loadInGraphClassifier(
  model: string | Uint8Array,
  options: InGraphClassifierOptions = {},
): Promise<InGraphOnnxClassifier> {
  checkBatchSize(options.batchSize);
  return loadInGraphClassifierFrom(await modelSource(model, options), options);
}

function checkBatchSize(batchSize: number | undefined): void {
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize >= 1))
    throw new OptionError(`batch size ${batchSize} must be a positive integer`);
}

/** loadInGraphClassifier of a model already resolved (its float twin or as given). */
async function loadInGraphClassifierFrom(
  source: ModelSource,
  options: InGraphClassifierOptions,
): Promise<InGraphOnnxClassifier> {
  const {
    device: choice = 'cpu',
    batchSize,
    probe,
    gridAxes: givenAxes,
    diskCache,
    ...plainOptions
  } = options;
  checkBatchSize(batchSize);
  const threads = options.intraOpNumThreads ?? cpuCount();
  // The plain model on the CPU: input, layout, output and activation, with the usual messages.
  const plain = await loadOnnxClassifierFrom(source, {
    ...plainOptions,
    device: 'cpu',
    batchSize: 1,
    intraOpNumThreads: 1,
  });
  await plain.dispose();
  const modelName = plain.modelName;
  const gridAxes = givenAxes ?? plain.gridAxes?.tensorAxis;
  if (!gridAxes)
    throw new ModelError(
      `model ${modelName} takes samples of shape [${plain.inputShape}], which is neither an image nor a volume; give gridAxes for in-graph perturbation`,
    );
  const combined = await prepareCombinedModel(source.model, {
    sampleShape: plain.inputShape,
    feedShape: plain.feedShape,
    gridAxes,
    inputName: plain.inputName,
    outputName: plain.outputName,
    modelName,
    diskCache,
  });

  const started = await onDevice(choice, async (device) => {
    try {
      return await ort.InferenceSession.create(
        device === 'webgpu' ? rewriteForWebGpu(combined.bytes) : combined.bytes,
        sessionOptions(device, threads),
      );
    } catch (e) {
      if (device !== 'cpu') {
        // The plain model on the same device: a device that is missing fails there too, with
        // loadOnnxClassifier's message and advice.
        const check = await loadOnnxClassifierFrom(source, {
          ...plainOptions,
          device,
          batchSize: 1,
        });
        await check.dispose();
      }
      throw new ModelError(
        `model ${modelName} with in-graph perturbation does not start on device ${device}: ${errorText(e)}`,
      );
    }
  });

  const classifier = new InGraphOnnxClassifier({
    session: started.value,
    modelName,
    inputShape: plain.inputShape,
    classes: plain.classes,
    gridAxes,
    axes: plain.gridAxes,
    activation: plain.activation,
    device: started.device,
    deviceNote: started.note,
    combined,
    batchSize: batchSize ?? 1,
    dequantized: source.dequantized,
  });
  if (batchSize === undefined && combined.fixedBatch === undefined) {
    try {
      classifier.probe = await probeInGraphBatchSize(classifier, probe);
      classifier.setBatchSize(classifier.probe.batchSize);
    } catch (e) {
      await classifier.dispose();
      throw e;
    }
  }
  return classifier;
}

export interface ClassifiersOptions extends Omit<OnnxClassifierOptions, 'device'> {
  /** cpu, cuda, webgpu, or auto (CUDA, then WebGPU, then CPU); default cpu. */
  device?: DeviceChoice;
  /** Where GLAS makes its perturbed copies; default preferredPerturbationSite of what runs. */
  perturbation?: PerturbationSite;
  /**
   * Checks of the plain classifier before the in-graph one is loaded (that it takes images, a
   * class is in range …); what it throws is thrown, with both released.
   */
  check?: (classifier: OnnxClassifier) => void;
}

/** How a command or explain() loads a model: ClassifiersOptions less what the caller decides. */
export type ModelLoadOptions = Omit<ClassifiersOptions, 'perturbation' | 'check'>;

/** What a GLAS run over one model needs: the classifier and, to perturb on the device, its twin. */
export interface Classifiers {
  readonly classifier: OnnxClassifier;
  /** The in-graph classifier, loaded when `perturbation` is 'device'. */
  readonly inGraph: InGraphOnnxClassifier | undefined;
  readonly perturbation: PerturbationSite;
  /**
   * Lines for the user: the device 'auto' took, and about quantization (the float twin runs,
   * `dequantize` had no effect, or a quantized model on a GPU would run whole as its twin).
   */
  readonly notes: string[];
  /** Releases both sessions. */
  dispose(): Promise<void>;
}

/**
 * The classifiers of one GLAS run over `model`: the plain one (on the device chosen) and, when
 * the copies are made on the device, the in-graph one on the same device. With `dequantize` a
 * quantized model is read and dequantized once, and both run its float twin; the default site
 * then follows the twin (inside the graph on a GPU).
 */
export async function loadClassifiers(
  model: string | Uint8Array,
  options: ClassifiersOptions = {},
): Promise<Classifiers> {
  const { device: choice = 'cpu', perturbation, check, ...loadOptions } = options;
  const source = await modelSource(model, { ...loadOptions, inspect: choice !== 'cpu' });
  const started = await onDevice(choice, (device) =>
    loadOnnxClassifierFrom(source, { ...loadOptions, device }),
  );
  const classifier = started.value;
  const notes = [
    ...(choice === 'auto' ? [started.note] : []),
    ...(classifier.outputNote ? [classifier.outputNote] : []),
    ...dequantizeNotes(source, classifier.device, loadOptions.dequantize, perturbation),
    ...externalDataNotes(source, classifier.device, perturbation),
  ];
  let inGraph: InGraphOnnxClassifier | undefined;
  try {
    check?.(classifier);
    const site = perturbation ?? sourcePerturbationSite(classifier.device, source);
    if (site === 'device') {
      inGraph = await loadInGraphClassifierFrom(source, {
        ...loadOptions,
        device: classifier.device,
        gridAxes: classifier.gridAxes?.tensorAxis,
      });
    }
    return {
      classifier,
      inGraph,
      perturbation: site,
      notes,
      dispose: async () => {
        await inGraph?.dispose();
        await classifier.dispose();
      },
    };
  } catch (e) {
    await inGraph?.dispose();
    await classifier.dispose();
    throw e;
  }
}

/**
 * probeBatchSize for an in-graph classifier: a mid-grey sample and rows at the grid centre.
 * Leaves no sample set.
 */
export async function probeInGraphBatchSize(
  classifier: InGraphOnnxClassifier,
  options: BatchProbeOptions = {},
): Promise<BatchProbeResult> {
  const max = options.max ?? maxBatchFor(classifier.device, 4 * product(classifier.inputShape));
  const rank = classifier.gridAxes.length;
  const centre = classifier.gridAxes.map((t) => (classifier.inputShape[t] - 1) / 2);
  classifier.setSample(
    new Float32Array(product(classifier.inputShape)).fill(0.5),
    0,
    classifier.gridAxes.map(() => 1),
  );
  const rows = {
    centres: Float64Array.from({ length: max * rank }, (_, i) => centre[i % rank]),
    sigmas: new Float64Array(max).fill(centre[0] / 2 + 1),
    kinds: Uint8Array.from({ length: max }, (_, k) => (k % 2 ? SHADOW : LIGHT)),
  };
  const before = classifier.batchSize;
  try {
    return await probeBatchSize(
      async (n) => {
        classifier.setBatchSize(n);
        return classifier.predictPerturbed(rows, n);
      },
      { exhaustive: classifier.device !== 'cpu', ...options, max },
    );
  } finally {
    classifier.setBatchSize(before);
    classifier.clearSample();
  }
}
