import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Glas3dError, ModelError } from '../../src/errors.js';
import { volumeAxes } from '../../src/explain/explain-volume.js';

const IDENTITY = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
  [0, 0, 0, 1],
];
import {
  buildLinearOracle,
  buildNanModel,
  GraphBuilder,
  loadOnnxClassifier,
  type OnnxClassifier,
} from '../../src/model/index.js';
import { randomArray, rejection } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'glas3d-model-'));
const opened: OnnxClassifier[] = [];
afterAll(async () => {
  for (const c of opened) await c.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const volumeModel = () =>
  buildLinearOracle({
    inputShape: [1, 5, 4, 6],
    weights: randomArray(120, 1),
    scale: 1,
    bias: 0,
    output: 'two-logits',
  });

describe('model errors', () => {
  it('class out of range', async () => {
    const clf = await loadOnnxClassifier(volumeModel());
    opened.push(clf);
    expect(() => clf.checkClass(1)).not.toThrow();
    expect(() => clf.checkClass(7)).toThrow(ModelError);
    expect(() => clf.checkClass(7)).toThrow(
      'class 7 is out of range: the model has 2 classes (0–1)',
    );
    expect(() => clf.checkClass(-1)).toThrow(ModelError);
    expect(() => clf.checkClass(0.5)).toThrow(ModelError);
  });

  it('input size and rank that do not fit name both shapes', async () => {
    const path = join(dir, 'volume.onnx');
    writeFileSync(path, volumeModel());
    const clf = await loadOnnxClassifier(path);
    opened.push(clf);
    expect(() => clf.checkInputFits([5, 4, 6], 1)).not.toThrow();
    expect(() => clf.checkInputFits([91, 109, 91], 1)).toThrow(ModelError);
    expect(() => clf.checkInputFits([91, 109, 91], 1)).toThrow(
      /volume\.onnx.*\[1,5,4,6\].*91×109×91/,
    );
    expect(() => clf.checkInputFits([5, 4], 3)).toThrow(
      /takes volumes.*\[1,5,4,6\].*an image of 5×4 pixels with 3 channels: explain volumes with glas3d explain or run/,
    );

    const flat = await loadOnnxClassifier(
      buildLinearOracle({
        inputShape: [60],
        weights: randomArray(60, 2),
        scale: 1,
        bias: 0,
        output: 'one-logit',
      }),
      { modelName: 'flat.onnx' },
    );
    opened.push(flat);
    expect(flat.layout).toBeUndefined();
    expect(() => flat.checkInputFits([5, 4, 3], 1)).toThrow(/flat\.onnx.*\[60\].*5×4×3/);
  });

  it('a file that is not ONNX', async () => {
    const path = join(dir, 'noise.onnx');
    writeFileSync(path, randomBytes(4096));
    const e = await rejection(loadOnnxClassifier(path));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toContain(`${path} is not a valid ONNX model (4096 bytes; `);
    expect(e.message).not.toMatch(/onnxruntime_src|Load model from/);
  });

  it('an empty file, and a truncated one: said so, without onnxruntime internals', async () => {
    const empty = join(dir, 'empty.onnx');
    writeFileSync(empty, new Uint8Array(0));
    const e = await rejection(loadOnnxClassifier(empty));
    expect(e.message).toBe(`${empty} is empty (0 bytes): not an ONNX model.`);
    const truncated = join(dir, 'truncated.onnx');
    const whole = buildLinearOracle({
      inputShape: [2, 3],
      weights: new Float32Array(6).fill(1),
      scale: 1,
      bias: 0,
      output: 'two-logits',
    });
    writeFileSync(truncated, whole.subarray(0, whole.length - 20));
    const t = await rejection(loadOnnxClassifier(truncated));
    expect(t.message).toMatch(
      /not a valid ONNX model \(\d+ bytes; a truncated or non-ONNX file\?\)/,
    );
    expect(t.message).not.toMatch(/onnxruntime_src/);
  });

  it('a volume model without a channel axis is fed; a grid that needs resampling says what to do', async () => {
    const noChannel = buildLinearOracle({
      inputShape: [6, 7, 5],
      weights: new Float32Array(210),
      scale: 1,
      bias: 0,
      output: 'two-logits',
    });
    const channelless = await loadOnnxClassifier(noChannel, {
      dataGrid: { dims: [6, 7, 5], channels: 1 },
    });
    opened.push(channelless);
    expect(channelless.feedShape).toEqual([6, 7, 5]);
    expect(channelless.inputShape).toEqual([1, 6, 7, 5]);
    expect(channelless.gridAxes?.gridDims).toEqual([6, 7, 5]);
    expect(channelless.record).toMatchObject({ inputShape: [6, 7, 5], layout: 'NDHW' });
    // A rank-3 sample with a channel-like end (1 or 3) that is not the volume's grid is an image.
    const image = await loadOnnxClassifier(
      buildLinearOracle({
        inputShape: [3, 4, 5],
        weights: new Float32Array(60),
        scale: 1,
        bias: 0,
        output: 'two-logits',
      }),
      { dataGrid: { dims: [6, 7, 5], channels: 1 } },
    );
    opened.push(image);
    expect(image.layout).toBe('NCHW');
    expect(() =>
      volumeAxes(image, { dims: [6, 7, 5], affine: IDENTITY, data: new Float32Array(210) }),
    ).toThrow(
      /the model takes images \(\[3, 4, 5\], NCHW\), not volumes: explain photos with glas3d image/,
    );
    const volume = await loadOnnxClassifier(volumeModel());
    opened.push(volume);
    expect(() => volume.checkInputFits([6, 5, 7], 1)).toThrow(
      /but the data is a volume of 6×5×7 voxels: glas3d explain takes a volume already on the model's grid; glas3d run resamples/,
    );
  });

  it('an intact model this onnxruntime cannot run says what it lacks, not "truncated"', async () => {
    const tiny = (op = 'Identity') => {
      const g = new GraphBuilder('tiny');
      g.node(op, [g.input('input', ['N', 2])], {}, ['output']);
      g.output('output', ['N', 2]);
      return g;
    };
    const cases: [Uint8Array, RegExp][] = [
      [
        tiny().toBytes(13, 99),
        /was saved with ONNX IR version 99; this onnxruntime .* reads up to \d+/,
      ],
      [tiny().toBytes(99), /uses ONNX opset 99; .* supports up to opset \d+: re-export it/],
      [
        tiny('FancyCustomOp').toBytes(),
        /uses operator FancyCustomOp \(opset 13\), which .* does not have/,
      ],
    ];
    for (const [bytes, message] of cases) {
      const e = await rejection(loadOnnxClassifier(bytes, { modelName: 'm.onnx' }));
      expect(e.message).toMatch(message);
      expect(e.message).not.toMatch(/truncated|onnxruntime_src/);
    }
  });

  it('a float16 output is read (decoded from half precision)', async () => {
    const g = new GraphBuilder('half');
    const x = g.input('input', ['N', 2]);
    g.node('Cast', [x], { to: 10 }, ['output']); // 10 = FLOAT16
    g.output('output', ['N', 2], 'float16');
    const clf = await loadOnnxClassifier(g.toBytes(), { activation: 'none' });
    opened.push(clf);
    // Halves of 0.25 and 0.75 are exact; 1/3 rounds to 0.333251953125 (11-bit significand).
    expect([...(await clf.predict(Float32Array.of(0.25, 0.75, 1 / 3, 2 / 3), 2))]).toEqual([
      0.25, 0.75, 0.333251953125, 0.66650390625,
    ]);
    // Its rounding is float16's: 8 units in the last place of an 11-bit significand.
    expect(clf.responseNoise).toBe(2 ** -7);
    const single = await loadOnnxClassifier(volumeModel());
    opened.push(single);
    expect(single.responseNoise).toBe(2 ** -20);
  });

  it('a missing file', async () => {
    const path = join(dir, 'absent.onnx');
    const e = await rejection(loadOnnxClassifier(path));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toContain(`cannot read model file ${path}`);
  });

  it('a model that outputs NaN names the sample', async () => {
    const clf = await loadOnnxClassifier(buildNanModel({ inputShape: [1, 5, 4, 6] }), {
      modelName: 'nan.onnx',
    });
    opened.push(clf);
    const batch = new Float32Array(3 * 120).fill(1);
    expect((await clf.predict(batch, 3)).every(Number.isFinite)).toBe(true);
    batch.fill(-1, 120, 240); // sample 1 sums to −120: sqrt gives NaN
    const e = await rejection(clf.predict(batch, 3));
    expect(e).toBeInstanceOf(ModelError);
    expect(e.message).toBe('model nan.onnx produced NaN for sample 1');
  });

  it("device 'cuda' without the CUDA provider gives the reinstall advice", async () => {
    const e = await rejection(loadOnnxClassifier(volumeModel(), { device: 'cuda' }));
    expect(e).toBeInstanceOf(ModelError);
    expect(e).toBeInstanceOf(Glas3dError);
    expect(e.message).toContain("device 'cuda' is not available");
    expect(e.message).toContain('--onnxruntime-node-install=cuda12');
    expect(e.message).toContain('CUDA 12 and cuDNN 9');
    expect(e.message).not.toMatch(/\n\s+at /);
  });

  it("device 'webgpu' without an adapter says so", async () => {
    // This machine has no GPU; where one works, the model simply loads.
    const clf = await loadOnnxClassifier(volumeModel(), { device: 'webgpu' }).catch(
      (e: Error) => e,
    );
    if (clf instanceof Error) {
      expect(clf).toBeInstanceOf(ModelError);
      expect(clf.message).toContain("device 'webgpu' is not available");
    } else {
      opened.push(clf);
      expect(clf.device).toBe('webgpu');
    }
  });

  it('a bad model on a non-CPU device is still reported as a bad model', async () => {
    const path = join(dir, 'noise2.onnx');
    writeFileSync(path, randomBytes(1024));
    const e = await rejection(loadOnnxClassifier(path, { device: 'cuda' }));
    expect(e.message).toContain(`${path} is not a valid ONNX model`);
  });
});
