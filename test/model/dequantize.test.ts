/**
 * The float twin of a quantized model (dequantizeModel). Truths from outside the code under test:
 * a one-node QLinearConv model whose float result is worked out here by hand from the ONNX
 * definition, and the real MobileNetV2 int8 of ../shared/data, whose top-1 classes on the two
 * photos are in the data README (house finch 12, Samoyed 258).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { preprocessImage, toModelSample } from '../../src/image/index.js';
import {
  buildPaperCnn3d,
  dequantizeModel,
  gridAxesOf,
  isQuantizedModel,
  loadOnnxClassifier,
  preferredPerturbationSite,
} from '../../src/model/index.js';
import { loadClassifiers, sourcePerturbationSite } from '../../src/model/combined-model.js';
import { dequantizeNotes, modelSource } from '../../src/model/dequantize.js';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

/** x (float [1,1,1,4]) → QuantizeLinear → QLinearConv 1×1 (2 output channels) → DequantizeLinear. */
function tinyQuantizedConv(): Uint8Array {
  const bytes = (values: number[], type: 'u8' | 'i32' | 'f32') => {
    const size = type === 'u8' ? 1 : 4;
    const out = new Uint8Array(values.length * size);
    const view = new DataView(out.buffer);
    values.forEach((v, i) => {
      if (type === 'u8') view.setUint8(i, v);
      else if (type === 'i32') view.setInt32(4 * i, v, true);
      else view.setFloat32(4 * i, v, true);
    });
    return out;
  };
  const tensor = (name: string, dims: number[], dataType: number, rawData: Uint8Array) => ({
    name,
    dims,
    dataType,
    rawData,
  });
  const graph = {
    name: 'tiny',
    input: [
      {
        name: 'x',
        type: {
          tensorType: {
            elemType: T.FLOAT,
            shape: { dim: [1, 1, 1, 4].map((d) => ({ dimValue: d })) },
          },
        },
      },
    ],
    output: [
      {
        name: 'y',
        type: {
          tensorType: {
            elemType: T.FLOAT,
            shape: { dim: [1, 2, 1, 4].map((d) => ({ dimValue: d })) },
          },
        },
      },
    ],
    initializer: [
      tensor('xs', [], T.FLOAT, bytes([0.1], 'f32')),
      tensor('xz', [], T.UINT8, bytes([10], 'u8')),
      tensor('w', [2, 1, 1, 1], T.UINT8, bytes([130, 120], 'u8')),
      tensor('ws', [2], T.FLOAT, bytes([0.5, 0.25], 'f32')),
      tensor('wz', [2], T.UINT8, bytes([128, 128], 'u8')),
      tensor('ys', [], T.FLOAT, bytes([0.05], 'f32')),
      tensor('yz', [], T.UINT8, bytes([20], 'u8')),
      tensor('b', [2], T.INT32, bytes([40, -20], 'i32')),
    ],
    node: [
      { opType: 'QuantizeLinear', input: ['x', 'xs', 'xz'], output: ['xq'] },
      {
        opType: 'QLinearConv',
        input: ['xq', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', 'b'],
        output: ['yq'],
        attribute: [
          { name: 'kernel_shape', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 1] },
        ],
      },
      { opType: 'DequantizeLinear', input: ['yq', 'ys', 'yz'], output: ['y'] },
    ],
  };
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], graph }),
  ).finish();
}

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run(feeds);
  await session.release();
  return out[session.outputNames[0]].data as Float32Array;
}

describe('dequantizeModel', () => {
  it('turns QLinearConv into Conv + Clip with the weights, bias and saturation of the ONNX spec', async () => {
    const model = tinyQuantizedConv();
    const twin = dequantizeModel(model);
    expect(isQuantizedModel(model)).toBe(true);
    expect(isQuantizedModel(twin)).toBe(false);
    // Inputs inside and outside what uint8 with scale 0.1, zero point 10 holds: [−1, 24.5].
    const x = [-3, 0.2, 2, 30];
    const got = await run(twin, {
      x: new ort.Tensor('float32', Float32Array.from(x), [1, 1, 1, 4]),
    });
    // By hand: x saturates to [−1, 24.5]; channel c: (x·w_c + b_c·xs·ws_c) with w = (130 − 128)·0.5
    // = 1 and (120 − 128)·0.25 = −2, bias 40·0.1·0.5 = 2 and −20·0.1·0.25 = −0.5; then the output's
    // range [(0 − 20)·0.05, (255 − 20)·0.05] = [−1, 11.75].
    const clip = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
    const xin = x.map((v) => clip(v, -1, 24.5));
    const want = [
      ...xin.map((v) => clip(v * 1 + 2, -1, 11.75)),
      ...xin.map((v) => clip(v * -2 - 0.5, -1, 11.75)),
    ];
    want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    // The int8 model itself agrees to within its output step (0.05).
    const int8 = await run(model, {
      x: new ort.Tensor('float32', Float32Array.from(x), [1, 1, 1, 4]),
    });
    want.forEach((v, i) => expect(Math.abs(int8[i] - v)).toBeLessThanOrEqual(0.05 + 1e-6));
  });

  const DATA = path.resolve('../shared/data/imagenet');
  const MODEL = path.join(DATA, 'mobilenetv2-12-int8.onnx');
  const photos = [
    ['finch.jpeg', 12],
    ['samoyed.jpg', 258],
  ] as const;
  const NCHW = gridAxesOf('NCHW', 'zyx', [3, 224, 224]);
  const ready = existsSync(MODEL) && photos.every(([f]) => existsSync(path.join(DATA, f)));
  it.skipIf(!ready)('MobileNetV2 int8: the twin keeps the top-1 class on both photos', async () => {
    const int8 = new Uint8Array(readFileSync(MODEL));
    const twin = dequantizeModel(int8);
    expect(isQuantizedModel(twin)).toBe(false);
    for (const [file, top1] of photos) {
      // Short side 256, centre crop 224, ImageNet mean/std (the data README's recipe), NCHW.
      const pre = await preprocessImage(path.join(DATA, file));
      const planar = toModelSample(pre.pixels, pre, pre.normalization, NCHW);
      const input = new ort.Tensor('float32', planar, [1, 3, 224, 224]);
      for (const model of [int8, twin]) {
        const logits = await run(model, { input });
        let best = 0;
        for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        expect(best, file).toBe(top1);
      }
    }
  });

  it.skipIf(!ready)(
    'preferredPerturbationSite: host on the CPU and for the int8 model, the graph on a GPU otherwise',
    async () => {
      const cnn = buildPaperCnn3d({ inputShape: [1, 16, 20, 16], seed: 1 });
      expect(await preferredPerturbationSite('cpu', cnn)).toBe('host');
      expect(await preferredPerturbationSite('webgpu', cnn)).toBe('device');
      expect(await preferredPerturbationSite('webgpu', MODEL)).toBe('host'); // QLinear ops
      const twin = dequantizeModel(new Uint8Array(readFileSync(MODEL)));
      expect(await preferredPerturbationSite('webgpu', twin)).toBe('device');
    },
  );

  it('modelSource: the twin only when asked and the model is quantized; notes say which', async () => {
    const int8 = tinyQuantizedConv();
    const cnn = buildPaperCnn3d({ inputShape: [1, 8, 10, 8], seed: 1 });
    const asked = await modelSource(int8, { dequantize: true, modelName: 'tiny.onnx' });
    expect(asked).toMatchObject({ name: 'tiny.onnx', quantized: true, dequantized: true });
    expect(asked.model).toEqual(dequantizeModel(int8));
    const float = await modelSource(cnn, { dequantize: true, modelName: 'cnn.onnx' });
    expect(float).toMatchObject({ model: cnn, quantized: false, dequantized: false });
    const looked = await modelSource(int8, { inspect: true, modelName: 'tiny.onnx' });
    expect(looked).toMatchObject({ model: int8, quantized: true, dequantized: false });
    expect(await modelSource(int8)).toEqual({
      model: int8,
      name: 'in-memory model',
      dequantized: false,
    });
    // Bytes that are no model are left to the loader, which names the problem.
    const junk = await modelSource(Uint8Array.of(1, 2, 3), { dequantize: true });
    expect(junk).toMatchObject({ quantized: false, dequantized: false });

    // The default site follows what runs: the int8 model stays on the host, its twin goes to the graph.
    expect(sourcePerturbationSite('webgpu', looked)).toBe('host');
    expect(sourcePerturbationSite('webgpu', asked)).toBe('device');
    expect(sourcePerturbationSite('cuda', float)).toBe('device');
    expect(sourcePerturbationSite('cpu', asked)).toBe('host');

    // One note each: the twin runs; asking had no effect; a hint on a GPU; nothing on the CPU.
    const [twin] = dequantizeNotes(asked, 'cpu', true);
    expect(twin).toMatch(/^running tiny\.onnx as its float twin \(--dequantize\)/);
    expect(dequantizeNotes(float, 'webgpu', true)).toEqual([
      '--dequantize has no effect: cnn.onnx is not quantized; it runs as it is',
    ]);
    const [hint, ...more] = dequantizeNotes(looked, 'webgpu', undefined);
    expect(more).toEqual([]);
    expect(hint).toMatch(
      /tiny\.onnx is quantized: .* no webgpu kernels .*--dequantize runs its float twin/,
    );
    // Copies made in the graph of a quantized model on a GPU cross to the CPU: said in the hint.
    const [forced] = dequantizeNotes(looked, 'webgpu', undefined, 'device');
    expect(forced).toMatch(
      /run on the CPU; with --perturbation device every perturbed copy crosses/,
    );
    expect(hint).not.toMatch(/crosses/);
    expect(dequantizeNotes(looked, 'cpu', false, 'device')).toEqual([]);
    expect(dequantizeNotes(looked, 'cpu', false)).toEqual([]);
    expect(dequantizeNotes(float, 'webgpu', false)).toEqual([]);
    expect(dequantizeNotes(await modelSource(int8), 'cuda', false)).toEqual([]); // not looked at
  });

  it.skipIf(!ready)(
    'dequantize as a load option: the plain and the in-graph session both run the twin',
    async () => {
      const pre = await preprocessImage(path.join(DATA, 'finch.jpeg'));
      const sample = toModelSample(pre.pixels, pre, pre.normalization, NCHW);
      // The twin's probabilities, from a session of dequantizeModel's bytes (softmax in float64).
      const logits = await run(dequantizeModel(new Uint8Array(readFileSync(MODEL))), {
        input: new ort.Tensor('float32', sample, [1, 3, 224, 224]),
      });
      const max = Math.max(...logits);
      const sum = logits.reduce((s, v) => s + Math.exp(v - max), 0);
      const p12 = Math.exp(logits[12] - max) / sum;

      const plain = await loadOnnxClassifier(MODEL, { dequantize: true, batchSize: 1 });
      expect([plain.dequantized, plain.record.dequantized]).toEqual([true, true]);
      expect((await plain.predict(sample, 1))[12]).toBeCloseTo(p12, 6);
      await plain.dispose();
      const int8 = await loadOnnxClassifier(MODEL, { batchSize: 1 });
      expect(int8.dequantized).toBe(false);
      expect(int8.record).not.toHaveProperty('dequantized');
      await int8.dispose();

      // The in-graph session too: its unperturbed sample gives the twin's probabilities.
      const both = await loadClassifiers(MODEL, {
        dequantize: true,
        batchSize: 2,
        perturbation: 'device',
      });
      try {
        expect(both.classifier.dequantized).toBe(true);
        expect(both.inGraph?.dequantized).toBe(true);
        both.inGraph!.setSample(sample, 0, [1, 1]);
        expect((await both.inGraph!.predictSample())[12]).toBeCloseTo(p12, 5);
        expect(both.notes).toHaveLength(1);
      } finally {
        await both.dispose();
      }
      const cpu = await loadClassifiers(MODEL, { dequantize: true, batchSize: 2 });
      expect([cpu.perturbation, cpu.inGraph]).toEqual(['host', undefined]);
      await cpu.dispose();
    },
  );
});
