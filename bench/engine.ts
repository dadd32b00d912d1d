/**
 * npm run bench:engine [-- --threads N] [--repeats R] — how close GLAS gets to the cost of its
 * forward passes. N: onnxruntime intra-op threads (default: all CPUs); R: runs of each row,
 * interleaved, the fastest reported (default 2), against noise from other work on the machine.
 *
 * Two real cases, one run each, all ratios from this run:
 * - 3-D: the paper's CNN (random weights) on Colin27 resampled to MNI 2 mm (91×109×91),
 *   116 AAL search points, fusion, σ 10 mm, batch 16;
 * - 2-D: MobileNetV2 int8 on a 224×224 photo, 15×15 grid points, σ in cells (5, 3, 6), batch 16.
 * Rows per case:
 * - glas: runGlas with the real model — model time is the sum of predict() wall time;
 * - pure model: the same number of forward passes, in the same batch sizes, on unperturbed
 *   copies (the floor any engine pays);
 * - engine only: runGlas with a model that answers at once (fills, fusion and bookkeeping alone),
 *   with its CPU time (process.cpuUsage), which other processes disturb less than wall time;
 * - engine only, 4× points: the same with every point four times, to show memory does not grow.
 * RSS is sampled after every model call (process.memoryUsage().rss).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Classifier, GlasInput, GlasOptions } from '../src/glas3d/index.js';
import { BatchWorkspace } from '../src/glas3d/batch-workspace.js';
import { fuseMap, gridSearchPoints, resolveGridLayout, runGlas } from '../src/glas3d/index.js';
import {
  buildPaperCnn3d,
  loadOnnxClassifier,
  toModelTensor,
  type OnnxClassifier,
} from '../src/model/index.js';
import { colin27Subject, imagenetTensor } from './inputs.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const shared = join(root, '../shared/data');
const batchSize = 16;
function numberArg(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  const value = at > 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a whole number ≥ 1`);
  return value;
}
const threads = numberArg('--threads', availableParallelism());
const repeats = numberArg('--repeats', 2);

interface Case {
  label: string;
  classifier: OnnxClassifier;
  input: GlasInput;
  options: GlasOptions;
}

interface Row {
  caseLabel: string;
  row: string;
  passes: number;
  modelMs: number;
  totalMs: number;
  floorMs?: number;
  rssStartMb: number;
  rssPeakMb: number;
  note?: string;
}

const mb = (bytes: number) => bytes / 2 ** 20;

/** Tracks the largest RSS seen at the sampling points. */
class RssProbe {
  readonly startMb = mb(process.memoryUsage.rss());
  peakMb = this.startMb;
  sample(): void {
    const now = mb(process.memoryUsage.rss());
    if (now > this.peakMb) this.peakMb = now;
  }
}

async function case3d(): Promise<Case | string> {
  const subject = await colin27Subject();
  if (typeof subject === 'string') return subject;
  const { grid, points } = subject;
  const classifier = await loadOnnxClassifier(
    buildPaperCnn3d({ inputShape: [1, ...grid.dims], seed: 1 }),
    { batchSize, intraOpNumThreads: threads, modelName: 'paper CNN (random weights)' },
  );
  return {
    label: `3-D paper CNN ${grid.dims.join('×')}, ${points.length} AAL points`,
    classifier,
    input: subject.input(classifier.gridAxes!),
    options: subject.options,
  };
}

async function case2d(): Promise<Case | string> {
  const modelPath = join(shared, 'imagenet/mobilenetv2-12-int8.onnx');
  const photo = join(shared, 'imagenet/finch.jpeg');
  for (const path of [modelPath, photo]) {
    if (!existsSync(path)) return `2-D case skipped: ${path} is missing.`;
  }
  const planar = await imagenetTensor(photo);
  const classifier = await loadOnnxClassifier(modelPath, {
    batchSize,
    intraOpNumThreads: threads,
  });
  const axes = classifier.gridAxes!;
  const cellSize = 224 / 15;
  return {
    label: `2-D MobileNetV2 int8 224×224 (finch), 15×15 points`,
    classifier,
    input: {
      sample: toModelTensor(planar, [224, 224], 3, axes),
      baseline: 0,
      gridAxes: axes.tensorAxis,
      spacing: [1 / cellSize, 1 / cellSize],
    },
    options: {
      points: gridSearchPoints([224, 224], 15),
      sigmas: [{ light: 5, shadow: 3, spatial: 6 }],
      mode: 'fusion',
    },
  };
}

/** A model that answers at once with uniform probabilities: what the engine costs alone. */
function instantModel(like: Classifier): Classifier {
  const { inputShape, classes } = like;
  return {
    inputShape,
    classes,
    batchSize: like.batchSize,
    predict: async (_batch, n) => new Float32Array(n * classes).fill(1 / classes),
  };
}

/** One runGlas; also returns the per-point weights of its first sigma set. */
async function glasRow(
  c: Case,
  classifier: Classifier,
  row: string,
  points = c.options.points,
): Promise<{ row: Row; score: Float64Array }> {
  const probe = new RssProbe();
  const cpu = process.cpuUsage();
  const result = await runGlas(classifier, c.input, {
    ...c.options,
    points,
    onProgress: () => probe.sample(),
  });
  const { user, system } = process.cpuUsage(cpu);
  return {
    row: {
      caseLabel: c.label,
      row,
      passes: result.forwardPasses,
      modelMs: result.timing.modelMs,
      totalMs: result.timing.totalMs,
      rssStartMb: probe.startMb,
      rssPeakMb: probe.peakMb,
      note: `CPU ${((user + system) / 1e6).toFixed(3)} s`,
    },
    score: result.perSigma[0].score,
  };
}

/** The fastest of `repeats` runs of each row, the rows' runs interleaved. */
async function fastest<T extends { row: Row }>(runs: (() => Promise<T>)[]): Promise<T[]> {
  const best: (T | undefined)[] = runs.map(() => undefined);
  for (let r = 0; r < repeats; r++) {
    for (let i = 0; i < runs.length; i++) {
      const got = await runs[i]();
      const b = best[i];
      if (b === undefined || got.row.totalMs < b.row.totalMs) best[i] = got;
    }
  }
  return best as T[];
}

/** The same passes in the same batch sizes (1, then full batches, then the rest), unperturbed. */
async function pureModelRow(c: Case, passes: number): Promise<{ row: Row }> {
  const probe = new RssProbe();
  const size = c.input.sample.length;
  const buffer = new Float32Array(batchSize * size);
  for (let k = 0; k < batchSize; k++) buffer.set(c.input.sample, k * size);
  const start = performance.now();
  let modelMs = 0;
  const sizes = [1];
  for (let left = passes - 1; left > 0; left -= batchSize) sizes.push(Math.min(batchSize, left));
  for (const n of sizes) {
    const t = performance.now();
    await c.classifier.predict(buffer.subarray(0, n * size), n);
    modelMs += performance.now() - t;
    probe.sample();
  }
  return {
    row: {
      caseLabel: c.label,
      row: 'pure model',
      passes,
      modelMs,
      totalMs: performance.now() - start,
      rssStartMb: probe.startMb,
      rssPeakMb: probe.peakMb,
    },
  };
}

async function runCase(c: Case): Promise<Row[]> {
  const size = c.input.sample.length;
  const warm = new Float32Array(batchSize * size);
  for (let k = 0; k < batchSize; k++) warm.set(c.input.sample, k * size);
  await c.classifier.predict(warm, batchSize); // warm-up, not counted

  const passes = 1 + c.options.points.length * 2;
  const instant = instantModel(c.classifier);
  const points4 = [0, 1, 2, 3].flatMap(() => c.options.points);
  const [glas, pure, engine, engine4] = await fastest<{ row: Row; score?: Float64Array }>([
    () => glasRow(c, c.classifier, 'glas'),
    () => pureModelRow(c, passes),
    () => glasRow(c, instant, 'engine only'),
    () => glasRow(c, instant, 'engine only, 4× points', points4),
  ]);

  // Eq. 3 alone, with the weights of the real run: part of every total above.
  const layout = resolveGridLayout(c.classifier.inputShape, c.input.gridAxes, c.input.spacing);
  const sigma = c.options.sigmas[0];
  const fusionRuns: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    fuseMap({
      gridDims: layout.gridDims,
      spacing: layout.spacing,
      points: c.options.points,
      weights: glas.score!,
      sigmaSpatial: sigma.spatial,
    });
    fusionRuns.push(performance.now() - t);
  }
  const fusionMs = Math.min(...fusionRuns);

  // What a run pays when its classifier has no released batch buffer yet: paging in fresh memory.
  const t2 = performance.now();
  new Float32Array(batchSize * size).fill(1);
  const pageInMs = performance.now() - t2;

  return [
    {
      ...glas.row,
      floorMs: pure.row.modelMs,
      note: `a first run also pages in its batch buffer: ${pageInMs.toFixed(0)} ms`,
    },
    pure.row,
    {
      ...engine.row,
      note: `${engine.row.note}; eq. 3 map alone ${fusionMs.toFixed(0)} ms (fastest of 3)`,
    },
    engine4.row,
  ];
}

function table(rows: Row[]): string[] {
  const head = [
    'case',
    'row',
    'passes',
    'model s',
    'total s',
    'total/model',
    'total/pure floor',
    'model ms/pass',
    'RSS start MB',
    'RSS peak MB',
    'note',
  ];
  const cells = rows.map((r) => [
    r.caseLabel,
    r.row,
    String(r.passes),
    (r.modelMs / 1000).toFixed(3),
    (r.totalMs / 1000).toFixed(3),
    r.modelMs > 0.05 * r.totalMs ? (r.totalMs / r.modelMs).toFixed(3) : '—',
    r.floorMs ? (r.totalMs / r.floorMs).toFixed(3) : '—',
    r.modelMs > 0.05 * r.totalMs ? (r.modelMs / r.passes).toFixed(2) : '—',
    r.rssStartMb.toFixed(0),
    r.rssPeakMb.toFixed(0),
    r.note ?? '',
  ]);
  const all = [head, ...cells];
  const widths = head.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  return all.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd(),
  );
}

const copies = new BatchWorkspace(1, [4]).usesKernel
  ? 'WebAssembly SIMD kernel'
  : 'perturbInto in JS (no WebAssembly SIMD here)';
console.log(
  `bench:engine — node ${process.version}, ${availableParallelism()} CPUs, ` +
    `onnxruntime intraOpNumThreads ${threads}, batch ${batchSize}, fastest of ${repeats} runs per row; ` +
    `perturbed copies: ${copies}`,
);
const rows: Row[] = [];
for (const make of [case3d, case2d]) {
  const c = await make();
  if (typeof c === 'string') {
    console.log(c);
    continue;
  }
  console.log(`running ${c.label} …`);
  rows.push(...(await runCase(c)));
  await c.classifier.dispose();
}
console.log();
for (const line of table(rows)) console.log(line);
const { maxRSS } = process.resourceUsage();
console.log(
  `\nprocess peak RSS (resourceUsage().maxRSS, whole run): ${(maxRSS / 1024).toFixed(0)} MB`,
);
console.log(
  'total s = one subject (3-D) or one image (2-D); target: glas total ≤ 1.05 × model time',
);
for (const r of rows.filter((row) => row.row === 'glas')) {
  const ratio = r.totalMs / r.modelMs;
  console.log(`  ${r.caseLabel}: ${ratio.toFixed(3)} — ${ratio <= 1.05 ? 'met' : 'NOT met'}`);
}
