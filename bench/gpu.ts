/**
 * npm run bench:gpu [-- options] — GLAS with the perturbations made in JS (host) or inside the
 * ONNX graph (device), on the CPU provider and on GPU providers, side by side.
 *
 * Cases (each explained end to end, twice: a cold run, then the warm run the table shows):
 * - 3d: the paper's CNN (random weights) on Colin27 resampled to MNI 2 mm (91×109×91), the 116
 *   AAL search points, fusion, σ 10 mm: 233 forward passes per subject;
 * - 2d: MobileNetV2 int8 on 224×224 photos, 15×15 grid points, σ in cells (5, 3, 6), fusion:
 *   451 passes per image (skipped when the model file is missing);
 * - 2d-float: the same with MobileNetV2's float twin (dequantizeModel: int8 weights dequantized,
 *   float activations, saturation kept), which GPU providers can run whole.
 * Per case, device and path: seconds per subject/image, forwards/s, and the split into model
 * (session.run), perturbation (JS: host time outside the model; graph: the perturbation graph
 * alone on the device, an estimate inside the model time), transfer (a Flatten+ReduceSum model
 * fed the same bytes: an upper bound on the host→device copy), fusion (eq. 3: on the host, or on
 * the device for GPU in-graph rows) and
 * the rest. Every row is compared with the CPU provider's JS path (largest relative difference of
 * the light and shadow probabilities). A device that fails records what it said; the table goes on.
 *
 * Options: --devices cpu,webgpu,cuda  --cases 3d,2d,2d-float  --images N (photos per 2-D run, default 2)
 *   --batch N (default: probed, largest useful power of two ≤ --max-batch; default 64 for the JS
 *   path, and for the graph path the library's probe: up to 64 on the CPU, and on a GPU every
 *   power up to 512)
 *   --threads N  --data DIR (MobileNet and photos; default ../shared/data/imagenet)
 *   --out FILE.json (rewritten after every row)  --budget-s S (start no row after S s; 420)
 *   --row-s S (a row whose cold run takes longer skips its warm run, and a row is abandoned
 *   after twice that; 45)
 *   --no-placements (skip logging which provider each node runs on, for GPU devices;
 *   --placements logs them for the CPU too)
 *   --write-tensors DIR: only write the photos' preprocessed tensors (needs sharp), for packing.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { packageRoot } from '../src/atlas/index.js';
import { runGlasInGraph } from '../src/glas3d/in-graph.js';
import {
  fuseMap,
  gridSearchPoints,
  runGlas,
  type FusionInput,
  type GlasInput,
  type GlasOptions,
  type GlasResult,
} from '../src/glas3d/index.js';
import {
  buildPaperCnn3d,
  buildPerturbationGraph,
  dequantizeModel,
  gridAxesOf,
  sessionOptions as sharedSessionOptions,
  GraphBuilder,
  loadInGraphClassifier,
  loadOnnxClassifier,
  prepareCombinedModel,
  probeClassifierBatchSize,
  rewriteForWebGpu,
  toModelTensor,
  withBatchSize,
  type BatchProbeResult,
  type Device,
  type GridAxes,
} from '../src/model/index.js';
import { colin27Subject, imagenetTensor } from './inputs.js';

// ---------------------------------------------------------------------------------------------
// Options

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const root = packageRoot();
const devices = (option('devices') ?? 'cpu,webgpu,cuda').split(',') as Device[];
const cases = (option('cases') ?? '3d,2d,2d-float').split(',');
const imageCount = Number(option('images') ?? 2);
const fixedBatch = option('batch') === undefined ? undefined : Number(option('batch'));
const maxBatchOption = option('max-batch');
const maxBatch = Number(maxBatchOption ?? 64);
const threads = Number(option('threads') ?? availableParallelism());
const dataDir = resolve(option('data') ?? join(root, '../shared/data/imagenet'));
const outPath = option('out');
const budgetS = Number(option('budget-s') ?? 420);
const rowLimitS = Number(option('row-s') ?? 45);
const started = performance.now();
const elapsedS = () => (performance.now() - started) / 1000;
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).trim();

// ---------------------------------------------------------------------------------------------
// Photos, preprocessed (bench/inputs.ts) or read from the tensors packed beside them.

const TENSOR_SUFFIX = '.nchw224.f32';

/** A preprocessed tensor beside the photo when there is one (no sharp needed), else sharp. */
async function photoTensor(path: string): Promise<Float32Array> {
  const cached = path + TENSOR_SUFFIX;
  if (existsSync(cached)) {
    const bytes = readFileSync(cached);
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  }
  return imagenetTensor(path);
}

const photosIn = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /\.(jpe?g|png)$/i.test(f))
        .sort((a, b) => (a.startsWith('finch') ? -1 : b.startsWith('finch') ? 1 : a < b ? -1 : 1))
        .map((f) => join(dir, f))
    : [];

// ---------------------------------------------------------------------------------------------
// Cases

interface Case {
  id: string;
  label: string;
  model: Uint8Array | string;
  modelName: string;
  sampleShape: number[];
  axes: GridAxes;
  /** One GLAS input per subject or image. */
  inputs: GlasInput[];
  options: GlasOptions;
}

async function case3d(): Promise<Case | string> {
  const subject = await colin27Subject();
  if (typeof subject === 'string') return subject;
  const { grid, points } = subject;
  const sampleShape = [1, ...grid.dims];
  const axes = gridAxesOf('NCDHW', 'xyz', sampleShape);
  return {
    id: '3d',
    label: `3-D paper CNN ${grid.dims.join('×')}, ${points.length} AAL points, 1 subject`,
    model: buildPaperCnn3d({ inputShape: sampleShape, seed: 1 }),
    modelName: 'paper CNN (random weights)',
    sampleShape,
    axes,
    inputs: [subject.input(axes)],
    options: subject.options,
  };
}

async function case2d(twin = false): Promise<Case | string> {
  const modelPath = join(dataDir, 'mobilenetv2-12-int8.onnx');
  if (!existsSync(modelPath)) return `2-D case skipped: ${modelPath} is missing.`;
  const photos = photosIn(dataDir).slice(0, imageCount);
  if (photos.length === 0) return `2-D case skipped: no photo in ${dataDir}.`;
  const sampleShape = [3, 224, 224];
  const axes = gridAxesOf('NCHW', 'zyx', sampleShape);
  const cellSize = 224 / 15;
  const inputs: GlasInput[] = [];
  for (const photo of photos) {
    inputs.push({
      sample: toModelTensor(await photoTensor(photo), [224, 224], 3, axes),
      baseline: 0,
      gridAxes: axes.tensorAxis,
      spacing: [1 / cellSize, 1 / cellSize],
    });
  }
  const what = twin ? 'MobileNetV2 float twin of int8' : 'MobileNetV2 int8';
  return {
    id: twin ? '2d-float' : '2d',
    label: `2-D ${what} 224×224, 15×15 points, ${photos.length} image${photos.length > 1 ? 's' : ''} (${photos.map((p) => basename(p)).join(', ')})`,
    // GPU providers have no QLinear kernels: the twin (dequantizeModel) is what a GPU can run.
    model: twin ? dequantizeModel(new Uint8Array(readFileSync(modelPath))) : modelPath,
    modelName: what,
    sampleShape,
    axes,
    inputs,
    options: {
      points: gridSearchPoints([224, 224], 15),
      sigmas: [{ light: 5, shadow: 3, spatial: 6 }],
      mode: 'fusion',
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Device-side probes: what a batch's bytes cost to move, and what the perturbation graph costs.

/** The session options glas3d's classifiers use on `device` (bench threads). */
const sessionOptions = (device: Device) => sharedSessionOptions(device, threads);

async function fastestMs(run: () => Promise<unknown>, repeats = 3): Promise<number> {
  await run();
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    await run();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

/** Milliseconds to feed `rows` samples to a Flatten+ReduceSum model on the device. */
async function transferMs(device: Device, sampleShape: number[], rows: number): Promise<number> {
  const g = new GraphBuilder('transfer_probe');
  const x = g.input('x', ['N', ...sampleShape]);
  const flat = g.node('Flatten', [x], { axis: 1 });
  g.node('ReduceSum', [flat, g.int64s('axes', [1])], { keepdims: 0 }, ['y']);
  g.output('y', ['N']);
  const session = await ort.InferenceSession.create(g.toBytes(), sessionOptions(device));
  try {
    const size = sampleShape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(rows * size).fill(0.5);
    const feeds = { x: new ort.Tensor('float32', data, [rows, ...sampleShape]) };
    return await fastestMs(() => session.run(feeds));
  } finally {
    await session.release();
  }
}

/** Milliseconds for the perturbation graph alone to make and sum `rows` copies on the device. */
async function devicePerturbMs(device: Device, c: Case, rows: number): Promise<number> {
  const spec = { sampleShape: c.sampleShape, gridAxes: c.axes.tensorAxis };
  const session = await ort.InferenceSession.create(
    buildPerturbationGraph(spec, { output: 'sum' }),
    sessionOptions(device),
  );
  try {
    const input = c.inputs[0];
    const rank = spec.gridAxes.length;
    const centre = c.axes.gridDims.map((d) => (d - 1) / 2);
    const feeds = {
      sample: new ort.Tensor('float32', input.sample, [1, ...c.sampleShape]),
      baseline: new ort.Tensor('float32', Float32Array.of(0), [1, ...c.sampleShape.map(() => 1)]),
      centres: new ort.Tensor(
        'float32',
        Float32Array.from({ length: rows * rank }, (_, i) => centre[i % rank]),
        [rows, rank],
      ),
      sigma: new ort.Tensor('float32', new Float32Array(rows).fill(c.options.sigmas[0].light), [
        rows,
      ]),
      kind: new ort.Tensor(
        'float32',
        Float32Array.from({ length: rows }, (_, k) => k % 2),
        [rows],
      ),
      spacing: new ort.Tensor('float32', Float32Array.from(input.spacing), [rank]),
    };
    return await fastestMs(() => session.run(feeds));
  } finally {
    await session.release();
  }
}

// ---------------------------------------------------------------------------------------------
// Rows

type Path = 'js' | 'graph' | 'js ±1ulp';

interface Row {
  case: string;
  device: Device;
  path: Path;
  /** Set when the row could not run: what the device or model said. */
  error?: string;
  batch?: number;
  probe?: BatchProbeResult;
  deviceNote?: string;
  items?: number;
  /** Forward passes per subject/image. */
  passes?: number;
  /** Session start (+ combining, + probe) in s. */
  setupS?: number;
  /** Per subject/image, warm run. */
  totalS?: number;
  coldTotalS?: number;
  forwardsPerS?: number;
  modelS?: number;
  perturbS?: number;
  perturbWhere?: 'host (JS)' | 'device (est.)';
  transferS?: number;
  fusionS?: number;
  otherS?: number;
  /** Largest relative difference of light/shadow probabilities from the CPU provider's JS path. */
  maxRelDiff?: number;
  /** Largest relative difference from the JS path on the same device. */
  maxRelDiffSameDevice?: number;
  note?: string;
}

const rows: Row[] = [];
const notes: string[] = [];
const reference = new Map<string, GlasResult[]>();
const jsOnDevice = new Map<string, GlasResult[]>();

/** Light and shadow probabilities of a result, side by side. */
function responses(results: GlasResult[]): number[] {
  return results.flatMap((r) =>
    r.perSigma.flatMap((s) => [...s.light, ...Array.from(s.shadowDelta, (d) => d + r.pOriginal)]),
  );
}

function maxRel(a: GlasResult[], b: GlasResult[] | undefined): number | undefined {
  if (!b) return undefined;
  const x = responses(a);
  const y = responses(b);
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const r = Math.abs(x[i] - y[i]) / Math.max(Math.abs(y[i]), 1e-6);
    if (!(r <= worst)) worst = r;
  }
  return worst;
}

const fusionInputOf = (c: Case, result: GlasResult): FusionInput => ({
  gridDims: c.axes.gridDims,
  spacing: c.inputs[0].spacing,
  points: c.options.points,
  weights: result.perSigma[0].score,
  sigmaSpatial: c.options.sigmas[0].spatial,
});

/** Eq. 3 on the host with a result's weights: part of every total. */
function fusionMs(c: Case, result: GlasResult): number {
  const t = performance.now();
  fuseMap(fusionInputOf(c, result));
  return performance.now() - t;
}

/** Eq. 3 on the classifier's device (warm: the second of two calls). */
async function deviceFusionMs(
  fuse: (input: FusionInput) => Promise<Float32Array>,
  c: Case,
  result: GlasResult,
): Promise<number> {
  await fuse(fusionInputOf(c, result));
  const t = performance.now();
  await fuse(fusionInputOf(c, result));
  return performance.now() - t;
}

interface TimedRuns {
  /** Wall time of all items, cold and warm (ms). */
  cold: number;
  warm: number;
  /** Model time of the warm run's items (ms). */
  modelMs: number;
  results: GlasResult[];
  note?: string;
}

/** What a row reports of its timed runs, per subject/image (warm run). */
function runTimes(runs: TimedRuns, items: number) {
  const passes = runs.results[0].forwardPasses;
  const totalS = runs.warm / items / 1000;
  return {
    items,
    passes,
    totalS,
    coldTotalS: runs.cold / items / 1000,
    forwardsPerS: passes / totalS,
    modelS: runs.modelMs / items / 1000,
  };
}

/**
 * A cold run (first shapes compile and allocate), then the warm run that the table shows; when
 * the cold run took longer than --row-s (default 45 s), its numbers stand for both. A row is
 * abandoned after 2 × --row-s (checked after every model call), so one slow device cannot eat
 * the time of the rows after it.
 */
async function timedRuns(
  c: Case,
  run: (input: GlasInput, options: GlasOptions) => Promise<GlasResult>,
): Promise<TimedRuns> {
  const deadline = performance.now() + 2 * rowLimitS * 1000;
  const options: GlasOptions = {
    ...c.options,
    onProgress: (done, total) => {
      if (performance.now() > deadline)
        throw new Error(
          `abandoned after ${2 * rowLimitS} s (2 × --row-s) with ${done} of ${total} passes of one item done`,
        );
    },
  };
  const pass = async () => {
    const results: GlasResult[] = [];
    let modelMs = 0;
    const t = performance.now();
    for (const input of c.inputs) {
      const r = await run(input, options);
      modelMs += r.timing.modelMs;
      results.push(r);
    }
    return { ms: performance.now() - t, modelMs, results };
  };
  const cold = await pass();
  if (cold.ms > rowLimitS * 1000)
    return {
      cold: cold.ms,
      warm: cold.ms,
      modelMs: cold.modelMs,
      results: cold.results,
      note: `cold run only (${(cold.ms / 1000).toFixed(0)} s > --row-s ${rowLimitS})`,
    };
  const warm = await pass();
  return { cold: cold.ms, warm: warm.ms, modelMs: warm.modelMs, results: warm.results };
}

async function jsRow(c: Case, device: Device): Promise<Row> {
  const t = performance.now();
  const plain = await loadOnnxClassifier(c.model, {
    device,
    batchSize: fixedBatch ?? maxBatch,
    intraOpNumThreads: threads,
    modelName: c.modelName,
  });
  try {
    let probe: BatchProbeResult | undefined;
    if (fixedBatch === undefined)
      probe = await probeClassifierBatchSize(plain, c.inputs[0].sample, { max: maxBatch });
    const batch = fixedBatch ?? probe!.batchSize;
    const setupS = (performance.now() - t) / 1000;
    const classifier = withBatchSize(plain, batch);
    const runs = await timedRuns(c, (input, options) => runGlas(classifier, input, options));
    const times = runTimes(runs, c.inputs.length);
    const perSampleTransfer =
      device === 'cpu' ? 0 : (await transferMs(device, c.sampleShape, batch)) / batch;
    const fusionS = fusionMs(c, runs.results[0]) / 1000;
    if (device === 'cpu') reference.set(c.id, runs.results);
    jsOnDevice.set(`${c.id}/${device}`, runs.results);
    return {
      case: c.id,
      device,
      path: 'js',
      batch,
      probe,
      setupS,
      ...times,
      perturbS: times.totalS - times.modelS - fusionS,
      perturbWhere: 'host (JS)',
      transferS: (perSampleTransfer * times.passes) / 1000,
      fusionS,
      otherS: 0,
      maxRelDiff: maxRel(runs.results, reference.get(c.id)),
      note: runs.note,
    };
  } finally {
    await plain.dispose();
  }
}

/**
 * The model's own sensitivity to float32 rounding: the JS path on the CPU with every other
 * sample value moved by one ulp (about what the graph's float32 arithmetic changes). Its Δrel is
 * the floor below which a graph-vs-JS difference says nothing (large for int8 models, whose
 * input quantization turns a one-ulp change into a whole quantization step now and then).
 */
async function ulpRow(c: Case): Promise<Row> {
  const plain = await loadOnnxClassifier(c.model, {
    batchSize: fixedBatch ?? 16,
    intraOpNumThreads: threads,
    modelName: c.modelName,
  });
  try {
    const results: GlasResult[] = [];
    const t = performance.now();
    for (const input of c.inputs) {
      const sample = Float32Array.from(input.sample);
      const bits = new Int32Array(sample.buffer);
      for (let i = 0; i < sample.length; i += 2) if (sample[i] !== 0) bits[i] += 1;
      results.push(await runGlas(plain, { ...input, sample }, c.options));
    }
    const totalMs = (performance.now() - t) / c.inputs.length;
    const passes = results[0].forwardPasses;
    return {
      case: c.id,
      device: 'cpu',
      path: 'js ±1ulp',
      batch: plain.batchSize,
      items: c.inputs.length,
      passes,
      totalS: totalMs / 1000,
      forwardsPerS: passes / (totalMs / 1000),
      maxRelDiff: maxRel(results, reference.get(c.id)),
    };
  } finally {
    await plain.dispose();
  }
}

async function graphRow(c: Case, device: Device): Promise<Row> {
  const t = performance.now();
  const classifier = await loadInGraphClassifier(c.model, {
    device,
    batchSize: fixedBatch,
    // The library's cap (64 on the CPU, 512 on a GPU) unless --max-batch is given.
    probe: maxBatchOption === undefined ? {} : { max: maxBatch },
    intraOpNumThreads: threads,
    modelName: c.modelName,
  });
  try {
    const setupS = (performance.now() - t) / 1000;
    const batch = classifier.batchSize;
    const runs = await timedRuns(c, (input, options) => runGlasInGraph(classifier, input, options));
    const times = runTimes(runs, c.inputs.length);
    const calls = 1 + Math.ceil((times.passes - 1) / batch);
    const perturbPerCall = await devicePerturbMs(device, c, batch);
    const transferPerCall = device === 'cpu' ? 0 : await transferMs(device, c.sampleShape, 1);
    // Eq. 3 runs where the classifier puts it: on the device for GPU providers, unless the map is
    // small (DEVICE_FUSION_MIN_TERMS).
    const fusionS =
      (classifier.fuseMap
        ? await deviceFusionMs(classifier.fuseMap, c, runs.results[0])
        : fusionMs(c, runs.results[0])) / 1000;
    return {
      case: c.id,
      device,
      path: 'graph',
      batch,
      probe: classifier.probe,
      deviceNote: classifier.deviceNote,
      setupS,
      ...times,
      perturbS: (perturbPerCall * calls) / 1000,
      perturbWhere: 'device (est.)',
      transferS: (transferPerCall * calls) / 1000,
      fusionS,
      otherS: times.totalS - times.modelS - fusionS,
      maxRelDiff: maxRel(runs.results, reference.get(c.id)),
      maxRelDiffSameDevice: maxRel(runs.results, jsOnDevice.get(`${c.id}/${device}`)),
      note: runs.note,
    };
  } finally {
    await classifier.dispose();
  }
}

/**
 * Which execution provider each node lands on, for a GPU device: the plain and the combined
 * model's sessions are started once with onnxruntime's verbose log, which writes its "Node
 * placements" to stderr after a marker line (tools/gpu/run.sh collects them in placements.txt).
 */
async function logPlacements(c: Case, device: Device): Promise<void> {
  const verbose = { ...sessionOptions(device), logSeverityLevel: 0 as const, logVerbosityLevel: 0 };
  const combined = await prepareCombinedModel(c.model, {
    sampleShape: c.sampleShape,
    gridAxes: c.axes.tensorAxis,
    modelName: c.modelName,
  });
  const models: [string, Uint8Array | string][] = [
    ['plain', c.model],
    ['graph', combined.bytes],
  ];
  for (const [which, model] of models) {
    process.stderr.write(`placement log: ${c.id} ${device} ${which}\n`);
    // What the classifiers run: on WebGPU, the graph after rewriteForWebGpu.
    const bytes = typeof model === 'string' ? new Uint8Array(readFileSync(model)) : model;
    const session = await ort.InferenceSession.create(
      device === 'webgpu' ? rewriteForWebGpu(bytes) : bytes,
      verbose,
    );
    await session.release();
  }
}

// ---------------------------------------------------------------------------------------------
// Output

const s3 = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(3));
const sci = (v: number | undefined) => (v === undefined ? '—' : v.toExponential(1));

function tableLines(): string[] {
  const head = [
    'case',
    'device',
    'path',
    'batch',
    'passes',
    's/item',
    'fwd/s',
    'model s',
    'perturb s',
    'transfer≈ s',
    'fusion s',
    'other s',
    'setup s',
    'cold s',
    'Δrel vs cpu-js',
    'note',
  ];
  // A failed row leaves every column between its path and its note empty.
  const blank = Array<string>(head.length - 4).fill('');
  const cells = rows.map((r) =>
    r.error !== undefined
      ? [r.case, r.device, r.path, ...blank, `FAILED: ${r.error}`]
      : [
          r.case,
          r.device,
          r.path,
          String(r.batch),
          String(r.passes),
          s3(r.totalS),
          r.forwardsPerS!.toFixed(1),
          s3(r.modelS),
          r.perturbS === undefined
            ? '—'
            : `${s3(r.perturbS)} ${r.perturbWhere === 'host (JS)' ? 'host' : 'dev'}`,
          s3(r.transferS),
          s3(r.fusionS),
          s3(r.otherS),
          s3(r.setupS),
          s3(r.coldTotalS),
          sci(r.maxRelDiff),
          [
            r.note ?? '',
            r.deviceNote && r.deviceNote !== `device ${r.device}` ? r.deviceNote : '',
            r.probe
              ? `probe ${r.probe.trials.map((t) => (t.msPerSample === undefined ? `${t.batchSize}:fail` : `${t.batchSize}:${t.msPerSample.toFixed(2)}`)).join(' ')} ms/sample`
              : '',
          ]
            .filter(Boolean)
            .join('; '),
        ],
  );
  const all = [head, ...cells];
  const widths = head.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return all.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd(),
  );
}

function meta() {
  return {
    bench: 'bench:gpu',
    date: new Date().toISOString(),
    host: hostname(),
    node: process.version,
    onnxruntime: ort.env.versions?.common ?? 'unknown',
    backends: ort.listSupportedBackends(),
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model,
    threads,
    args: process.argv.slice(2),
    elapsedS: elapsedS(),
  };
}

function save(): void {
  if (!outPath) return;
  mkdirSync(dirname(resolve(outPath)), { recursive: true });
  writeFileSync(outPath, JSON.stringify({ meta: meta(), notes, rows }, null, 2) + '\n');
}

function record(row: Row): void {
  rows.push(row);
  const r = row;
  console.log(
    r.error !== undefined
      ? `  ${r.case} ${r.device} ${r.path}: FAILED: ${r.error}`
      : `  ${r.case} ${r.device} ${r.path}: batch ${r.batch}, ${s3(r.totalS)} s/item, ${r.forwardsPerS!.toFixed(1)} fwd/s, model ${s3(r.modelS)} s, perturb ${s3(r.perturbS)} s ${r.perturbWhere ?? ''}, Δrel ${sci(r.maxRelDiff)} (${elapsedS().toFixed(0)} s elapsed)`,
  );
  save();
}

// ---------------------------------------------------------------------------------------------

if (option('write-tensors') !== undefined) {
  const dir = resolve(option('write-tensors')!);
  mkdirSync(dir, { recursive: true });
  for (const photo of photosIn(dataDir).slice(0, imageCount)) {
    const out = join(dir, basename(photo) + TENSOR_SUFFIX);
    const t = await imagenetTensor(photo);
    writeFileSync(out, new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
    console.log(`wrote ${out}`);
  }
  process.exit(0);
}

console.log(
  `bench:gpu — node ${process.version}, onnxruntime-node ${meta().onnxruntime}, ` +
    `${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), threads ${threads}, ` +
    `devices ${devices.join(',')}, batch ${fixedBatch ?? `probed ≤ ${maxBatch}`}`,
);
save();
const makers: [string, () => Promise<Case | string>][] = [
  ['3d', case3d],
  ['2d', () => case2d()],
  ['2d-float', () => case2d(true)],
];
for (const [id, make] of makers) {
  if (!cases.includes(id)) continue;
  const c = await make();
  if (typeof c === 'string') {
    console.log(c);
    notes.push(c);
    continue;
  }
  console.log(`${c.label}:`);
  notes.push(`${c.id}: ${c.label}`);
  for (const device of devices) {
    for (const path of ['js', 'graph'] as const) {
      if (elapsedS() > budgetS) {
        record({ case: c.id, device, path, error: `skipped: time budget of ${budgetS} s spent` });
        continue;
      }
      try {
        record(await (path === 'js' ? jsRow(c, device) : graphRow(c, device)));
      } catch (e) {
        record({ case: c.id, device, path, error: errorText(e) });
      }
    }
    const ran = rows.some((r) => r.case === c.id && r.device === device && !r.error);
    const placements = device !== 'cpu' || process.argv.includes('--placements');
    if (placements && ran && !process.argv.includes('--no-placements')) {
      await logPlacements(c, device).catch((e: unknown) =>
        notes.push(`${c.id} ${device}: placement log failed: ${errorText(e)}`),
      );
    }
    if (device === 'cpu' && reference.has(c.id) && elapsedS() <= budgetS) {
      try {
        record(await ulpRow(c));
      } catch (e) {
        record({ case: c.id, device, path: 'js ±1ulp', error: errorText(e) });
      }
    }
  }
}

console.log();
for (const line of tableLines()) console.log(line);
console.log(
  '\ns/item: one subject (3d) or image (2d), warm run; model s: inside session.run (graph: includes ' +
    'the device perturbation); perturb s: host = JS copies outside the model, dev = the perturbation ' +
    'graph alone on the device (estimate); transfer≈: a Flatten+ReduceSum model fed the same bytes ' +
    '(upper bound; 0 on cpu); Δrel: largest relative difference of light/shadow probabilities from ' +
    "the CPU provider's JS path; the 'js ±1ulp' row is the model's own sensitivity to one-ulp " +
    'input changes (the floor for any float32 path).',
);
console.log(`total ${elapsedS().toFixed(1)} s${outPath ? `; JSON in ${outPath}` : ''}`);
save();
