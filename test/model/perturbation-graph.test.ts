/**
 * In-graph perturbation: the ONNX perturbation graph makes the same copies as perturbInto, and
 * the combined model (perturbation + user model) gives runGlas's probabilities on the CPU
 * provider. Also the batch-size probe, 'auto' devices and the CUDA advice.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../../src/errors.js';
import type { GlasInput, GlasOptions, GlasResult } from '../../src/glas3d/index.js';
import {
  checkBatchIndependence,
  createSeparableMask,
  perturbInto,
  resolveGridLayout,
  runGlas,
  setGaussianMask,
} from '../../src/glas3d/index.js';
import { perturbInJs, runGlasInGraph } from '../../src/glas3d/in-graph.js';
import {
  buildLinearOracle,
  buildPaperCnn3d,
  buildPerturbationGraph,
  clearCombinedModelCache,
  combineWithPerturbation,
  GraphBuilder,
  loadInGraphClassifier,
  loadOnnxClassifier,
  loadOnnxClassifierOn,
  prepareCombinedModel,
  probeBatchSize,
  maxBatchFor,
  withBatchSize,
  type InGraphOnnxClassifier,
  type OnnxClassifier,
} from '../../src/model/index.js';
import { randomArray } from './helpers.js';

const { onnx } = onnxProto;
const product = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

/** Largest |a − b| / max(|b|, floor) over two arrays. */
function maxRelative(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue; // a pass the mode does not run
    const r = Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), floor);
    if (!(r <= worst)) worst = r; // NaN counts as worst
  }
  return worst;
}

function expectSameResult(graph: GlasResult, js: GlasResult): void {
  expect(graph.targetClass).toBe(js.targetClass);
  expect(graph.forwardPasses).toBe(js.forwardPasses);
  expect(maxRelative(graph.probabilities, js.probabilities)).toBeLessThan(1e-5);
  expect(graph.perSigma.length).toBe(js.perSigma.length);
  graph.perSigma.forEach((g, s) => {
    const j = js.perSigma[s];
    expect(maxRelative(g.light, j.light)).toBeLessThan(1e-5);
    // shadow = |ΔP| + λ: compare the probabilities behind it, P(y|shadow) = pOriginal + Δ.
    const pg = Array.from(g.shadowDelta, (d) => d + graph.pOriginal);
    const pj = Array.from(j.shadowDelta, (d) => d + js.pOriginal);
    expect(maxRelative(pg, pj)).toBeLessThan(1e-5);
  });
}

describe('perturbation graph', () => {
  async function run(
    spec: { sampleShape: number[]; gridAxes: number[] },
    feeds: {
      sample: Float32Array;
      baseline: Float32Array | number;
      centres: number[][];
      sigmas: number[];
      kinds: number[];
      spacing: number[];
    },
  ): Promise<Float32Array> {
    const session = await ort.InferenceSession.create(buildPerturbationGraph(spec));
    const n = feeds.sigmas.length;
    const rank = spec.gridAxes.length;
    const b = feeds.baseline;
    const result = await session.run({
      sample: new ort.Tensor('float32', feeds.sample, [1, ...spec.sampleShape]),
      baseline:
        typeof b === 'number'
          ? new ort.Tensor('float32', Float32Array.of(b), [1, ...spec.sampleShape.map(() => 1)])
          : new ort.Tensor('float32', b, [1, ...spec.sampleShape]),
      centres: new ort.Tensor('float32', Float32Array.from(feeds.centres.flat()), [n, rank]),
      sigma: new ort.Tensor('float32', Float32Array.from(feeds.sigmas), [n]),
      kind: new ort.Tensor('float32', Float32Array.from(feeds.kinds), [n]),
      spacing: new ort.Tensor('float32', Float32Array.from(feeds.spacing), [rank]),
    });
    await session.release();
    expect(result.perturbed.dims).toEqual([n, ...spec.sampleShape]);
    return result.perturbed.data as Float32Array;
  }

  function reference(
    spec: { sampleShape: number[]; gridAxes: number[] },
    feeds: Parameters<typeof run>[1],
  ): Float32Array {
    const layout = resolveGridLayout(spec.sampleShape, spec.gridAxes, feeds.spacing);
    const mask = createSeparableMask(layout);
    const out = new Float32Array(feeds.sigmas.length * layout.sampleSize);
    feeds.sigmas.forEach((sigma, k) => {
      setGaussianMask(mask, layout, feeds.centres[k], sigma);
      const kind = feeds.kinds[k] ? 'light' : 'shadow';
      perturbInto(out, k * layout.sampleSize, feeds.sample, feeds.baseline, mask, kind);
    });
    return out;
  }

  const cases = [
    { name: 'NCDHW 1×24×28×24, anisotropic', sampleShape: [1, 24, 28, 24], gridAxes: [1, 2, 3] },
    { name: 'NCDHW, zyx axes', sampleShape: [1, 10, 12, 14], gridAxes: [3, 2, 1] },
    { name: 'NDHWC, 2 channels', sampleShape: [9, 10, 11, 2], gridAxes: [0, 1, 2] },
    { name: 'NCHW 3×20×16 (channels broadcast)', sampleShape: [3, 20, 16], gridAxes: [2, 1] },
  ];
  for (const c of cases) {
    it(`makes perturbInto's copies: ${c.name}`, async () => {
      const size = product(c.sampleShape);
      const rank = c.gridAxes.length;
      const sample = randomArray(size, 7, 2);
      const spacing = [1.5, 2, 3].slice(0, rank);
      const dims = c.gridAxes.map((t) => c.sampleShape[t]);
      // Inside, fractional, on the edge and outside the grid; narrow and wide σ.
      const centres = [
        dims.map((d) => (d - 1) / 2),
        dims.map((d, a) => (a === 0 ? 0 : d / 3 + 0.37)),
        dims.map((d) => d - 1),
        dims.map((d) => d + 4.5),
        dims.map(() => -2),
      ];
      const sigmas = [3, 1.2, 8, 6, 20];
      const kinds = [1, 0, 1, 0, 1];
      for (const baseline of [0, -0.75, randomArray(size, 11)]) {
        const feeds = { sample, baseline, centres, sigmas, kinds, spacing };
        const got = await run(c, feeds);
        const want = reference(c, feeds);
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
        // Values are O(1): float32 exp and products against the JS path's float64.
        expect(worst).toBeLessThan(2e-6);
      }
    });
  }
});

describe('combined model equals the JS path (CPU provider)', () => {
  const volumeShape = [1, 24, 28, 24];
  const volumeSpacing = [1.5, 2, 3];
  const size = product(volumeShape);
  const sample = Float32Array.from(randomArray(size, 3), (v) => 0.5 + 0.5 * v);
  const volumePoints = [
    [11.5, 13.5, 11.5],
    [3, 4, 5],
    [20.2, 7.7, 18],
    [0, 27, 23],
    [12, 2, 1],
    [6, 21, 15.5],
  ];
  const sigmas = [
    { light: 6, shadow: 6, spatial: 6 },
    { light: 14, shadow: 9, spatial: 12 },
  ];
  const cnn = buildPaperCnn3d({ inputShape: volumeShape, seed: 5 });
  const js: OnnxClassifier[] = [];
  const graph: InGraphOnnxClassifier[] = [];
  beforeAll(async () => {
    js.push(await loadOnnxClassifier(cnn, { batchSize: 5, modelName: 'paper CNN' }));
    graph.push(await loadInGraphClassifier(cnn, { batchSize: 5, modelName: 'paper CNN' }));
  });
  afterAll(async () => {
    for (const c of [...js, ...graph]) await c.dispose();
  });

  for (const baseline of [0, 'array'] as const) {
    it(`paper CNN, fusion (light and shadow), ${baseline === 0 ? 'zero' : 'non-zero'} baseline`, async () => {
      const input: GlasInput = {
        sample,
        baseline: baseline === 0 ? 0 : Float32Array.from(randomArray(size, 9), (v) => 0.2 * v),
        gridAxes: graph[0].gridAxes,
        spacing: volumeSpacing,
      };
      const options: GlasOptions = { points: volumePoints, sigmas, mode: 'fusion' };
      const want = await runGlas(js[0], input, options);
      const got = await runGlasInGraph(graph[0], input, options);
      expectSameResult(got, want);
      expect(graph[0].deviceNote).toBe('device cpu');
      // The engine alone: the JS strategy through the same driver gives runGlas bit for bit.
      const viaJs = await runGlasInGraph(perturbInJs(js[0], input.gridAxes), input, options);
      expect(viaJs.perSigma[1].light).toEqual(want.perSigma[1].light);
      expect(viaJs.perSigma[1].map).toEqual(want.perSigma[1].map);
    });
  }

  it('linear oracle: light and shadow apart, constant non-zero baseline, fixed batch', async () => {
    const weights = randomArray(size, 21);
    const oracle = (batch: number | string) =>
      buildLinearOracle({
        inputShape: volumeShape,
        weights,
        scale: 0.01,
        bias: 0.3,
        output: 'probabilities',
        batch,
      });
    const input: GlasInput = {
      sample,
      baseline: 0.25,
      gridAxes: [1, 2, 3],
      spacing: volumeSpacing,
    };
    for (const batch of ['N', 4]) {
      const plain = await loadOnnxClassifier(oracle(batch), { batchSize: 4 });
      const inGraph = await loadInGraphClassifier(oracle(batch), { batchSize: 4 });
      expect(inGraph.combined.fixedBatch).toBe(batch === 4 ? 4 : undefined);
      for (const mode of ['light', 'shadow'] as const) {
        const options: GlasOptions = { points: volumePoints, sigmas, mode, targetClass: 1 };
        expectSameResult(
          await runGlasInGraph(inGraph, input, options),
          await runGlas(plain, input, options),
        );
      }
      await plain.dispose();
      await inGraph.dispose();
    }
  });

  it('2-D NCHW with 3 channels: the mask broadcasts over channels', async () => {
    const imageShape = [3, 20, 16];
    const k = product(imageShape);
    const model = buildLinearOracle({
      inputShape: imageShape,
      weights: randomArray(k, 31),
      scale: 0.05,
      bias: -0.1,
      output: 'two-logits',
    });
    const plain = await loadOnnxClassifier(model, { batchSize: 8 });
    const inGraph = await loadInGraphClassifier(model, { batchSize: 8 });
    // Images default to row-major [H][W]: x is tensor axis 2, y axis 1.
    expect(inGraph.gridAxes).toEqual([2, 1]);
    const input: GlasInput = {
      sample: randomArray(k, 33, 2),
      baseline: Float32Array.from(randomArray(k, 35), (v) => 0.1 * v),
      gridAxes: inGraph.gridAxes,
      spacing: [0.25, 0.25],
    };
    const options: GlasOptions = {
      points: [
        [2, 3],
        [8, 10],
        [15, 19],
        [7.5, 0],
      ],
      sigmas: [{ light: 1, shadow: 0.6, spatial: 1 }],
      mode: 'fusion',
    };
    expectSameResult(
      await runGlasInGraph(inGraph, input, options),
      await runGlas(plain, input, options),
    );
    await plain.dispose();
    await inGraph.dispose();
  });

  it('refuses grid axes other than those the graph was built for', async () => {
    const input: GlasInput = { sample, baseline: 0, gridAxes: [3, 2, 1], spacing: volumeSpacing };
    await expect(runGlasInGraph(graph[0], input, { points: volumePoints, sigmas })).rejects.toThrow(
      /built for/,
    );
  });
});

describe('combining with a user model', () => {
  const shape = [1, 6, 6, 6];
  const weights = randomArray(216, 41);

  it('keeps only the chosen output and the user opsets, under prefixed names', () => {
    const model = buildLinearOracle({
      inputShape: shape,
      weights,
      scale: 1,
      bias: 0,
      output: 'two-logits',
      outputName: 'logits',
      extraOutputs: [{ name: 'probs', kind: 'probabilities' }],
    });
    const combined = combineWithPerturbation(model, {
      sampleShape: shape,
      gridAxes: [1, 2, 3],
      outputName: 'probs',
    });
    const proto = onnx.ModelProto.decode(combined.bytes);
    const graph = proto.graph!;
    expect(graph.output!.map((o) => o.name)).toEqual(['probs']);
    expect(graph.input!.map((i) => i.name)).toEqual(Object.values(combined.inputs));
    expect(Object.values(combined.inputs).every((n) => n.startsWith('glas3d_perturb/'))).toBe(true);
    // Every user node and initializer is still there, unchanged.
    const user = onnx.ModelProto.decode(model).graph!;
    for (const node of user.node!)
      expect(graph.node!.some((n) => n.name === node.name && n.opType === node.opType)).toBe(true);
    expect(proto.opsetImport!.map((o) => Number(o.version?.toString()))).toEqual([13]);
  });

  it('avoids names the user model already uses', () => {
    const g = new GraphBuilder('clash');
    const x = g.input('glas3d_perturb/sample', ['N', ...shape]);
    const flat = g.node('Flatten', [x], { axis: 1 });
    g.node('MatMul', [flat, g.floats('w', [216, 2], new Float32Array(432))], {}, ['out']);
    g.output('out', ['N', 2]);
    const combined = combineWithPerturbation(g.toBytes(), {
      sampleShape: shape,
      gridAxes: [1, 2, 3],
    });
    expect(combined.inputs.sample).toBe('_glas3d_perturb/sample');
    expect(combined.modelInputName).toBe('glas3d_perturb/sample');
  });

  it('names what it cannot join: old opsets and models with two inputs', () => {
    const g = new GraphBuilder('two');
    const a = g.input('a', ['N', 4]);
    const b = g.input('b', ['N', 4]);
    g.node('Add', [a, b], {}, ['y']);
    g.output('y', ['N', 4]);
    expect(() => combineWithPerturbation(g.toBytes(), { sampleShape: [4], gridAxes: [0] })).toThrow(
      /2 inputs \('a', 'b'\)/,
    );
    const old = buildLinearOracle({
      inputShape: shape,
      weights,
      scale: 1,
      bias: 0,
      output: 'one-logit',
    });
    const proto = onnx.ModelProto.decode(old);
    proto.opsetImport = [{ domain: '', version: 8 }];
    expect(() =>
      combineWithPerturbation(onnx.ModelProto.encode(proto).finish(), {
        sampleShape: shape,
        gridAxes: [1, 2, 3],
      }),
    ).toThrow(ModelError);
  });

  it('caches combined models on disk under the model hash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glas3d-cache-'));
    try {
      const model = buildLinearOracle({
        inputShape: shape,
        weights,
        scale: 2,
        bias: 0,
        output: 'one-logit',
      });
      const options = { sampleShape: shape, gridAxes: [1, 2, 3], diskCache: dir };
      const first = await prepareCombinedModel(model, options);
      expect(await prepareCombinedModel(model, options)).toBe(first); // from memory
      const files = (await readdir(dir)).sort();
      expect(files).toHaveLength(2);
      expect(files[0]).toMatch(/^combined-[0-9a-f]{32}\.json$/);
      expect(new Uint8Array(await readFile(join(dir, files[1])))).toEqual(first.bytes);
      // From disk: a descriptor whose .onnx still has the recorded hash is used as it is…
      const json = join(dir, files[0]);
      const descriptor = JSON.parse(await readFile(json, 'utf8'));
      await writeFile(json, JSON.stringify({ ...descriptor, modelInputName: 'from disk' }));
      clearCombinedModelCache();
      expect((await prepareCombinedModel(model, options)).modelInputName).toBe('from disk');
      // …and one whose .onnx changed is combined again.
      await writeFile(join(dir, files[1]), 'not a model');
      clearCombinedModelCache();
      const again = await prepareCombinedModel(model, options);
      expect(again.modelInputName).toBe('input');
      expect(again.bytes).toEqual(first.bytes);
    } finally {
      clearCombinedModelCache();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a model whose answer depends on the other samples in the batch', () => {
  // x / max(x) over the whole batch tensor, then a linear logit: each row's answer depends on
  // the largest value anywhere in the batch (research code that calls torch.max(x) with no dim).
  const shape = [1, 4, 5, 6];
  const k = product(shape);
  const weights = randomArray(k, 41);
  function globalMaxModel(): Uint8Array {
    const g = new GraphBuilder('global_max');
    const x = g.input('input', ['N', ...shape]);
    const max = g.node('ReduceMax', [x], { keepdims: 1 });
    const flat = g.node('Flatten', [g.node('Div', [x, max])], { axis: 1 });
    const z = g.node('MatMul', [flat, g.floats('W', [k, 1], weights)]);
    g.node('Mul', [z, g.floats('pick1', [1, 2], [0, 1])], {}, ['output']);
    g.output('output', ['N', 2]);
    return g.toBytes();
  }
  const input: GlasInput = {
    sample: Float32Array.from(randomArray(k, 43), (v) => 1 + Math.abs(v)),
    baseline: 0,
    gridAxes: [1, 2, 3],
    spacing: [1, 1, 1],
  };
  const options: GlasOptions = {
    points: [
      [1, 1, 1],
      [3, 2, 0],
    ],
    sigmas: [{ light: 1.5, shadow: 1.5, spatial: 1.5 }],
    mode: 'shadow',
    targetClass: 1,
  };

  it('is refused in batches, on the host and in the graph, and explained with batch 1', async () => {
    const batched = await loadOnnxClassifier(globalMaxModel(), { batchSize: 4 });
    const inGraph = await loadInGraphClassifier(globalMaxModel(), { batchSize: 4 });
    for (const run of [
      checkBatchIndependence(batched, input.sample),
      runGlasInGraph(inGraph, input, options),
    ])
      await expect(run).rejects.toThrow(
        /answers the same sample differently alone .* depends on the other samples in the batch.* Use --batch 1/,
      );
    // Later checks fail too (a cohort run stops), without running the model again.
    await expect(checkBatchIndependence(batched, input.sample)).rejects.toThrow(
      /depends on the other samples/,
    );
    const alone = await loadOnnxClassifier(globalMaxModel(), { batchSize: 1 });
    const result = await runGlas(alone, input, options);
    // Batch 1 is the model's own answer to each copy: a copy alone through a fresh classifier.
    expect(result.perSigma[0].shadowDelta.every(Number.isFinite)).toBe(true);
    for (const c of [batched, inGraph, alone]) await c.dispose();
  });

  it('a batch-independent model passes the check (the linear oracle)', async () => {
    const model = buildLinearOracle({
      inputShape: shape,
      weights,
      scale: 0.2,
      bias: 0,
      output: 'two-logits',
    });
    const batched = await loadOnnxClassifier(model, { batchSize: 4 });
    const alone = await loadOnnxClassifier(model, { batchSize: 1 });
    await checkBatchIndependence(batched, input.sample);
    const [a, b] = [await runGlas(batched, input, options), await runGlas(alone, input, options)];
    expect(a.perSigma[0].shadowDelta).toEqual(b.perSigma[0].shadowDelta);
    for (const c of [batched, alone]) await c.dispose();
  });
});

describe('batch size probe', () => {
  /** A fake clock and a batch that costs `fixed + perSample·n` ms on it. */
  function fake(fixed: number, perSample: number, failAt?: number) {
    let t = 0;
    const calls: number[] = [];
    return {
      clock: () => t,
      calls,
      run: async (n: number) => {
        calls.push(n);
        if (failAt !== undefined && n >= failAt) throw new Error(`out of memory at ${n}`);
        t += fixed + perSample * n;
      },
    };
  }

  it('takes the largest power of two that still gains more than 10% per sample', async () => {
    // Per sample: 1→6, 2→3.5, 4→2.25, 8→1.63, 16→1.31, 32→1.16 (−12%), 64→1.08 (−7%).
    const f = fake(5, 1);
    const result = await probeBatchSize(f.run, { clock: f.clock });
    expect(result.batchSize).toBe(32);
    expect(result.stoppedBy).toBe('no-gain');
    expect(result.trials.map((t) => t.batchSize)).toEqual([1, 2, 4, 8, 16, 32, 64]);
    // A model whose cost is all per sample gains nothing from batching.
    const flat = fake(0, 3);
    expect((await probeBatchSize(flat.run, { clock: flat.clock })).batchSize).toBe(1);
  });

  it('stops at the cap and at the first size that fails', async () => {
    const f = fake(100, 1);
    expect(await probeBatchSize(f.run, { clock: f.clock, max: 16 })).toMatchObject({
      batchSize: 16,
      stoppedBy: 'cap',
    });
    const oom = fake(100, 1, 8);
    const result = await probeBatchSize(oom.run, { clock: oom.clock });
    expect(result).toMatchObject({ batchSize: 4, stoppedBy: 'error' });
    expect(result.trials.at(-1)).toEqual({ batchSize: 8, error: 'out of memory at 8' });
    await expect(probeBatchSize(fake(1, 1, 1).run)).rejects.toThrow('out of memory at 1');
  });

  it('exhaustive (GPUs): tries every size to the cap and keeps the largest near the fastest', async () => {
    // Per sample on this fake: 1→10, 2→6, 4→5.5, 8→5.9, 16→5.2, 32→5.6: not monotone, as on a GPU.
    const perSample = new Map([
      [1, 10],
      [2, 6],
      [4, 5.5],
      [8, 5.9],
      [16, 5.2],
      [32, 5.6],
    ]);
    let t = 0;
    const run = async (n: number) => {
      t += perSample.get(n)! * n;
    };
    const greedy = await probeBatchSize(run, { clock: () => t, max: 32 });
    expect(greedy).toMatchObject({ batchSize: 2, stoppedBy: 'no-gain' });
    const all = await probeBatchSize(run, { clock: () => t, max: 32, exhaustive: true });
    expect(all.trials.map((x) => x.batchSize)).toEqual([1, 2, 4, 8, 16, 32]);
    // Fastest 5.2 at 16; 32 (5.6) is within 10% of it, so the larger wins.
    expect(all).toMatchObject({ batchSize: 32, stoppedBy: 'cap' });
    expect(
      (await probeBatchSize(run, { clock: () => t, max: 32, exhaustive: true, minGain: 0.05 }))
        .batchSize,
    ).toBe(16);
    // A failure ends it, keeping the best of the sizes that ran.
    const failing = async (n: number) => {
      if (n >= 32) throw new Error('out of memory');
      await run(n);
    };
    expect(
      await probeBatchSize(failing, { clock: () => t, max: 64, exhaustive: true }),
    ).toMatchObject({
      batchSize: 16,
      stoppedBy: 'error',
    });
  });

  it("a GPU probe's cap: up to 512, at most 1 GiB of float32 input per batch", () => {
    const bytes = (shape: number[]) => 4 * shape.reduce((p, d) => p * d, 1);
    expect(maxBatchFor('cpu', bytes([3, 224, 224]))).toBe(64);
    expect(maxBatchFor('webgpu', bytes([3, 224, 224]))).toBe(512); // 512 × 0.6 MB
    expect(maxBatchFor('webgpu', bytes([1, 91, 109, 91]))).toBe(256); // 256 × 3.6 MB = 0.92 GB
    expect(maxBatchFor('cuda', bytes([1, 256, 256, 256]))).toBe(16); // 16 × 67 MB = 1.07e9 B
    expect(maxBatchFor('webgpu', 2 ** 31)).toBe(1); // one sample over the budget still runs alone
  });

  it('probes a real in-graph model when no batch size is given', async () => {
    const model = buildPaperCnn3d({ inputShape: [1, 16, 16, 16], seed: 2 });
    const c = await loadInGraphClassifier(model, { probe: { max: 8, repeats: 1 } });
    expect([1, 2, 4, 8]).toContain(c.batchSize);
    expect(c.probe?.batchSize).toBe(c.batchSize);
    expect(c.probe?.trials[0]).toMatchObject({ batchSize: 1 });
    await c.dispose();
    const plain = await loadOnnxClassifier(model, { batchSize: 16 });
    expect(withBatchSize(plain, 4).batchSize).toBe(4);
    await plain.dispose();
  });
});

describe('devices', () => {
  const model = buildLinearOracle({
    inputShape: [1, 4, 4, 4],
    weights: randomArray(64, 51),
    scale: 1,
    bias: 0,
    output: 'probabilities',
  });

  it('--device cuda without the CUDA provider gives the reinstall advice', async () => {
    const hasCuda = ort.listSupportedBackends().some((b) => b.name === 'cuda' && b.bundled);
    if (hasCuda) return;
    await expect(loadInGraphClassifier(model, { device: 'cuda', batchSize: 2 })).rejects.toThrow(
      /device 'cuda' is not available.*reinstall onnxruntime-node.*--onnxruntime-node-install=cuda12/s,
    );
  });

  it("'auto' falls back device by device and says which it took", async () => {
    const c = await loadInGraphClassifier(model, { device: 'auto', batchSize: 2 });
    expect(['cuda', 'webgpu', 'cpu']).toContain(c.device);
    expect(c.deviceNote).toMatch(new RegExp(`^device auto took ${c.device}`));
    // Each refusal by its reason alone: the advice to pick another device is moot under 'auto'.
    if (c.device !== 'cuda') expect(c.deviceNote).toMatch(/\(cuda: \S/);
    expect(c.deviceNote).not.toMatch(/is not available|or use --device|\.;/);
    await c.dispose();
    const plain = await loadOnnxClassifierOn(model, { device: 'auto' });
    expect(plain.value.device).toBe(plain.device);
    await plain.value.dispose();
  });
});
