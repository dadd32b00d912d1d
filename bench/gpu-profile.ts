/**
 * npm run bench:gpu-profile [-- --device webgpu --out DIR --budget-s S] — where a GPU provider
 * spends its time, kernel by kernel, for the models bench:gpu times end to end. onnxruntime's
 * profiler records one 'Api' event per GPU program with the GPU's own timestamps (WebGPU
 * timestamp queries), so the table separates kernel time from everything else in a run (launch,
 * upload, readback, CPU-placed nodes).
 *
 * Models, each at a few batch sizes, one warm-up run and `--runs` timed runs (default 5):
 * - ep: the 3-D in-graph model and MobileNetV2's float twin under WebGPU provider settings side
 *   by side (buffer cache modes, validation, graph capture; see EP_VARIANTS);
 * - 3d: the paper's CNN (random weights) at 91×109×91, plain (input = perturbed batch) and
 *   with GLAS's perturbation graph joined in front (input = one volume + centres);
 * - conv: one 3×3×3 layer alone (the first: 1 → 10 channels on 91×109×91; the second: 10 → 10 on
 *   45×54×45) written three ways — Conv, im2col (27 shifted slices) + 1×1×1 Conv, im2col + MatMul —
 *   each ending in a ReduceSum so that no big output is copied back;
 * - 2d: MobileNetV2 int8 as given, and its float twin (dequantizeModel), at 224².
 * Per model and batch: wall ms per run, GPU kernel ms per run (sum of program times), and the
 * top programs. Writes DIR/profile.json and prints a table. Options: --cases 3d,conv,2d
 * --data DIR (MobileNet; default ../shared/data/imagenet).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  buildPaperCnn3d,
  combineWithPerturbation,
  dequantizeModel,
  type CombinedModel,
  GraphBuilder,
} from '../src/model/index.js';

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : undefined;
}
const device = option('device') ?? 'webgpu';
const outDir = resolve(option('out') ?? 'test-output/gpu-profile');
const dataDir = resolve(option('data') ?? '../shared/data/imagenet');
const runs = Number(option('runs') ?? 5);
const cases = (option('cases') ?? 'ep,3d,2d').split(',');
const budgetS = Number(option('budget-s') ?? 240);
const started = performance.now();
const elapsedS = () => (performance.now() - started) / 1000;
mkdirSync(outDir, { recursive: true });
const profileDir = join(tmpdir(), `glas3d-ort-profiles-${process.pid}`);
mkdirSync(profileDir, { recursive: true });

interface Result {
  model: string;
  batch: number;
  wallMs?: number;
  gpuMs?: number;
  programs?: { name: string; ms: number }[];
  error?: string;
}
const results: Result[] = [];

const seeded = (n: number, seed = 1) =>
  Float32Array.from({ length: n }, (_, i) => Math.abs(Math.sin((i + seed) * 12.9898)) % 1);

/** Runs `feeds` (warm-up + `runs`) with onnxruntime's profiler; sums GPU program times per run. */
async function profile(
  model: string,
  bytes: Uint8Array,
  batch: number,
  feeds: Record<string, ort.Tensor>,
  variant: Partial<ort.InferenceSession.SessionOptions> = {},
): Promise<void> {
  if (elapsedS() > budgetS) {
    results.push({ model, batch, error: 'skipped: time budget' });
    return;
  }
  const prefix = join(profileDir, `${model.replace(/\W+/g, '_')}_b${batch}`);
  let session: ort.InferenceSession | undefined;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: [device],
      ...variant,
      enableProfiling: true,
      profileFilePrefix: prefix,
      logSeverityLevel: 3,
    } as ort.InferenceSession.SessionOptions);
    await session.run(feeds);
    const t = performance.now();
    for (let r = 0; r < runs; r++) await session.run(feeds);
    const wallMs = (performance.now() - t) / runs;
    session.endProfiling();
    await session.release();
    session = undefined;
    const file = readdirSync(profileDir)
      .filter((f) => join(profileDir, f).startsWith(prefix))
      .sort()
      .pop();
    const events = file
      ? (JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as {
          cat?: string;
          name?: string;
          dur?: number;
        }[])
      : [];
    // 'Api' events are GPU programs (node&op&program); the first run's are the warm-up's.
    const api = events.filter((e) => e.cat === 'Api');
    const perRun = api.length / (runs + 1);
    const timed = api.slice(Math.round(perRun));
    const byProgram = new Map<string, number>();
    for (const e of timed) {
      const program = (e.name ?? '?').split('&').slice(1).join('&');
      byProgram.set(program, (byProgram.get(program) ?? 0) + (e.dur ?? 0) / 1000 / runs);
    }
    const programs = [...byProgram.entries()]
      .map(([name, ms]) => ({ name, ms }))
      .sort((a, b) => b.ms - a.ms);
    const gpuMs = programs.reduce((s, p) => s + p.ms, 0);
    results.push({ model, batch, wallMs, gpuMs, programs });
  } catch (e) {
    results.push({
      model,
      batch,
      error: (e instanceof Error ? e.message : String(e)).slice(0, 300),
    });
    await session?.release().catch(() => undefined);
  }
  const last = results[results.length - 1];
  console.log(
    `${model} b${batch}: ${last.error ?? `wall ${last.wallMs!.toFixed(2)} ms, GPU ${last.gpuMs!.toFixed(2)} ms`}` +
      ` (${elapsedS().toFixed(0)} s)`,
  );
  save();
}

function save(): void {
  writeFileSync(join(outDir, 'profile.json'), JSON.stringify({ device, runs, results }, null, 1));
}

const dims3d = [91, 109, 91];
const voxels = dims3d[0] * dims3d[1] * dims3d[2];

/** The in-graph 3-D model's feeds for `batch` rows (alternating light and shadow). */
function inGraphFeeds(combined: CombinedModel, batch: number): Record<string, ort.Tensor> {
  const names = combined.inputs;
  const centres = Float32Array.from({ length: batch * 3 }, (_, i) => 20 + ((i * 7) % 50));
  return {
    [names.sample]: new ort.Tensor('float32', seeded(voxels), [1, 1, ...dims3d]),
    [names.baseline]: new ort.Tensor('float32', new Float32Array(1), [1, 1, 1, 1, 1]),
    [names.centres]: new ort.Tensor('float32', centres, [batch, 3]),
    [names.sigma]: new ort.Tensor('float32', new Float32Array(batch).fill(5), [batch]),
    [names.kind]: new ort.Tensor(
      'float32',
      Float32Array.from({ length: batch }, (_, i) => i % 2),
      [batch],
    ),
    [names.spacing]: new ort.Tensor('float32', Float32Array.from([2, 2, 2]), [3]),
  };
}

/**
 * WebGPU provider settings side by side. onnxruntime's defaults: storage buffers cached in size
 * buckets, other buffers (staging for uploads and readbacks) not cached, 'basic' validation,
 * NHWC layout. (Measured on an H200, 2026-11-26: caching the other buffers too, and graph
 * capture, gained nothing over 'storage simple'.)
 */
const EP_VARIANTS: [string, Partial<ort.InferenceSession.SessionOptions>][] = [
  ['defaults', {}],
  [
    'storage simple',
    { executionProviders: [{ name: 'webgpu', storageBufferCacheMode: 'simple' }] },
  ],
  [
    'simple, no validation',
    {
      executionProviders: [
        {
          name: 'webgpu',
          storageBufferCacheMode: 'simple',
          defaultBufferCacheMode: 'simple',
          validationMode: 'disabled',
        },
      ],
    },
  ],
  [
    'simple, NCHW layout',
    {
      executionProviders: [
        { name: 'webgpu', storageBufferCacheMode: 'simple', preferredLayout: 'NCHW' },
      ],
    },
  ],
];

async function caseEp(): Promise<void> {
  const cnn = buildPaperCnn3d({ inputShape: [1, ...dims3d], seed: 1 });
  const combined = combineWithPerturbation(cnn, {
    sampleShape: [1, ...dims3d],
    gridAxes: [1, 2, 3],
  });
  const path = join(dataDir, 'mobilenetv2-12-int8.onnx');
  const twin = existsSync(path) ? dequantizeModel(new Uint8Array(readFileSync(path))) : undefined;
  for (const [label, variant] of EP_VARIANTS) {
    for (const batch of [16, 32]) {
      await profile(
        `3d in-graph, ${label}`,
        combined.bytes,
        batch,
        inGraphFeeds(combined, batch),
        variant,
      );
    }
    if (twin) {
      const batch = 64;
      const input = new ort.Tensor('float32', seeded(batch * 3 * 224 * 224), [batch, 3, 224, 224]);
      await profile(`twin, ${label}`, twin, batch, { input }, variant);
    }
  }
}

async function case3d(): Promise<void> {
  const cnn = buildPaperCnn3d({ inputShape: [1, ...dims3d], seed: 1 });
  for (const batch of [4, 16]) {
    const input = new ort.Tensor('float32', seeded(batch * voxels), [batch, 1, ...dims3d]);
    await profile('3d plain', cnn, batch, { input });
  }
  const combined = combineWithPerturbation(cnn, {
    sampleShape: [1, ...dims3d],
    gridAxes: [1, 2, 3],
  });
  for (const batch of [4, 16, 32]) {
    await profile('3d in-graph', combined.bytes, batch, inGraphFeeds(combined, batch));
  }
}

/** One 3×3×3 conv layer (pads 1, bias, Relu) three ways, ending in a ReduceSum. */
function convLayer(variant: 'conv' | 'im2col-conv' | 'im2col-matmul', cin: number, d: number[]) {
  const cout = 10;
  const w = seeded(cout * cin * 27, 3).map((v) => v - 0.5);
  const b = seeded(cout, 5);
  const g = new GraphBuilder('conv_layer');
  const x = g.input('x', ['N', cin, ...d]);
  let y: string;
  if (variant === 'conv') {
    y = g.node('Conv', [x, g.floats('w', [cout, cin, 3, 3, 3], w), g.floats('b', [cout], b)], {
      kernel_shape: [3, 3, 3],
      pads: [1, 1, 1, 1, 1, 1],
    });
  } else {
    const padded = g.node('Pad', [x, g.int64s('pads', [0, 0, 1, 1, 1, 0, 0, 1, 1, 1])]);
    const taps: string[] = [];
    const w2 = new Float32Array(cout * 27 * cin); // [cout, tap·cin + i]
    let tap = 0;
    for (let a = 0; a < 3; a++)
      for (let c = 0; c < 3; c++)
        for (let e = 0; e < 3; e++, tap++) {
          taps.push(
            g.node('Slice', [
              padded,
              g.int64s('starts', [a, c, e]),
              g.int64s('ends', [a + d[0], c + d[1], e + d[2]]),
              g.int64s('axes', [2, 3, 4]),
            ]),
          );
          for (let o = 0; o < cout; o++)
            for (let i = 0; i < cin; i++)
              w2[(o * 27 + tap) * cin + i] = w[((o * cin + i) * 3 + a) * 9 + c * 3 + e];
        }
    const columns = g.node('Concat', taps, { axis: 1 });
    if (variant === 'im2col-conv') {
      y = g.node('Conv', [
        columns,
        g.floats('w', [cout, 27 * cin, 1, 1, 1], w2),
        g.floats('b', [cout], b),
      ]);
    } else {
      const flat = g.node('Reshape', [columns, g.int64s('shape', [0, 27 * cin, -1])]);
      const product = g.node('MatMul', [g.floats('w', [cout, 27 * cin], w2), flat]);
      y = g.node('Add', [product, g.floats('b', [cout, 1], b)]);
    }
  }
  const sum = g.node('ReduceSum', [g.node('Relu', [y])], { keepdims: 0 });
  g.node('Identity', [sum], {}, ['sum']);
  g.output('sum', []);
  return g.toBytes();
}

async function caseConv(): Promise<void> {
  const layers: [string, number, number[]][] = [
    ['conv1', 1, dims3d],
    ['conv2', 10, [45, 54, 45]],
  ];
  for (const [layer, cin, d] of layers) {
    const batch = 4;
    const x = new ort.Tensor('float32', seeded(batch * cin * d[0] * d[1] * d[2]), [
      batch,
      cin,
      ...d,
    ]);
    for (const variant of ['conv', 'im2col-conv', 'im2col-matmul'] as const) {
      await profile(`${layer} ${variant}`, convLayer(variant, cin, d), batch, { x });
    }
  }
}

async function case2d(): Promise<void> {
  const path = join(dataDir, 'mobilenetv2-12-int8.onnx');
  if (!existsSync(path)) {
    results.push({ model: '2d', batch: 0, error: `${path} is missing` });
    return;
  }
  const int8 = new Uint8Array(readFileSync(path));
  const float = dequantizeModel(int8);
  for (const [name, bytes] of [
    ['mobilenetv2 int8', int8],
    ['mobilenetv2 float twin', float],
  ] as const) {
    for (const batch of [16, 64]) {
      const input = new ort.Tensor('float32', seeded(batch * 3 * 224 * 224), [batch, 3, 224, 224]);
      await profile(name, bytes, batch, { input });
    }
  }
}

/**
 * Whether the device starts a session at all (a tiny Relu graph): without an adapter every row
 * would fail alike, so the reason is recorded once and the rows are skipped.
 */
async function deviceError(): Promise<string | undefined> {
  const g = new GraphBuilder('device_check');
  g.node('Relu', [g.input('x', [1, 4])], {}, ['y']);
  g.output('y', [1, 4]);
  try {
    const session = await ort.InferenceSession.create(g.toBytes(), {
      executionProviders: [device],
      logSeverityLevel: 3,
    } as ort.InferenceSession.SessionOptions);
    await session.release();
    return undefined;
  } catch (e) {
    return (e instanceof Error ? e.message : String(e)).slice(0, 500);
  }
}

console.log(`bench:gpu-profile — device ${device}, ${runs} timed runs per row, out ${outDir}`);
const unavailable = await deviceError();
if (unavailable) {
  console.log(`device ${device} cannot start a session, no rows profiled: ${unavailable}`);
  writeFileSync(
    join(outDir, 'profile.json'),
    JSON.stringify({ device, error: unavailable }, null, 1),
  );
  rmSync(profileDir, { recursive: true, force: true });
  process.exit(0);
}
for (const c of cases) {
  if (c === 'ep') await caseEp();
  else if (c === '3d') await case3d();
  else if (c === 'conv') await caseConv();
  else if (c === '2d') await case2d();
}
rmSync(profileDir, { recursive: true, force: true });
save();
console.log(
  '\nmodel                        batch  wall ms/run  GPU ms/run  GPU ms/sample  top programs (ms/run)',
);
// Cases: ep,3d,2d by default; conv (one conv layer three ways) on request.
for (const r of results) {
  if (r.error) {
    console.log(`${r.model.padEnd(28)} ${String(r.batch).padStart(5)}  ${r.error}`);
    continue;
  }
  const top = r
    .programs!.slice(0, 4)
    .map((p) => `${p.name} ${p.ms.toFixed(2)}`)
    .join('; ');
  console.log(
    `${r.model.padEnd(28)} ${String(r.batch).padStart(5)}  ${r.wallMs!.toFixed(2).padStart(11)}  ` +
      `${r.gpuMs!.toFixed(2).padStart(10)}  ${(r.gpuMs! / r.batch).toFixed(3).padStart(13)}  ${top}`,
  );
}
